"""The state a finished `airbox install` leaves, made once and given to each test that is
about a later step (repair, upgrade, status...) under the test's own name.

A full install costs every such test a few seconds of fake tool calls. ``template``
runs the real install once (``templates``: once per kind of install, session and
worker) under a name of its own; ``restore`` copies what it left into a test's fresh
``Installer``:

- the fake cluster's state (``state.json``: objects, releases, clock; the calls, the
  scenario) and airbox's home (settings, progress, kubeconfig, logs, ...), with the
  template's name and directory replaced by the test's (both are unique tokens);
- each node container, created again under its new name from the template's own
  configuration (image, environment, labels, restart policy as the install left it),
  with the fake node tools' state (``/fake``) copied in.

The test's installer takes the template's control-plane endpoint (a stateless HTTP
server that lives as long as the template): the Helm values name it, so they stay byte
for byte what the install wrote, and so does everything the fakes derive from them.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fixture import docker_client, make_fake_k8s
from tests.installer import Installer, local_images, serve_ok


@dataclass(frozen=True)
class Template:
    """A finished install to copy (``installer`` ran it)."""

    installer: Installer


def _isolated_env(base: Path) -> dict[str, str]:
    """What ``conftest.isolated`` gives a test, for a run made outside any test."""
    home = base / "home"
    home.mkdir(exist_ok=True)
    return {
        "HOME": str(home),
        "AIRBOX_IMDS_URL": "http://127.0.0.1:9",
        "AIRBOX_DMI_DIR": str(base / "no-dmi"),
    }


@contextlib.contextmanager
def template(base: Path, node_image: str, answers: Any = None) -> Iterator[Template]:
    """Run ``airbox install`` once under ``base`` (answers: ``answers(installer)`` or the
    default ones) with Docker-backed kind nodes of ``node_image``; yield it, then remove
    its node containers."""
    from tests.conftest import _SCRUB

    local_images()
    with serve_ok() as endpoint:
        fake = make_fake_k8s(base)
        fake.use_docker(node_image)
        inst = Installer(fake, endpoint, base, base / "airbox-home")
        try:
            data = answers(inst) if answers is not None else inst.answers()
            env = inst.env(**_isolated_env(base))
            for var in _SCRUB:
                env.pop(var, None)
            result = inst.run(answers=inst.write(data), env=env)
            assert result.returncode == 0, result.stdout + result.stderr
            yield Template(inst)
        finally:
            fake.cleanup()


def _replacer(pairs: list[tuple[str, str]]) -> Any:
    pattern = re.compile("|".join(re.escape(old) for old, _ in pairs))
    table = dict(pairs)
    return lambda text: pattern.sub(lambda m: table[m.group(0)], text)


def _copy_tree(src: Path, dst: Path, sub: Any) -> None:
    """``src`` to ``dst``: names and text contents through ``sub``, modes kept."""
    for path in sorted(src.rglob("*")):
        target = dst / sub(str(path.relative_to(src)))
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(path.stat().st_mode & 0o7777)
            continue
        if path.name == "state.lock":
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes()
        with contextlib.suppress(UnicodeDecodeError):
            data = sub(data.decode()).encode()
        target.write_bytes(data)
        target.chmod(path.stat().st_mode & 0o7777)
    dst.chmod(src.stat().st_mode & 0o7777)


def _fake_dir(container: Any) -> bytes:
    bits, _ = container.get_archive("/fake")
    return b"".join(bits)


def restore(tmpl: Template, inst: Installer) -> None:
    """Make ``inst`` (fresh: nothing installed) the data plane ``tmpl`` installed, under
    ``inst``'s own name, directory, fake state and node containers."""
    src = tmpl.installer
    assert not inst.home.exists(), "restore into a fresh installer only"
    sub = _replacer([(str(src.tmp), str(inst.tmp)), (src.name, inst.name)])
    inst.endpoint = src.endpoint
    _copy_tree(src.fake.state_dir, inst.fake.state_dir, sub)
    _copy_tree(src.home, inst.home, sub)
    for path in src.tmp.iterdir():  # the answers and the credential files they name
        if path.is_file():
            (inst.tmp / path.name).write_text(sub(path.read_text()))
            (inst.tmp / path.name).chmod(path.stat().st_mode & 0o7777)

    client = docker_client()
    started: dict[str, list[str]] = {}
    for old in src.fake.node_containers(client):
        config, host = old.attrs["Config"], old.attrs["HostConfig"]
        labels = {key: sub(value) for key, value in (config.get("Labels") or {}).items()}
        name = sub(old.name)
        new = client.containers.run(
            config["Image"],
            config["Cmd"],
            name=name,
            hostname=name,
            environment=[sub(e) for e in config.get("Env") or []],
            detach=True,
            network_mode="none",
            restart_policy=host["RestartPolicy"],
            stop_signal=config.get("StopSignal"),
            labels=labels,
        )
        with contextlib.suppress(Exception):  # an image without the node tools has no /fake
            assert new.put_archive("/", _fake_dir(old))
        new.reload()
        if labels.get("io.x-k8s.kind.role") == "control-plane":
            cluster = labels["io.x-k8s.kind.cluster"]
            started.setdefault(cluster, []).append(str(new.attrs["State"]["StartedAt"]))

    def note_started(data: dict[str, Any]) -> None:
        # The fakes take a new StartedAt for a node restart (its API server comes up
        # again); these containers stand for the ones the install started.
        for cluster, stamps in started.items():
            data["clusters"][cluster]["node_started"] = ",".join(sorted(stamps))

    inst.fake._update_state(note_started)


class Templates:
    """The templates made so far in this session (and worker), by what they install:
    each is made on first use and removed at the end of the session."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._made: dict[str, Template] = {}
        self._stack = contextlib.ExitStack()

    def get(self, key: str, node_image: str, answers: Any = None) -> Template:
        """The template ``key`` (one kind of install: ``node_image`` and ``answers``,
        which the key must name)."""
        if key not in self._made:
            base = self._factory.mktemp("template")
            self._stack.callback(shutil.rmtree, base, ignore_errors=True)
            self._made[key] = self._stack.enter_context(template(base, node_image, answers))
        return self._made[key]

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    made = Templates(tmp_path_factory)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def installed(templates: Templates) -> Template:
    """The default answers installed on nodes of the fake node tools' image (the ``inst``
    fixture's), for a test about a later step to restore under its own name."""
    from tests.fakes import nodetools

    return templates.get(
        "node-tools, default answers", nodetools.ensure_tools_image(docker_client())
    )


@pytest.fixture
def installed_plain(templates: Templates) -> Template:
    """The default answers installed on nodes of the ``installer`` fixture's image."""
    return templates.get("plain node, default answers", local_images())
