"""The offline bundle's archive: create it on a connected machine, verify it, unpack it.

One plain POSIX tar (GNU headers), uncompressed: image layers are compressed already, and
gzip over a bundle of a few hundred megabytes would make every step CPU-bound. Members,
in order: ``manifest.json``, then each item the manifest lists, in its order. Every
member is written and read as a stream, never whole in memory, its SHA-256 computed on
the way.

Every byte of the file is accounted for when it is read: each tar header must be exactly
the header airbox writes for its item (name, size, mode, checksum field), each member's
bytes must have the manifest's size and digest, the padding after a member and the end
of the archive must be zeros, and the manifest carries its own digest. So a flipped byte
anywhere is found, and the error names the item it hit.

``create`` writes the manifest's room first and fills it in last: the manifest is the
first member, yet the digests it lists are known only once every member is written. A
member's size (a ``docker save`` stream) is known only at its end, so its header is
written after its bytes, in the place kept for it. The archive is written under a
temporary name and renamed once complete: an interrupted create leaves no
usable-looking file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from airbox import __version__, versions
from airbox.errors import AirboxError, DockerError, UsageError
from airbox.offline import manifest as mf
from airbox.offline.manifest import Item, Manifest, local_name

if TYPE_CHECKING:
    from airbox.cluster.dockerhost import DockerHost
    from airbox.cluster.runner import Runner
    from airbox.cluster.toolchain import Toolchain

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


@dataclass(frozen=True)
class Unpacked:
    manifest: Manifest
    chart: Path | None
    binaries: dict[str, Path]
    images: list[str]          # every image ref now in the daemon from the bundle
    # What this run did (a re-run after a complete one does nothing):
    loaded: list[str] = field(default_factory=list)
    placed: list[Path] = field(default_factory=list)


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


class _Meter:
    """Progress by item and bytes, at most every PROGRESS_EVERY seconds per item."""

    def __init__(self, progress: Progress | None, verb: str, total: int,
                 about: bool = False) -> None:
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
        of = f" of {'about ' if self.about else ''}{human_size(self.total)}" \
            if self.total else ""
        self.progress(f"{self.verb} {self.current}: {human_size(self.done)}{of}")


# ------------------------------------------------------------------------ tar headers


def _header(path: str, size: int, mtime: int) -> bytes:
    info = tarfile.TarInfo(path)
    info.size = size
    info.mtime = mtime
    info.mode = 0o755 if path.startswith("bin/") else 0o644
    info.type = tarfile.REGTYPE
    return info.tobuf(TAR_FORMAT, ENCODING, "surrogateescape")


class _BadHeader(Exception):
    pass


def _parse_header(block: bytes, *, strict: bool = True) -> tarfile.TarInfo | None:
    """The member a header block describes; None at the end of the archive (a zero
    block); _BadHeader unless it is exactly a header airbox writes (``strict``) or at
    least a valid tar header."""
    if block == ZERO_BLOCK:
        return None
    if len(block) != BLOCK:
        raise _BadHeader("cut short")
    try:
        info = tarfile.TarInfo.frombuf(block, ENCODING, "surrogateescape")
    except tarfile.HeaderError as exc:
        raise _BadHeader(str(exc)) from None
    # Rendering it again must give the same bytes: this also covers the checksum field's
    # last bytes, which the checksum itself does not.
    if strict and (info.type != tarfile.REGTYPE
                   or info.tobuf(TAR_FORMAT, ENCODING, "surrogateescape") != block):
        raise _BadHeader("not a header airbox writes")
    return info


# ------------------------------------------------------------------------ reading


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
        raise UsageError(f"the bundle {bundle} does not exist",
                         hint="give the path of a file made by `airbox bundle create`") from None
    except IsADirectoryError:
        raise UsageError(f"the bundle {bundle} is a directory",
                         hint="give the path of a file made by `airbox bundle create`") from None
    except OSError as exc:
        raise UsageError(f"the bundle {bundle} cannot be read: {exc.strerror or exc}") from None
    return handle


def _read_manifest(reader: _Reader, bundle: Path) -> Manifest:
    block = reader.read(BLOCK)
    not_bundle = "it is not an airbox bundle (no manifest.json at its start)"
    try:
        info = _parse_header(block, strict=False)
    except _BadHeader:
        raise BundleDamaged(bundle, f"the tar header of {mf.NAME} is damaged, or {not_bundle}"
                            ) from None
    if info is None:
        raise BundleDamaged(bundle, not_bundle)
    if info.name != mf.NAME or info.size > MAX_MANIFEST:
        raise BundleDamaged(bundle, f"its first member is {info.name!r}: {not_bundle}")
    try:
        _parse_header(block)
    except _BadHeader:
        raise BundleDamaged(bundle, f"the tar header of {mf.NAME} is damaged") from None
    raw = reader.read(info.size)
    if len(raw) != info.size:
        raise BundleDamaged(bundle, f"{mf.NAME} is cut short (the file ends inside it)")
    if reader.read(-info.size % BLOCK).strip(b"\0"):
        raise BundleDamaged(bundle, f"the bytes after {mf.NAME} are damaged")
    try:
        return mf.parse(raw)
    except mf.NewerFormat as exc:
        raise UsageError(f"the bundle {bundle} cannot be read by this airbox: its manifest "
                         f"says {exc}",
                         hint="use the airbox version that made the bundle, or make one "
                              "with this airbox") from None
    except mf.ManifestError as exc:
        raise BundleDamaged(bundle, f"{mf.NAME} is damaged: {exc}") from None


class _Sink:
    """Where one member's bytes go; ``commit`` once its digest checked, ``discard`` if not."""

    def consume(self, chunks: Iterable[bytes]) -> None:
        for _ in chunks:
            pass

    def commit(self) -> None:
        pass

    def discard(self) -> None:
        pass


SKIP = _Sink()  # not read at all (pass two only: pass one checked it)


def _scan(bundle: Path, *, progress: Progress | None, verb: str,
          sink: Callable[[Item], _Sink] | None = None) -> Manifest:
    """One streaming pass over the archive, checking every byte; each item's bytes go to
    ``sink(item)`` (default: only hashed)."""
    with _open(bundle) as handle:
        reader = _Reader(handle)
        manifest = _read_manifest(reader, bundle)
        meter = _Meter(progress, verb, manifest.total_size)
        for item in manifest.items:
            _member(reader, bundle, item, meter, sink(item) if sink else _Sink())
        _check_end(reader, bundle, manifest)
    return manifest


def _member(reader: _Reader, bundle: Path, item: Item, meter: _Meter, sink: _Sink) -> None:
    block = reader.read(BLOCK)
    if not block:
        raise BundleDamaged(bundle, f"{label(item)} is missing: the file ends before it "
                                    "(cut short)", item=item)
    try:
        info = _parse_header(block)
    except _BadHeader:
        raise BundleDamaged(bundle, f"the tar header of {label(item)} is damaged",
                            item=item) from None
    if info is None:
        raise BundleDamaged(bundle, f"{label(item)} is missing: the archive ends before it",
                            item=item)
    if info.name != item.path:
        raise BundleDamaged(bundle, f"{label(item)} is missing: the archive holds "
                                    f"{info.name!r} in its place", item=item)
    if info.size != item.size:
        raise BundleDamaged(bundle, f"{label(item)} holds {info.size} bytes, its manifest "
                                    f"says {item.size}", item=item)
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
                raise BundleDamaged(bundle, f"{label(item)} is cut short: the file ends "
                                            "inside it", item=item)
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
            raise BundleDamaged(bundle, f"the bytes after {label(item)} are damaged",
                                item=item)
        if digest.hexdigest() != item.sha256:
            raise BundleDamaged(bundle, f"{label(item)} does not match its SHA-256 in the "
                                        "manifest", item=item)
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
            info = _parse_header(block)
        except _BadHeader:
            info = None
        if info is not None:
            raise BundleDamaged(bundle, f"it holds {info.name!r}, which its manifest does "
                                        "not list")
        raise BundleDamaged(bundle, f"the end of the archive (after {last}) is damaged")
    if zeros < 2:
        raise BundleDamaged(bundle, f"the end of the archive (after {last}) is missing: "
                                    "the file was cut short")


def read_manifest(path: Path) -> Manifest:
    """The bundle's manifest, checked against its own digest (the first member only:
    cheap; ``verify`` checks the rest)."""
    with _open(path) as handle:
        return _read_manifest(_Reader(handle), path)


def verify(path: Path, progress: Progress | None = None) -> Manifest:
    """Check every member against the manifest in one streaming pass: exactly the items
    it lists, in its order, each with its size and SHA-256. BundleDamaged names the
    first item that is not intact."""
    return _scan(path, progress=progress, verb="checking")


# ------------------------------------------------------------------------ unpacking


class _FileSink(_Sink):
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
            fd, self.tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".part",
                                            dir=self.target.parent)
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
        return AirboxError(f"cannot write {self.target}: {exc.strerror or exc}",
                           hint="free some space, or check who owns the directory; then run "
                                "the command again")

    def commit(self) -> None:
        if self.tmp is not None:
            os.replace(self.tmp, self.target)
            self.tmp = None
            self.placed.append(self.target)

    def discard(self) -> None:
        if self.tmp is not None:
            Path(self.tmp).unlink(missing_ok=True)
            self.tmp = None


class _LoadSink(_Sink):
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


def unpack(path: Path, *, into: Path, docker: DockerHost | None,
           progress: Progress | None = None,
           kinds: tuple[str, ...] = ALL_KINDS) -> Unpacked:
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
    if "binary" in kinds and any(i.kind == "binary" for i in manifest.items) \
            and manifest.platform != here:
        raise UsageError(
            f"the bundle {path} was made for {manifest.platform}; this machine is {here}",
            hint=f"make the bundle on a {here} machine: `airbox bundle create` there")
    loaded: list[str] = []
    placed: list[Path] = []

    def sink(item: Item) -> _Sink:
        if item.kind not in kinds:
            return SKIP
        if item.kind == "binary":
            target = into / "bin" / item.name
            return SKIP if _same_file(target, item, 0o755) else \
                _FileSink(target, 0o755, placed)
        if item.kind == "chart":
            target = into / "charts" / Path(item.path).name
            return SKIP if _same_file(target, item, 0o644) else \
                _FileSink(target, 0o644, placed)
        if docker is None or docker.image_id(local_name(item.name)) == item.image_id:
            return SKIP
        return _LoadSink(docker, item, loaded)

    _scan(path, progress=progress, verb="unpacking", sink=sink)
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
                        hint="check `docker images`; run the command again")
                images.append(name)
    chart_item = next((i for i in manifest.items if i.kind == "chart"), None)
    chart = into / "charts" / Path(chart_item.path).name \
        if chart_item is not None and "chart" in kinds else None
    binaries = {i.name: into / "bin" / i.name for i in manifest.items
                if i.kind == "binary" and "binary" in kinds}
    return Unpacked(manifest, chart, binaries, images, loaded, placed)


# ------------------------------------------------------------------------ creating


def default_connectors() -> list[str]:
    """The connectors `airbox verify` runs, at the tags airbox pins."""
    return [f"{repository}:{tag}" for repository, tag in versions.VERIFY_CONNECTORS.items()]


def default_images(app_version: str, connectors: Sequence[str], *,
                   cgroup_v1: bool) -> list[tuple[str, str]]:
    """(kind, reference) of every image an install needs: the kind node, the data plane
    at the chart's appVersion (the chart's default values: a bundle serves installs with
    no registry), the local object store, and the connectors."""
    from airbox.config import chart

    found = [("node-image", versions.node_image(cgroup_v1=cgroup_v1))]
    found += [("image", ref) for ref in chart.images({}, app_version)]
    found.append(("image", versions.MINIO_IMAGE))
    found += [("connector", ref) for ref in connectors]
    seen: set[str] = set()
    unique = []
    for kind, ref in found:
        if ref not in seen:
            seen.add(ref)
            unique.append((kind, ref))
    return unique


def chart_meta(path: Path) -> tuple[str, str, str] | None:
    """(name, version, appVersion) of a chart archive; None if it is not one."""
    from airbox.config import chart

    if not path.is_file():
        return None
    meta = chart.read_meta(path)
    if meta is None or not meta.get("name") or not meta.get("version"):
        return None
    version = str(meta["version"])
    return str(meta["name"]), version, str(meta.get("appVersion") or version)


def _throttled(progress: Progress | None) -> Progress | None:
    """``progress`` at most every PROGRESS_EVERY seconds: a pull reports every layer's
    every step, and off a terminal each report is a line."""
    if progress is None:
        return None
    last = [float("-inf")]

    def report(message: str) -> None:
        if time.monotonic() - last[0] >= PROGRESS_EVERY:
            last[0] = time.monotonic()
            progress(message)

    return report


def _ensure_image(docker: DockerHost, ref: str, progress: Progress | None) -> None:
    """``ref`` present under its local name (pulled when absent; by digest, then tagged,
    when pinned)."""
    pinned = PINNED.get(ref) or (ref if "@" in ref else None)
    name = local_name(ref)
    say: Callable[[str], None] = progress or (lambda _message: None)
    progress = _throttled(progress)
    if pinned is None:
        if not docker.has_image(ref):
            say(f"pulling {ref}")
            docker.pull(ref, on_progress=progress)
        return
    if not docker.has_image(pinned):
        say(f"pulling {pinned}")
        docker.pull(pinned, on_progress=progress)
    if docker.image_id(name) != docker.image_id(pinned):
        docker.tag(pinned, name)


def _pull_chart(runner: Runner, version: str, directory: Path) -> Path:
    runner.run(["helm", "pull", versions.CHART_NAME, "--repo", versions.CHART_REPO,
                "--version", version, "--destination", str(directory)],
               error=f"fetching the chart {versions.CHART_NAME} {version} failed",
               hint="check this machine reaches the chart repository "
                    f"({versions.CHART_REPO}), or give the chart archive with --chart FILE")
    found = sorted(directory.glob("*.tgz"))
    if len(found) != 1:
        raise AirboxError(f"helm pull left {len(found)} chart archives in {directory}")
    return found[0]


@dataclass(frozen=True)
class _Planned:
    item: Item
    file: Path | None = None  # a chart or a binary; else the image item.name names

    def chunks(self, docker: DockerHost) -> Iterable[bytes]:
        if self.file is not None:
            return _file_chunks(self.file)
        return docker.save(local_name(self.item.name))


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        yield from iter(lambda: handle.read(CHUNK), b"")


def create(output: Path, *, docker: DockerHost, connectors: list[str],
           chart_version: str, progress: Progress | None = None,
           chart_file: Path | None = None, runner: Runner | None = None,
           tools: Toolchain | None = None,
           images: Sequence[tuple[str, str]] | None = None,
           cgroup_v1: bool | None = None) -> Manifest:
    """Write the bundle to ``output`` (0644, renamed into place once complete).

    ``chart_file``: a local chart archive instead of ``helm pull`` of ``chart_version``.
    ``images``: (kind, reference) instead of ``default_images`` (whose node image
    follows this host's cgroup version unless ``cgroup_v1`` says). Binaries: the pinned
    kind/helm/kubectl (``Toolchain.pinned``: ``AIRBOX_<TOOL>`` when set)."""
    from airbox.cluster.runner import Runner
    from airbox.cluster.toolchain import TOOLS, Toolchain

    output = output.absolute()
    tools = tools or Toolchain()
    runner = runner or Runner(tools)
    work = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".work", dir=output.parent))
    try:
        if chart_file is None:
            if progress:
                progress(f"fetching the chart {versions.CHART_NAME} {chart_version}")
            chart_file = _pull_chart(runner, chart_version, work)
        meta = chart_meta(chart_file)
        if meta is None:
            raise UsageError(f"{chart_file} is not a chart archive (no Chart.yaml with a "
                             "name and version)")
        chart_name, version, app_version = meta
        if images is None:
            if cgroup_v1 is None:
                cgroup_v1 = str(docker.info().get("CgroupVersion") or "2") == "1"
            images = default_images(app_version, connectors, cgroup_v1=cgroup_v1)
        for _, ref in images:
            _ensure_image(docker, ref, progress)
        binaries = {tool: Path(tools.pinned(tool)) for tool in TOOLS}

        planned: list[_Planned] = []
        taken: set[str] = set()
        for kind, ref in images:
            image_id = docker.image_id(local_name(ref))
            if image_id is None:
                raise DockerError(f"the image {local_name(ref)} is not in the Docker Engine")
            member = mf.member_path(kind, ref, taken)
            taken.add(member)
            planned.append(_Planned(Item(kind, ref, member, "", 0, image_id)))
        chart_path = mf.member_path("chart", f"{chart_name}-{version}.tgz")
        planned.append(_Planned(Item("chart", chart_name, chart_path, "", 0), chart_file))
        for tool, binary in binaries.items():
            planned.append(_Planned(Item("binary", tool, f"bin/{tool}", "", 0), binary))

        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        skeleton = Manifest(
            format=mf.FORMAT, airbox=__version__,
            created=now.isoformat().replace("+00:00", "Z"), platform=host_platform(),
            chart_name=chart_name, chart_version=version, app_version=app_version,
            kind_version=versions.KIND_VERSION,
            node_image=next((ref for kind, ref in images if kind == "node-image"), ""),
            items=tuple(p.item for p in planned),
        )
        needed = _check_space(output, docker, planned)
        return _write(output, skeleton, planned, int(now.timestamp()), progress, docker,
                      needed)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_space(output: Path, docker: DockerHost, planned: list[_Planned]) -> int:
    """The bundle's size, about; refused before writing when it cannot fit (an image's
    size in the daemon is about its ``docker save`` size)."""
    needed = sum(p.file.stat().st_size if p.file is not None
                 else docker.image_size(local_name(p.item.name)) for p in planned)
    free = shutil.disk_usage(output.parent).free
    if needed > free:
        raise AirboxError(
            f"the bundle needs about {human_size(needed)} and {output.parent} has "
            f"{human_size(free)} free",
            hint="free some space, or write the bundle elsewhere with --output")
    return needed


def _write(output: Path, skeleton: Manifest, planned: list[_Planned], mtime: int,
           progress: Progress | None, docker: DockerHost, needed: int) -> Manifest:
    room = mf.reserve(skeleton)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
    meter = _Meter(progress, "writing", needed, about=True)
    try:
        with os.fdopen(fd, "w+b") as out:
            out.write(bytes(BLOCK + room + -room % BLOCK))  # the manifest's place
            items = []
            for plan in planned:
                meter.start(local_name(plan.item.name) if plan.item.is_image
                            else plan.item.path)
                sha, size = _write_member(out, plan.item.path, plan.chunks(docker), mtime,
                                           meter)
                item = replace(plan.item, sha256=sha, size=size)
                if item.is_image and docker.image_id(local_name(item.name)) != item.image_id:
                    raise DockerError(f"the image {local_name(item.name)} changed while it "
                                      "was saved", hint="run the command again")
                items.append(item)
            out.write(ZERO_BLOCK * 2)
            final = replace(skeleton, items=tuple(items))
            raw = mf.render(final)
            out.seek(0)
            out.write(_header(mf.NAME, room, mtime))
            out.write(raw + b" " * (room - len(raw)))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, BUNDLE_MODE)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(output.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return final


def _write_member(out: IO[bytes], path: str, chunks: Iterable[bytes], mtime: int,
                  meter: _Meter) -> tuple[str, int]:
    """Stream one member; its header, known only at the end (the size), goes in the
    block kept for it."""
    start = out.tell()
    out.write(ZERO_BLOCK)
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        out.write(chunk)
        digest.update(chunk)
        size += len(chunk)
        meter.add(len(chunk))
    out.write(bytes(-size % BLOCK))
    end = out.tell()
    out.seek(start)
    out.write(_header(path, size, mtime))
    out.seek(end)
    return digest.hexdigest(), size
