"""Unpacking the archive: verified first, then binaries and the chart placed atomically
and images loaded into the Docker Engine; a re-run finishes the job or does nothing."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from airbox.errors import AirboxError, DockerError, UsageError
from airbox.offline.manifest import Item, Manifest, local_name

if TYPE_CHECKING:
    from airbox.cluster.dockerhost import DockerHost
from airbox.offline.archive.reading import SKIP, Sink, scan, verify
from airbox.offline.archive.tarformat import ALL_KINDS, CHUNK, Progress, host_platform


@dataclass(frozen=True)
class Unpacked:
    manifest: Manifest
    chart: Path | None
    binaries: dict[str, Path]
    images: list[str]  # every image ref now in the daemon from the bundle
    # What this run did (a re-run after a complete one does nothing):
    loaded: list[str] = field(default_factory=list)
    placed: list[Path] = field(default_factory=list)


class _FileSink(Sink):
    """A file placed atomically: written under a temporary name, renamed once its digest
    checked."""

    def __init__(self, target: Path, mode: int, placed: list[Path]) -> None:
        self.target = target
        self.mode = mode
        self.placed = placed
        self.tmp: str | None = None

    def consume(self, chunks: Iterable[bytes]) -> None:
        from airbox.fsutil import make_private_dirs

        try:
            make_private_dirs(self.target.parent)
            fd, self.tmp = tempfile.mkstemp(
                prefix=f".{self.target.name}.", suffix=".part", dir=self.target.parent
            )
        except OSError as exc:
            raise self._cannot(exc) from None
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise self._cannot(exc) from None
            out.flush()
            os.fsync(out.fileno())
        os.chmod(self.tmp, self.mode)

    def _cannot(self, exc: OSError) -> AirboxError:
        return AirboxError(
            f"cannot write {self.target}: {exc.strerror or exc}",
            hint="free some space, or check who owns the directory; then run the command again",
        )

    def commit(self) -> None:
        if self.tmp is not None:
            os.replace(self.tmp, self.target)
            self.tmp = None
            self.placed.append(self.target)

    def discard(self) -> None:
        if self.tmp is not None:
            Path(self.tmp).unlink(missing_ok=True)
            self.tmp = None


class _LoadSink(Sink):
    def __init__(self, docker: DockerHost, item: Item, loaded: list[str]) -> None:
        self.docker = docker
        self.item = item
        self.loaded = loaded

    def consume(self, chunks: Iterable[bytes]) -> None:
        # The daemon takes the image as it streams: were the file changed since the first
        # pass checked it, its digest fails only after the load (BundleDamaged all the
        # same); the image loaded then has another ID, so a later run loads it again.
        self.docker.load(chunks)

    def commit(self) -> None:
        self.loaded.append(local_name(self.item.name))


def _same_file(path: Path, item: Item, mode: int) -> bool:
    """``path`` already holds the item's bytes, with its mode (a re-run skips it)."""
    try:
        stat = path.stat()
        if not path.is_file() or stat.st_size != item.size or stat.st_mode & 0o777 != mode:
            return False
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
    except OSError:
        return False
    return digest.hexdigest() == item.sha256


def unpack(
    path: Path,
    *,
    into: Path,
    docker: DockerHost | None,
    progress: Progress | None = None,
    kinds: tuple[str, ...] = ALL_KINDS,
) -> Unpacked:
    """Verify every digest (a full streaming pass), then a second pass: binaries to
    ``into/bin/<tool>`` (0755), the chart to ``into/charts/<file>``, images loaded into
    the daemon unless it has them already (same image ID). Files are placed atomically;
    a re-run after an interruption finishes the job, and after a complete run does
    nothing. ``docker=None``: no image is loaded (nor listed)."""
    unknown = sorted(set(kinds) - set(ALL_KINDS))
    if unknown:
        raise ValueError(f"unknown item kinds {unknown}")
    manifest = verify(path, progress)
    here = host_platform()
    if (
        "binary" in kinds
        and any(i.kind == "binary" for i in manifest.items)
        and manifest.platform != here
    ):
        raise UsageError(
            f"the bundle {path} was made for {manifest.platform}; this machine is {here}",
            hint=f"make the bundle on a {here} machine: `airbox bundle create` there",
        )
    loaded: list[str] = []
    placed: list[Path] = []

    def sink(item: Item) -> Sink:
        if item.kind not in kinds:
            return SKIP
        if item.kind == "binary":
            target = into / "bin" / item.name
            return SKIP if _same_file(target, item, 0o755) else _FileSink(target, 0o755, placed)
        if item.kind == "chart":
            target = into / "charts" / Path(item.path).name
            return SKIP if _same_file(target, item, 0o644) else _FileSink(target, 0o644, placed)
        if docker is None or docker.image_id(local_name(item.name)) == item.image_id:
            return SKIP
        return _LoadSink(docker, item, loaded)

    scan(path, progress=progress, verb="unpacking", sink=sink)
    images: list[str] = []
    if docker is not None:
        for item in manifest.items:
            if item.is_image and item.kind in kinds:
                name = local_name(item.name)
                found = docker.image_id(name)
                if found != item.image_id:
                    raise DockerError(
                        f"after loading the bundle, {name} is "
                        f"{'missing' if found is None else 'another image (' + found + ')'}"
                        f" in the Docker Engine, not {item.image_id}",
                        hint="check `docker images`; run the command again",
                    )
                images.append(name)
    chart_item = next((i for i in manifest.items if i.kind == "chart"), None)
    chart = (
        into / "charts" / Path(chart_item.path).name
        if chart_item is not None and "chart" in kinds
        else None
    )
    binaries = {
        i.name: into / "bin" / i.name
        for i in manifest.items
        if i.kind == "binary" and "binary" in kinds
    }
    return Unpacked(manifest, chart, binaries, images, loaded, placed)
