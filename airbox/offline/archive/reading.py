"""Reading the archive: its manifest, and a streaming pass over every member that checks
each header, size, digest and padding, handing each member's bytes to a sink."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from airbox.errors import UsageError
from airbox.offline import manifest as mf
from airbox.offline.manifest import Item, Manifest, local_name

if TYPE_CHECKING:
    pass
from airbox.offline.archive.tarformat import (
    BLOCK,
    CHUNK,
    MAX_MANIFEST,
    ZERO_BLOCK,
    BadHeader,
    BundleDamaged,
    Meter,
    Progress,
    label,
    parse_header,
)


class _Reader:
    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle

    def read(self, count: int) -> bytes:
        return self.handle.read(count)

    def skip(self, count: int) -> None:
        self.handle.seek(count, os.SEEK_CUR)


def _open(bundle: Path) -> IO[bytes]:
    try:
        handle = open(bundle, "rb")  # noqa: SIM115 - closed by the caller's with
    except FileNotFoundError:
        raise UsageError(
            f"the bundle {bundle} does not exist",
            hint="give the path of a file made by `airbox bundle create`",
        ) from None
    except IsADirectoryError:
        raise UsageError(
            f"the bundle {bundle} is a directory",
            hint="give the path of a file made by `airbox bundle create`",
        ) from None
    except OSError as exc:
        raise UsageError(f"the bundle {bundle} cannot be read: {exc.strerror or exc}") from None
    return handle


def _read_manifest(reader: _Reader, bundle: Path) -> Manifest:
    block = reader.read(BLOCK)
    not_bundle = "it is not an airbox bundle (no manifest.json at its start)"
    try:
        info = parse_header(block, strict=False)
    except BadHeader:
        raise BundleDamaged(
            bundle, f"the tar header of {mf.NAME} is damaged, or {not_bundle}"
        ) from None
    if info is None:
        raise BundleDamaged(bundle, not_bundle)
    if info.name != mf.NAME or info.size > MAX_MANIFEST:
        raise BundleDamaged(bundle, f"its first member is {info.name!r}: {not_bundle}")
    try:
        parse_header(block)
    except BadHeader:
        raise BundleDamaged(bundle, f"the tar header of {mf.NAME} is damaged") from None
    raw = reader.read(info.size)
    if len(raw) != info.size:
        raise BundleDamaged(bundle, f"{mf.NAME} is cut short (the file ends inside it)")
    if reader.read(-info.size % BLOCK).strip(b"\0"):
        raise BundleDamaged(bundle, f"the bytes after {mf.NAME} are damaged")
    try:
        return mf.parse(raw)
    except mf.NewerFormat as exc:
        raise UsageError(
            f"the bundle {bundle} cannot be read by this airbox: its manifest says {exc}",
            hint="use the airbox version that made the bundle, or make one with this airbox",
        ) from None
    except mf.ManifestError as exc:
        raise BundleDamaged(bundle, f"{mf.NAME} is damaged: {exc}") from None


class Sink:
    """Where one member's bytes go; ``commit`` once its digest checked, ``discard`` if not."""

    def consume(self, chunks: Iterable[bytes]) -> None:
        for _ in chunks:
            pass

    def commit(self) -> None:
        pass

    def discard(self) -> None:
        pass


SKIP = Sink()  # not read at all (pass two only: pass one checked it)


def scan(
    bundle: Path,
    *,
    progress: Progress | None,
    verb: str,
    sink: Callable[[Item], Sink] | None = None,
) -> Manifest:
    """One streaming pass over the archive, checking every byte; each item's bytes go to
    ``sink(item)`` (default: only hashed)."""
    with _open(bundle) as handle:
        reader = _Reader(handle)
        manifest = _read_manifest(reader, bundle)
        meter = Meter(progress, verb, manifest.total_size)
        for item in manifest.items:
            _member(reader, bundle, item, meter, sink(item) if sink else Sink())
        _check_end(reader, bundle, manifest)
    return manifest


def _member(reader: _Reader, bundle: Path, item: Item, meter: Meter, sink: Sink) -> None:
    block = reader.read(BLOCK)
    if not block:
        raise BundleDamaged(
            bundle, f"{label(item)} is missing: the file ends before it (cut short)", item=item
        )
    try:
        info = parse_header(block)
    except BadHeader:
        raise BundleDamaged(
            bundle, f"the tar header of {label(item)} is damaged", item=item
        ) from None
    if info is None:
        raise BundleDamaged(
            bundle, f"{label(item)} is missing: the archive ends before it", item=item
        )
    if info.name != item.path:
        raise BundleDamaged(
            bundle,
            f"{label(item)} is missing: the archive holds {info.name!r} in its place",
            item=item,
        )
    if info.size != item.size:
        raise BundleDamaged(
            bundle,
            f"{label(item)} holds {info.size} bytes, its manifest says {item.size}",
            item=item,
        )
    meter.start(local_name(item.name) if item.is_image else item.path)
    if sink is SKIP:
        reader.skip(item.size + -item.size % BLOCK)
        meter.add(item.size)
        return
    digest = hashlib.sha256()

    def chunks() -> Iterator[bytes]:
        left = item.size
        while left:
            data = reader.read(min(CHUNK, left))
            if not data:
                raise BundleDamaged(
                    bundle, f"{label(item)} is cut short: the file ends inside it", item=item
                )
            digest.update(data)
            left -= len(data)
            meter.add(len(data))
            yield data

    stream = chunks()
    try:
        sink.consume(stream)
        for _ in stream:  # what the sink left unread
            pass
        if reader.read(-item.size % BLOCK).strip(b"\0"):
            raise BundleDamaged(bundle, f"the bytes after {label(item)} are damaged", item=item)
        if digest.hexdigest() != item.sha256:
            raise BundleDamaged(
                bundle, f"{label(item)} does not match its SHA-256 in the manifest", item=item
            )
    except BaseException:
        sink.discard()
        raise
    sink.commit()


def _check_end(reader: _Reader, bundle: Path, manifest: Manifest) -> None:
    """After the last item: two zero blocks or more, and nothing else."""
    last = label(manifest.items[-1]) if manifest.items else mf.NAME
    zeros = 0
    while True:
        block = reader.read(BLOCK)
        if not block:
            break
        if block == ZERO_BLOCK:
            zeros += 1
            continue
        try:
            info = parse_header(block)
        except BadHeader:
            info = None
        if info is not None:
            raise BundleDamaged(bundle, f"it holds {info.name!r}, which its manifest does not list")
        raise BundleDamaged(bundle, f"the end of the archive (after {last}) is damaged")
    if zeros < 2:
        raise BundleDamaged(
            bundle, f"the end of the archive (after {last}) is missing: the file was cut short"
        )


def read_manifest(path: Path) -> Manifest:
    """The bundle's manifest, checked against its own digest (the first member only:
    cheap; ``verify`` checks the rest)."""
    with _open(path) as handle:
        return _read_manifest(_Reader(handle), path)


def verify(path: Path, progress: Progress | None = None) -> Manifest:
    """Check every member against the manifest in one streaming pass: exactly the items
    it lists, in its order, each with its size and SHA-256. BundleDamaged names the
    first item that is not intact."""
    return scan(path, progress=progress, verb="checking")
