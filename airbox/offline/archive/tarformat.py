"""The archive's format: its constants, the tar headers airbox writes and accepts, the
error a damaged bundle is, and the progress meter every pass over it shares."""

from __future__ import annotations

import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from airbox import versions
from airbox.errors import UsageError
from airbox.offline import manifest as mf
from airbox.offline.manifest import Item

if TYPE_CHECKING:
    pass

Progress = Callable[[str], None]

BLOCK = 512
CHUNK = 1 << 20
ZERO_BLOCK = bytes(BLOCK)
TAR_FORMAT: Literal[1] = tarfile.GNU_FORMAT
ENCODING = "utf-8"
# A manifest lists a few dozen items: anything near this is not one airbox wrote.
MAX_MANIFEST = 16 << 20
# The bundle holds no secret (images, a chart, binaries; nothing from any settings):
# readable by all, like the images and binaries it carries.
BUNDLE_MODE = 0o644
ALL_KINDS = mf.KINDS
# Pulled by digest, then tagged with the name the pods use (as the install does).
PINNED = {versions.MINIO_IMAGE: versions.MINIO_IMAGE_PINNED}
# Seconds between two progress reports of the same item.
PROGRESS_EVERY = 0.5


class BundleDamaged(UsageError):
    """The archive is not intact (exit 2); the message names the item. Raised before
    anything is changed on the machine."""

    def __init__(self, bundle: Path, what: str, *, item: Item | None = None) -> None:
        super().__init__(
            f"the bundle {bundle} is damaged: {what}; nothing was changed",
            hint="copy the file again (compare `sha256sum` of it on both machines), or "
            "make a new one with `airbox bundle create` on a connected machine",
        )
        self.item = item


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def label(item: Item) -> str:
    what = {"node-image": "node image", "binary": "binary"}.get(item.kind, item.kind)
    return f"{item.path} ({what} {item.name})"


def host_platform() -> str:
    from airbox.cluster.toolchain import platform_key

    return "/".join(platform_key())


class Meter:
    """Progress by item and bytes, at most every PROGRESS_EVERY seconds per item."""

    def __init__(
        self, progress: Progress | None, verb: str, total: int, about: bool = False
    ) -> None:
        self.progress = progress
        self.verb = verb
        self.total = total
        self.about = about
        self.done = 0
        self.last = 0.0
        self.current = ""

    def start(self, what: str) -> None:
        self.current = what
        self._emit()

    def add(self, count: int) -> None:
        self.done += count
        if self.progress is not None and time.monotonic() - self.last >= PROGRESS_EVERY:
            self._emit()

    def _emit(self) -> None:
        if self.progress is None:
            return
        self.last = time.monotonic()
        of = f" of {'about ' if self.about else ''}{human_size(self.total)}" if self.total else ""
        self.progress(f"{self.verb} {self.current}: {human_size(self.done)}{of}")


# ------------------------------------------------------------------------ tar headers


def tar_header(path: str, size: int, mtime: int) -> bytes:
    info = tarfile.TarInfo(path)
    info.size = size
    info.mtime = mtime
    info.mode = 0o755 if path.startswith("bin/") else 0o644
    info.type = tarfile.REGTYPE
    return info.tobuf(TAR_FORMAT, ENCODING, "surrogateescape")


class BadHeader(Exception):
    pass


def parse_header(block: bytes, *, strict: bool = True) -> tarfile.TarInfo | None:
    """The member a header block describes; None at the end of the archive (a zero
    block); BadHeader unless it is exactly a header airbox writes (``strict``) or at
    least a valid tar header."""
    if block == ZERO_BLOCK:
        return None
    if len(block) != BLOCK:
        raise BadHeader("cut short")
    try:
        info = tarfile.TarInfo.frombuf(block, ENCODING, "surrogateescape")
    except tarfile.HeaderError as exc:
        raise BadHeader(str(exc)) from None
    # Rendering it again must give the same bytes: this also covers the checksum field's
    # last bytes, which the checksum itself does not.
    if strict and (
        info.type != tarfile.REGTYPE or info.tobuf(TAR_FORMAT, ENCODING, "surrogateescape") != block
    ):
        raise BadHeader("not a header airbox writes")
    return info
