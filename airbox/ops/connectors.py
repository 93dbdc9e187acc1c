"""The connector images in the kind node: what the data plane can run without a registry.

A sync pulls its connector's image when it starts; offline (installed from a bundle)
nothing can be pulled, so the connectors whose images are in the node are the only ones
that run. ``airbox status`` lists them (``describe``), and says how to add one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airbox.cluster.node import ImageStore
    from airbox.config.settings import Settings


def present(store: ImageStore) -> list[str]:
    """The connector images in the node, as a user names them (``airbyte/source-x:1.2``)."""
    found = {
        tag.removeprefix("docker.io/")
        for image in store.images
        if image.connector
        for tag in image.tags
    }
    return sorted(found)


def add_command(name: str) -> str:
    return (
        f"`airbox bundle create --connector IMAGE --output FILE` on a connected "
        f"machine, then `airbox bundle load FILE --name {name}`"
    )


def describe(settings: Settings, store: ImageStore) -> tuple[str, dict[str, Any]]:
    """What ``status``'s images check adds: its text (after the summary) and its JSON."""
    images = present(store)
    offline = settings.bundle is not None
    listed = ", ".join(images) if images else "none"
    text = f"; connector images: {listed}"
    if offline:
        text += (
            ". Installed from a bundle, with no registry: a connector whose image is "
            f"not listed cannot run here; add one with {add_command(settings.name)}"
        )
    return text, {"connectors": images, "offline": offline}
