"""The offline bundle's archive against the real Docker Engine (skipped without one):
create pulls (from a loopback registry) and saves real images, inspect and unpack check
every byte, unpack loads into the daemon and places the binaries.

Images are unique to each test (tiny ones built here with random layers, or the loopback
registry's under unique names) and removed afterwards; the binaries are the fake
kind/helm/kubectl the toolchain resolves (``AIRBOX_KIND``...).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airbox import versions
from airbox.cluster.dockerhost import DockerHost
from airbox.errors import UsageError
from airbox.offline import archive
from airbox.offline import manifest as mf
from airbox.offline.archive import BundleDamaged, unpacking, writing
from tests.fake_registry import FakeRegistry, fake_registry  # noqa: F401
from tests.fakes.fixture import FakeK8s, docker_client
from tests.helpers import airbox_bin, airbox_env

ROOT = Path(__file__).resolve().parent.parent
CHARTS = Path(
    os.environ.get("AIRBOX_TEST_CHARTS")
    or next(
        (
            p
            for p in (ROOT.parent / "shared" / "charts", ROOT.parent.parent / "shared" / "charts")
            if p.is_dir()
        ),
        ROOT.parent / "shared" / "charts",
    )
)
REAL_CHART = CHARTS / f"airbyte-data-plane-{versions.CHART_VERSION}.tgz"


def build_image(client: Any, ref: str, noise: int = 64 * 1024) -> str:
    """A tiny image made here (one layer: ``noise`` random bytes): unique content, so its
    ID is this test's alone."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        data = os.urandom(noise)
        info = tarfile.TarInfo("noise.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    repository, _, tag = ref.rpartition(":")
    client.api.import_image_from_data(layer.getvalue(), repository=repository, tag=tag)
    return str(client.images.get(ref).id)


@dataclass
class Images:
    """One test's images: (kind, reference) as create takes them."""

    refs: list[tuple[str, str]]
    registry: FakeRegistry

    @property
    def names(self) -> list[str]:
        return [mf.local_name(ref) for _, ref in self.refs]


@pytest.fixture
def docker() -> DockerHost:
    docker_client()  # skips the test when no daemon answers
    return DockerHost.connect()


def _remove(docker: DockerHost, refs: list[str]) -> None:
    import docker.errors as errors

    for ref in refs:
        with contextlib.suppress(errors.ImageNotFound, errors.NotFound):
            docker.client.images.remove(ref, noprune=False)


@pytest.fixture
def images(
    docker: DockerHost,
    fake_registry: FakeRegistry,  # noqa: F811
) -> Iterator[Images]:
    """A node image pinned by digest and a data plane image, both in the loopback
    registry (absent here: create pulls them), a local image, and a local connector."""
    unique = uuid.uuid4().hex[:8]
    digest = "sha256:" + hashlib.sha256(fake_registry.manifest).hexdigest()
    refs = [
        ("node-image", f"{fake_registry.host}/bundle-test/node-{unique}:v1.35.0@{digest}"),
        ("image", f"{fake_registry.host}/bundle-test/launcher-{unique}:1.8.1"),
        ("image", f"airbox-bundle-test/store-{unique}:r1"),
        ("connector", f"airbox-bundle-test/source-{unique}:6.2.21"),
    ]
    build_image(docker.client, refs[2][1])
    build_image(docker.client, refs[3][1])
    made = Images(refs, fake_registry)
    yield made
    _remove(docker, [*made.names, refs[0][1]])


def make(
    tmp_path: Path, docker: DockerHost, images: Images, name: str = "dp.airbox", **kwargs: Any
) -> tuple[Path, mf.Manifest]:
    (tmp_path / "out").mkdir(exist_ok=True)
    output = tmp_path / "out" / name
    kwargs.setdefault("chart_file", REAL_CHART if REAL_CHART.is_file() else None)
    made = archive.create(
        output, docker=docker, connectors=[], chart_version="1.8.1", images=images.refs, **kwargs
    )
    return output, made


def inspect(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [airbox_bin(), "bundle", "inspect", str(bundle), *args],
        capture_output=True,
        text=True,
        env=airbox_env(),
        timeout=120,
    )


def members(bundle: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(bundle) as tar:
        return tar.getmembers()


def flip(bundle: Path, offset: int, to: bytes | None = None) -> None:
    """Change the byte at ``offset`` (to ``to``, by default to another byte)."""
    with open(bundle, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(to if to is not None else bytes([byte[0] ^ 0x5A]))


# ------------------------------------------------------------------------ create


def test_create_then_inspect_checks_every_digest(
    tmp_path: Path, docker: DockerHost, images: Images, fake_k8s: FakeK8s
) -> None:
    assert not docker.has_image(images.refs[0][1])  # create pulls by digest
    seen: list[str] = []
    bundle, made = make(tmp_path, docker, images, progress=seen.append)

    # The members, in the manifest's order, after manifest.json; a plain tar any tool reads.
    listed = members(bundle)
    assert [m.name for m in listed] == ["manifest.json", *(i.path for i in made.items)]
    assert [i.kind for i in made.items] == [
        "node-image",
        "image",
        "image",
        "connector",
        "chart",
        "binary",
        "binary",
        "binary",
    ]
    assert [i.name for i in made.items][:4] == [ref for _, ref in images.refs]
    assert {i.name: i.path for i in made.items if i.kind == "binary"} == {
        "kind": "bin/kind",
        "helm": "bin/helm",
        "kubectl": "bin/kubectl",
    }
    with tarfile.open(bundle) as tar:
        for item in made.items:
            handle = tar.extractfile(item.path)
            assert handle is not None
            data = handle.read()
            assert (len(data), hashlib.sha256(data).hexdigest()) == (item.size, item.sha256)
        # Each image member is a `docker save` archive naming the image by its tag.
        handle = tar.extractfile(made.items[0].path)
        assert handle is not None
        with tarfile.open(fileobj=handle) as saved:
            saved_manifest = saved.extractfile("manifest.json")
            assert saved_manifest is not None
            assert json.load(saved_manifest)[0]["RepoTags"] == [images.names[0]]
    # The binaries are the ones the toolchain resolved (here: the fakes), byte for byte.
    assert (
        next(i for i in made.items if i.name == "kind").sha256
        == hashlib.sha256(fake_k8s.kind.read_bytes()).hexdigest()
    )
    # The image IDs, as the daemon has them.
    for item, name in zip(made.items, images.names, strict=False):
        assert item.image_id == docker.image_id(name)
    assert made.platform == archive.host_platform()
    assert made.kind_version == versions.KIND_VERSION
    assert made.node_image == images.refs[0][1]
    if REAL_CHART.is_file():
        assert (made.chart_name, made.chart_version, made.app_version) == (
            "airbyte-data-plane",
            "1.8.1",
            "1.8.1",
        )
        assert made.items[4].sha256 == hashlib.sha256(REAL_CHART.read_bytes()).hexdigest()
    # World-readable (it holds no secret), and nothing else left in the directory.
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o644
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dp.airbox"]
    # Progress named the items and counted bytes.
    assert any(
        line.startswith(f"writing {images.names[0]}: ") and " of about " in line for line in seen
    ), seen
    assert any(line.startswith("writing bin/kubectl:") for line in seen)

    assert archive.read_manifest(bundle) == made
    assert archive.verify(bundle) == made
    shown = inspect(bundle)
    assert shown.returncode == 0, shown.stderr
    assert "every item checks" in shown.stdout
    for item in made.items:
        assert item.sha256[:12] in shown.stdout
        assert item.name in shown.stdout
    as_json = inspect(bundle, "--json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["ok"] is True and data["error"] is None
    assert [i["sha256"] for i in data["manifest"]["items"]] == [i.sha256 for i in made.items]


def test_create_fetches_the_chart_with_helm_pull(
    tmp_path: Path, docker: DockerHost, images: Images, fake_k8s: FakeK8s
) -> None:
    bundle, made = make(tmp_path, docker, images, chart_file=None)
    pulls = fake_k8s.calls("helm")
    assert [c[:-1] for c in pulls] == [
        [
            "helm",
            "pull",
            "airbyte-data-plane",
            "--repo",
            versions.CHART_REPO,
            "--version",
            "1.8.1",
            "--destination",
        ]
    ]
    assert Path(pulls[0][-1]).parent == tmp_path / "out"
    chart = next(i for i in made.items if i.kind == "chart")
    assert chart.path == "charts/airbyte-data-plane-1.8.1.tgz"
    assert (made.chart_version, made.app_version) == ("1.8.1", "1.8.1")
    # helm pulled into a working directory beside the output, removed afterwards.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dp.airbox"]
    archive.verify(bundle)


def test_an_interrupted_create_leaves_no_file(
    tmp_path: Path,
    docker: DockerHost,
    images: Images,
    fake_k8s: FakeK8s,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_save = DockerHost.save

    def save_then_stop(self: DockerHost, ref: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        chunks = real_save(self, ref, chunk_size=4096)
        yield next(chunks)
        raise KeyboardInterrupt

    monkeypatch.setattr(DockerHost, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        make(tmp_path, docker, images)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []


# ------------------------------------------------------------------------ damage


@pytest.fixture
def made(
    tmp_path: Path, docker: DockerHost, images: Images, fake_k8s: FakeK8s
) -> tuple[Path, mf.Manifest]:
    return make(tmp_path, docker, images)


def _offsets(bundle: Path, made: mf.Manifest) -> dict[str, tuple[int, str]]:
    """Where to flip a byte -> (offset, the item the error must name)."""
    listed = {m.name: m for m in members(bundle)}
    image = listed[made.items[1].path]
    chart = listed[made.items[4].path]
    node = listed[made.items[0].path]
    helm = listed["bin/helm"]
    manifest = listed["manifest.json"]
    raw = bundle.read_bytes()[manifest.offset_data : manifest.offset_data + manifest.size]
    return {
        "inside an image": (image.offset_data + image.size // 2, made.items[1].path),
        "first byte of the node image": (node.offset_data, made.items[0].path),
        "inside the chart": (chart.offset_data + chart.size // 3, made.items[4].path),
        "last byte of a binary": (helm.offset_data + helm.size - 1, "bin/helm"),
        "a digest in manifest.json": (
            manifest.offset_data + raw.index(made.items[2].sha256.encode()) + 5,
            "manifest.json",
        ),
        "a name in manifest.json": (
            manifest.offset_data + raw.index(b'"name": "airbyte-data-plane"') + 10,
            "manifest.json",
        ),
        "manifest.json's filling": (manifest.offset_data + manifest.size - 1, "manifest.json"),
        # A tab for a space: still the same JSON, yet not the bytes airbox wrote.
        "manifest.json's indentation": (
            manifest.offset_data + raw.index(b"\n  ") + 1,
            "manifest.json",
        ),
        "the chart's tar header (its name)": (chart.offset + 3, made.items[4].path),
        "an image's tar header (its size)": (image.offset + 130, made.items[1].path),
        "manifest.json's tar header": (manifest.offset + 1, "manifest.json"),
        # The checksum's last byte: the checksum does not cover it.
        "a checksum field's last byte": (image.offset + 155, made.items[1].path),
        "the padding after a member": (chart.offset_data + chart.size + 1, made.items[4].path),
        "the end of the archive": (len(bundle.read_bytes()) - 3, "bin/kubectl"),
    }


FLIPS = [
    "inside an image",
    "first byte of the node image",
    "inside the chart",
    "last byte of a binary",
    "a digest in manifest.json",
    "a name in manifest.json",
    "manifest.json's filling",
    "manifest.json's indentation",
    "the chart's tar header (its name)",
    "an image's tar header (its size)",
    "manifest.json's tar header",
    "a checksum field's last byte",
    "the padding after a member",
    "the end of the archive",
]


def test_a_flipped_byte_anywhere_fails_inspect_and_unpack_before_any_change(
    tmp_path: Path, docker: DockerHost, images: Images, made: tuple[Path, mf.Manifest]
) -> None:
    bundle, manifest = made
    pristine = bundle.read_bytes()
    offsets = _offsets(bundle, manifest)
    assert sorted(offsets) == sorted(FLIPS)
    # Nothing of the bundle's images in the daemon: unpack would load them.
    _remove(docker, images.names)
    into = tmp_path / "into"
    for where in FLIPS:
        offset, named = offsets[where]
        bundle.write_bytes(pristine)
        flip(bundle, offset, b"\t" if where == "manifest.json's indentation" else None)
        shown = inspect(bundle)
        assert shown.returncode == 2, (where, shown.stdout, shown.stderr)
        assert "is damaged" in shown.stderr and named in shown.stderr, (where, shown.stderr)
        with pytest.raises(BundleDamaged) as info:
            archive.unpack(bundle, into=into, docker=docker)
        assert named in info.value.message, where
        assert info.value.exit_code == 2
        assert not into.exists(), where
        assert [n for n in images.names if docker.has_image(n)] == [], where
    bundle.write_bytes(pristine)
    assert inspect(bundle).returncode == 0


def test_a_cut_short_bundle_names_the_item_it_cuts(
    tmp_path: Path, made: tuple[Path, mf.Manifest]
) -> None:
    bundle, manifest = made
    listed = {m.name: m for m in members(bundle)}
    chart = listed[manifest.items[4].path]
    with open(bundle, "r+b") as handle:
        handle.truncate(chart.offset_data + 100)
    with pytest.raises(BundleDamaged) as info:
        archive.verify(bundle)
    assert info.value.message == (
        f"the bundle {bundle} is damaged: {manifest.items[4].path} (chart "
        "airbyte-data-plane) is cut short: the file ends inside it; nothing was changed"
    )


def test_a_bundle_cut_between_members_names_the_first_missing_item(
    tmp_path: Path, made: tuple[Path, mf.Manifest]
) -> None:
    bundle, manifest = made
    chart = {m.name: m for m in members(bundle)}[manifest.items[4].path]
    with open(bundle, "r+b") as handle:
        handle.truncate(chart.offset)
    shown = inspect(bundle)
    assert shown.returncode == 2
    assert (
        f"{manifest.items[4].path} (chart airbyte-data-plane) is missing: the file ends "
        "before it (cut short)"
    ) in shown.stderr


def test_unpack_where_it_cannot_write_says_so(
    tmp_path: Path, made: tuple[Path, mf.Manifest]
) -> None:
    from airbox.errors import AirboxError

    bundle, _ = made
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(AirboxError) as info:
        archive.unpack(bundle, into=blocker / "into", docker=None)
    target = blocker / "into" / "charts" / "airbyte-data-plane-1.8.1.tgz"
    assert info.value.message == f"cannot write {target}: Not a directory"


def test_an_extra_member_is_damage(tmp_path: Path, made: tuple[Path, mf.Manifest]) -> None:
    bundle, _ = made
    # Append a member in place of the end blocks, as `tar -r` would.
    raw = bundle.read_bytes().rstrip(b"\0")
    raw += bytes(-len(raw) % 512)
    extra = io.BytesIO()
    with tarfile.open(fileobj=extra, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("bin/evil")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    bundle.write_bytes(raw + extra.getvalue())
    shown = inspect(bundle)
    assert shown.returncode == 2
    assert "it holds 'bin/evil', which its manifest does not list" in shown.stderr


def test_not_a_bundle_is_bad_input(tmp_path: Path) -> None:
    other = tmp_path / "other.tar"
    with tarfile.open(other, "w") as tar:
        info = tarfile.TarInfo("hello.txt")
        tar.addfile(info, io.BytesIO(b""))
    shown = inspect(other)
    assert shown.returncode == 2
    assert "its first member is 'hello.txt': it is not an airbox bundle" in shown.stderr
    missing = inspect(tmp_path / "nope.airbox")
    assert missing.returncode == 2
    assert f"the bundle {tmp_path / 'nope.airbox'} does not exist" in missing.stderr


# ------------------------------------------------------------------------ unpack


def test_unpack_loads_the_images_and_places_the_binaries_then_does_nothing_again(
    tmp_path: Path, docker: DockerHost, images: Images, made: tuple[Path, mf.Manifest]
) -> None:
    bundle, manifest = made
    ids = {name: docker.image_id(name) for name in images.names}
    _remove(docker, images.names)
    assert not any(docker.has_image(name) for name in images.names)
    into = tmp_path / "into"
    seen: list[str] = []
    done = archive.unpack(bundle, into=into, docker=docker, progress=seen.append)

    assert sorted(done.loaded) == sorted(images.names)
    assert done.images == images.names
    assert {name: docker.image_id(name) for name in images.names} == ids
    assert done.binaries == {tool: into / "bin" / tool for tool in ("kind", "helm", "kubectl")}
    for tool, path in done.binaries.items():
        item = next(i for i in manifest.items if i.name == tool)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == item.sha256
        assert stat.S_IMODE(path.stat().st_mode) == 0o755
    chart = next(i for i in manifest.items if i.kind == "chart")
    assert done.chart == into / "charts" / Path(chart.path).name
    assert hashlib.sha256(done.chart.read_bytes()).hexdigest() == chart.sha256
    assert sorted(done.placed) == sorted([*done.binaries.values(), done.chart])
    # Nothing but the files (no temporary left behind).
    assert sorted(str(p.relative_to(into)) for p in into.rglob("*") if p.is_file()) == sorted(
        ["bin/kind", "bin/helm", "bin/kubectl", f"charts/{Path(chart.path).name}"]
    )
    assert any(line.startswith("checking ") for line in seen)
    assert any(line.startswith("unpacking ") for line in seen)

    again = archive.unpack(bundle, into=into, docker=docker)
    assert (again.loaded, again.placed) == ([], [])
    assert again.images == images.names


def test_unpack_finishes_what_an_interrupted_run_left(
    tmp_path: Path,
    docker: DockerHost,
    images: Images,
    made: tuple[Path, mf.Manifest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundle, _ = made
    _remove(docker, images.names)
    into = tmp_path / "into"
    real_load = DockerHost.load
    calls: list[int] = []

    def load_twice_then_stop(self: DockerHost, chunks: Any) -> list[str]:
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return real_load(self, chunks)

    monkeypatch.setattr(DockerHost, "load", load_twice_then_stop)
    with pytest.raises(KeyboardInterrupt):
        archive.unpack(bundle, into=into, docker=docker)
    assert [docker.has_image(n) for n in images.names] == [True, True, False, False]
    assert not (into / "bin").exists()
    monkeypatch.setattr(DockerHost, "load", real_load)
    done = archive.unpack(bundle, into=into, docker=docker)
    assert sorted(done.loaded) == sorted(images.names[2:])
    assert all(docker.has_image(n) for n in images.names)
    assert sorted(done.binaries) == ["helm", "kind", "kubectl"]


def test_unpack_only_the_kinds_asked_and_no_docker(
    tmp_path: Path, made: tuple[Path, mf.Manifest]
) -> None:
    bundle, _ = made
    into = tmp_path / "into"
    done = archive.unpack(bundle, into=into, docker=None, kinds=("binary",))
    assert sorted(done.binaries) == ["helm", "kind", "kubectl"]
    assert done.chart is None and done.images == [] and done.loaded == []
    assert not (into / "charts").exists()


def test_a_bundle_for_another_platform_places_no_binary(
    tmp_path: Path, made: tuple[Path, mf.Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle, manifest = made
    monkeypatch.setattr(unpacking, "host_platform", lambda: "darwin/arm64")
    with pytest.raises(UsageError) as info:
        archive.unpack(bundle, into=tmp_path / "into", docker=None)
    assert info.value.message == (
        f"the bundle {bundle} was made for {manifest.platform}; this machine is darwin/arm64"
    )
    assert not (tmp_path / "into").exists()


# ------------------------------------------------------------------------ the commands


def test_bundle_create_lists_every_bad_input_at_once_and_writes_nothing(tmp_path: Path) -> None:
    not_chart = tmp_path / "notes.tgz"
    not_chart.write_text("hello")
    argv = [
        airbox_bin(),
        "bundle",
        "create",
        "--output",
        str(tmp_path / "gone" / "x.bundle"),
        "--connector",
        "airbyte/source-postgres",
        "--connector",
        "Not An Image!",
        "--connector",
        "airbyte/destination-dev-null:0.7.21",
        "--chart",
        str(not_chart),
        "--chart-version",
        "latest",
    ]
    result = subprocess.run(argv, capture_output=True, text=True, env=airbox_env(), timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "✗ 5 problems; nothing was changed"
    assert lines[1:6] == [
        f"  --output: the directory {tmp_path / 'gone'} does not exist (fix: create it first "
        f"(mkdir -p {tmp_path / 'gone'}) or write elsewhere)",
        "  --connector: airbyte/source-postgres has no tag: name the version the data plane "
        "runs (e.g. airbyte/source-postgres:1.2.3)",
        "  --connector: Not An Image! is not an image reference (expected "
        "[registry/]name:tag, e.g. airbyte/source-postgres:3.6.28)",
        "  --chart-version: latest is not a version (fix: e.g. 1.8.1)",
        f"  --chart: {not_chart} is not a chart archive (no Chart.yaml with a name and a version)",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "notes.tgz"]


def test_bundle_create_and_inspect_through_the_commands(
    tmp_path: Path,
    docker: DockerHost,
    images: Images,
    fake_k8s: FakeK8s,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The command as a user runs it, in this process: its default images are replaced by
    this test's (the real ones would come from Docker Hub)."""
    from airbox.cli.errors import _dispatch
    from airbox.cli.main import cli

    wanted: list[tuple[str, list[str], bool]] = []

    def test_images(
        app_version: str, connectors: list[str], *, cgroup_v1: bool
    ) -> list[tuple[str, str]]:
        wanted.append((app_version, list(connectors), cgroup_v1))
        return images.refs

    monkeypatch.setattr(writing, "default_images", test_images)
    output = tmp_path / "dp.bundle"
    code = _dispatch(cli, ["bundle", "create", "--output", str(output)])
    shown = capsys.readouterr()
    assert code == 0, shown.err
    assert shown.out == f"{output}\n"
    # verify's connectors by default, for the chart's appVersion (helm pull of the pin).
    cgroup_v1 = str(docker.info().get("CgroupVersion") or "2") == "1"
    assert wanted == [
        ("1.8.1", ["airbyte/source-faker:6.2.21", "airbyte/destination-dev-null:0.7.21"], cgroup_v1)
    ]
    assert "Create the offline bundle" in shown.err
    assert "8 items" in shown.err and "It holds no secret" in shown.err

    code = _dispatch(cli, ["bundle", "inspect", str(output)])
    shown = capsys.readouterr()
    assert code == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[3].split() == ["KIND", "NAME", "SIZE", "SHA256"]
    made = archive.read_manifest(output)
    for line, item in zip(lines[4:12], made.items, strict=True):
        assert line.split()[:2] == [item.kind, item.name]
        assert line.split()[-1] == item.sha256[:12]
    assert lines[-1].startswith("every item checks: 8 items, ")


def test_inspect_json_of_a_damaged_bundle(tmp_path: Path, made: tuple[Path, mf.Manifest]) -> None:
    bundle, _ = made
    listed = {m.name: m for m in members(bundle)}
    flip(bundle, listed["bin/kind"].offset_data + 7)
    shown = inspect(bundle, "--json")
    assert shown.returncode == 2
    data = json.loads(shown.stdout)
    assert data["ok"] is False
    assert data["error"] == (
        f"the bundle {bundle} is damaged: bin/kind (binary kind) does "
        "not match its SHA-256 in the manifest; nothing was changed"
    )
    assert data["manifest"]["items"][5]["path"] == "bin/kind"


def test_a_refused_pull_or_a_full_disk_leaves_nothing(
    tmp_path: Path,
    docker: DockerHost,
    images: Images,
    fake_k8s: FakeK8s,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airbox.errors import AirboxError, DockerError

    images.registry.rate_limited = True
    with pytest.raises(DockerError) as refused:
        make(tmp_path, docker, images)
    assert refused.value.message.startswith(f"pulling {images.refs[0][1]} failed")
    assert sorted((tmp_path / "out").iterdir()) == []

    images.registry.rate_limited = False
    import shutil

    real = shutil.disk_usage

    def almost_full(path: Any) -> Any:
        return real(path)._replace(free=1000)

    monkeypatch.setattr(shutil, "disk_usage", almost_full)
    with pytest.raises(AirboxError) as full:
        make(tmp_path, docker, images)
    assert full.value.message.startswith("the bundle needs about ")
    assert full.value.message.endswith(f"and {tmp_path / 'out'} has 1.0 kB free")
    assert sorted((tmp_path / "out").iterdir()) == []


def test_the_fake_helm_pull_refuses_as_helm_does(tmp_path: Path, fake_k8s: FakeK8s) -> None:
    """helm pull (pkg/action/pull.go): an unknown version is not found in the repository;
    a missing destination directory fails the write."""
    unknown = fake_k8s.run(
        "helm",
        "pull",
        "airbyte-data-plane",
        "--repo",
        versions.CHART_REPO,
        "--version",
        "9.9.9",
        "--destination",
        str(tmp_path),
    )
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        f'Error: chart "airbyte-data-plane" version "9.9.9" not '
        f"found in {versions.CHART_REPO} repository"
    )
    gone = tmp_path / "gone"
    missing = fake_k8s.run(
        "helm",
        "pull",
        "airbyte-data-plane",
        "--repo",
        versions.CHART_REPO,
        "--version",
        "1.8.1",
        "--destination",
        str(gone),
    )
    assert missing.returncode == 1
    assert "no such file or directory" in missing.stderr
    bad_flag = fake_k8s.run("helm", "pull", "airbyte-data-plane", "--output", "x")
    assert bad_flag.returncode == 1
    assert "unknown flag: --output" in bad_flag.stderr
    done = fake_k8s.run(
        "helm",
        "pull",
        "airbyte-data-plane",
        "--repo",
        versions.CHART_REPO,
        "--version",
        "1.8.0",
        "-d",
        str(tmp_path),
    )
    assert (done.returncode, done.stdout) == (0, "")
    assert archive.chart_meta(tmp_path / "airbyte-data-plane-1.8.0.tgz") == (
        "airbyte-data-plane",
        "1.8.0",
        "1.8.0",
    )


def test_pull_progress_is_one_line_per_pull_and_interval(
    tmp_path: Path,
    docker: DockerHost,
    images: Images,
    fake_k8s: FakeK8s,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pull reports every layer's every step; off a terminal each report is a line. With
    an interval longer than the test, each pull shows its first report only."""
    monkeypatch.setattr(writing, "PROGRESS_EVERY", 10**9)
    seen: list[str] = []
    make(tmp_path, docker, images, progress=seen.append)
    for ref in (images.refs[0][1], images.refs[1][1]):
        assert len([line for line in seen if line.startswith(f"{ref}: ")]) == 1, seen
        assert f"pulling {ref}" in seen
