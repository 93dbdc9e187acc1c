"""Creating the archive on a connected machine: the images, chart and binaries it holds,
pulled or saved, streamed into a tar under a temporary name and renamed once complete."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

from airbox import __version__, versions
from airbox.errors import AirboxError, DockerError, UsageError
from airbox.offline import manifest as mf
from airbox.offline.manifest import Item, Manifest, local_name

if TYPE_CHECKING:
    from airbox.cluster.dockerhost import DockerHost
    from airbox.cluster.runner import Runner
    from airbox.cluster.toolchain import Toolchain
from airbox.offline.archive.tarformat import (
    BLOCK,
    BUNDLE_MODE,
    CHUNK,
    PINNED,
    PROGRESS_EVERY,
    ZERO_BLOCK,
    Meter,
    Progress,
    host_platform,
    human_size,
    tar_header,
)


def default_connectors() -> list[str]:
    """The connectors `airbox verify` runs, at the tags airbox pins."""
    return [f"{repository}:{tag}" for repository, tag in versions.VERIFY_CONNECTORS.items()]


def default_images(
    app_version: str, connectors: Sequence[str], *, cgroup_v1: bool
) -> list[tuple[str, str]]:
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
    runner.run(
        [
            "helm",
            "pull",
            versions.CHART_NAME,
            "--repo",
            versions.CHART_REPO,
            "--version",
            version,
            "--destination",
            str(directory),
        ],
        error=f"fetching the chart {versions.CHART_NAME} {version} failed",
        hint="check this machine reaches the chart repository "
        f"({versions.CHART_REPO}), or give the chart archive with --chart FILE",
    )
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


def create(
    output: Path,
    *,
    docker: DockerHost,
    connectors: list[str],
    chart_version: str,
    progress: Progress | None = None,
    chart_file: Path | None = None,
    runner: Runner | None = None,
    tools: Toolchain | None = None,
    images: Sequence[tuple[str, str]] | None = None,
    cgroup_v1: bool | None = None,
) -> Manifest:
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
            raise UsageError(
                f"{chart_file} is not a chart archive (no Chart.yaml with a name and version)"
            )
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
            format=mf.FORMAT,
            airbox=__version__,
            created=now.isoformat().replace("+00:00", "Z"),
            platform=host_platform(),
            chart_name=chart_name,
            chart_version=version,
            app_version=app_version,
            kind_version=versions.KIND_VERSION,
            node_image=next((ref for kind, ref in images if kind == "node-image"), ""),
            items=tuple(p.item for p in planned),
        )
        needed = _check_space(output, docker, planned)
        return _write(output, skeleton, planned, int(now.timestamp()), progress, docker, needed)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_space(output: Path, docker: DockerHost, planned: list[_Planned]) -> int:
    """The bundle's size, about; refused before writing when it cannot fit (an image's
    size in the daemon is about its ``docker save`` size)."""
    needed = sum(
        p.file.stat().st_size if p.file is not None else docker.image_size(local_name(p.item.name))
        for p in planned
    )
    free = shutil.disk_usage(output.parent).free
    if needed > free:
        raise AirboxError(
            f"the bundle needs about {human_size(needed)} and {output.parent} has "
            f"{human_size(free)} free",
            hint="free some space, or write the bundle elsewhere with --output",
        )
    return needed


def _write(
    output: Path,
    skeleton: Manifest,
    planned: list[_Planned],
    mtime: int,
    progress: Progress | None,
    docker: DockerHost,
    needed: int,
) -> Manifest:
    room = mf.reserve(skeleton)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
    meter = Meter(progress, "writing", needed, about=True)
    try:
        with os.fdopen(fd, "w+b") as out:
            out.write(bytes(BLOCK + room + -room % BLOCK))  # the manifest's place
            items = []
            for plan in planned:
                meter.start(local_name(plan.item.name) if plan.item.is_image else plan.item.path)
                sha, size = _write_member(out, plan.item.path, plan.chunks(docker), mtime, meter)
                item = replace(plan.item, sha256=sha, size=size)
                if item.is_image and docker.image_id(local_name(item.name)) != item.image_id:
                    raise DockerError(
                        f"the image {local_name(item.name)} changed while it was saved",
                        hint="run the command again",
                    )
                items.append(item)
            out.write(ZERO_BLOCK * 2)
            final = replace(skeleton, items=tuple(items))
            raw = mf.render(final)
            out.seek(0)
            out.write(tar_header(mf.NAME, room, mtime))
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


def _write_member(
    out: IO[bytes], path: str, chunks: Iterable[bytes], mtime: int, meter: Meter
) -> tuple[str, int]:
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
    out.write(tar_header(path, size, mtime))
    out.seek(end)
    return digest.hexdigest(), size
