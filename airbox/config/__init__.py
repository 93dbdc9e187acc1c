"""Settings: the model and its validation, answers files, gathering and prompts."""
