"""What each command does, over the layers below; the click commands in ``cli`` are thin."""
