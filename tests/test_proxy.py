"""An HTTP proxy (answers ``network``, or HTTPS_PROXY/HTTP_PROXY/NO_PROXY at install time)
reaches every hop: airbox's own calls, the kind node, the workload launcher (and, through
the Secret's keys, the job pods); its password stays in the Secret and 0600 files.

The launcher's side is rendered on the real airbyte-data-plane chart (as
tests/test_chart_contract.py does); the rest runs the real airbox executable.
"""

from __future__ import annotations

import base64
import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from airbox.config.settings import Settings, validate
from airbox.render import chartcheck, manifests
from airbox.render import proxy as proxies
from tests import answers_factory as af
from tests.fake_control_plane import FakeControlPlane, fake_cp
from tests.fake_proxy import FakeProxy, fake_proxy
from tests.fakes.fixture import docker_client
from tests.helpers import airbox_bin, airbox_env
from tests.installer import Installer, cp_env, installer, local_endpoint, registering
from tests.test_chart_contract import generated, pinned, render

# Fixtures: the real chart, the fake control plane, the loopback proxy, the installer.
__all__ = ["fake_cp", "fake_proxy", "installer", "local_endpoint", "pinned"]

USER = "svc-airbox"
PASSWORD = "pr0xy-pass-7f3e9a1c"
PROXY = f"http://{USER}:{PASSWORD}@proxy.corp.example:3128"
SHOWN = f"http://{USER}@proxy.corp.example:3128"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def with_proxy(tmp_path: Path, st: str = "default", **network: Any) -> dict[str, Any]:
    answers = af.answers("vault", st, directory=tmp_path)
    answers["network"] = {
        "httpsProxy": PROXY,
        "httpProxy": PROXY,
        "noProxy": ".corp.example,10.20.0.0/16",
        **network,
    }
    return answers


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = airbox_env(**env)
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"):
        if var not in env:
            full.pop(var, None)
    return subprocess.run(
        [airbox_bin(), *args], capture_output=True, text=True, env=full, cwd=cwd, timeout=60
    )


def pod_env(container: chartcheck.Container) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.spec.get("env") or []}


# ------------------------------------------------------------------ the launcher


@pytest.mark.parametrize("st", ["default", "s3-keys"])
def test_the_launcher_takes_the_proxy_from_the_secret(pinned: Any, tmp_path: Path, st: str) -> None:
    answers = with_proxy(tmp_path, st)
    assert validate(answers) == []
    settings = Settings.from_answers(answers)
    data, secret, values = generated(settings)
    docs = render(pinned, values, settings.release, settings.namespace)
    assert chartcheck.pod_problems(docs, secret) == []
    launcher = next(c for c in chartcheck.containers(docs) if c.workload.startswith("Deploy"))
    env = pod_env(launcher)
    # Each proxy variable is a secretKeyRef to a key of airbox's Secret, never a value.
    refs = {
        name: env[name]["valueFrom"]["secretKeyRef"]
        for name in (
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "NO_PROXY",
            "no_proxy",
            "JAVA_TOOL_OPTIONS",
        )
    }
    for name, ref in refs.items():
        assert "value" not in env[name], name
        assert ref == {"name": manifests.SECRET_NAME, "key": name.upper()}
    stored = secret["stringData"]
    assert set(proxies.PROXY_SECRET_KEYS) <= set(stored)
    assert stored["HTTPS_PROXY"] == stored["HTTP_PROXY"] == PROXY
    no_proxy = stored["NO_PROXY"].split(",")
    # What the user gave, then what must stay inside.
    assert no_proxy[:2] == [".corp.example", "10.20.0.0/16"]
    for inside in (
        "10.96.0.0/16",
        "10.244.0.0/16",
        "10.96.0.1",
        ".svc",
        ".cluster.local",
        "localhost",
        "127.0.0.1",
        "169.254.169.254",
        f"airbox-minio.{settings.namespace}",
        settings.node_container,
    ):
        assert inside in no_proxy, inside
    # The JVM's HTTP clients (OkHttp, through the default ProxySelector) read system
    # properties, not HTTPS_PROXY; no password there (it would not be used).
    opts = stored["JAVA_TOOL_OPTIONS"].split()
    assert opts[:4] == [
        "-Dhttps.proxyHost=proxy.corp.example",
        "-Dhttps.proxyPort=3128",
        "-Dhttp.proxyHost=proxy.corp.example",
        "-Dhttp.proxyPort=3128",
    ]
    hosts = opts[4].removeprefix("-Dhttp.nonProxyHosts=").split("|")
    for inside in (
        "*.svc",
        "*.cluster.local",
        "10.96.*",
        "10.244.*",
        "10.20.*",
        "*.corp.example",
        "localhost",
        "127.0.0.1",
        "169.254.169.254",
    ):
        assert inside in hosts, inside
    assert PASSWORD not in stored["JAVA_TOOL_OPTIONS"]
    assert data == stored
    # Nothing of the password in what Helm keeps or renders.
    assert PASSWORD not in yaml.safe_dump(values) + yaml.safe_dump_all(docs)


def test_without_a_proxy_nothing_is_added(pinned: Any, tmp_path: Path) -> None:
    settings = Settings.from_answers(af.answers("vault", "default", directory=tmp_path))
    assert settings.network is None
    assert proxies.proxy_env(settings) == {}
    _, secret, values = generated(settings)
    assert not set(proxies.PROXY_SECRET_KEYS) & set(secret["stringData"])
    docs = render(pinned, values, settings.release, settings.namespace)
    launcher = next(c for c in chartcheck.containers(docs) if c.workload.startswith("Deploy"))
    assert not {"HTTPS_PROXY", "JAVA_TOOL_OPTIONS"} & set(pod_env(launcher))


def test_proxy_env_is_the_full_environment_every_hop_gets(tmp_path: Path) -> None:
    settings = Settings.from_answers(with_proxy(tmp_path, httpProxy=None))
    env = proxies.proxy_env(settings)
    assert set(env) == {"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"}
    assert env["HTTPS_PROXY"] == env["https_proxy"] == PROXY
    assert env["NO_PROXY"] == env["no_proxy"] == ",".join(proxies.no_proxy(settings))
    # The Secret still has every key (a secretKeyRef to a missing key stops a pod).
    assert proxies.secret_data(settings)["HTTP_PROXY"] == ""


# ------------------------------------------------------------------ settings


def test_every_network_problem_at_once(tmp_path: Path) -> None:
    answers = af.answers("vault", "default", directory=tmp_path)
    answers["network"] = {
        "httpsProxy": "socks5://proxy:1080",
        "httpProxy": "http://p:99999",
        "noProxy": "ok.example,bad entry",
        "proxy": "x",
    }
    problems = {p.field: p.message for p in validate(answers)}
    assert set(problems) >= {
        "network.httpsProxy",
        "network.httpProxy",
        "network.noProxy",
        "network.proxy",
    }
    short = af.answers("vault", "default", directory=tmp_path)
    short["network"] = {"httpsProxy": "http://u:short@proxy:3128/path"}
    [problem] = [p for p in validate(short) if p.field.startswith("network")]
    assert "path" in problem.message and "short" not in problem.message
    short["network"] = {"httpsProxy": "http://u:short@proxy:3128"}
    [problem] = [p for p in validate(short) if p.field.startswith("network")]
    assert "shorter than" in problem.message and "short@" not in problem.message


def test_bad_network_answers_exit_2_naming_every_problem(tmp_path: Path) -> None:
    answers = af.answers("vault", "default", directory=tmp_path)
    answers["network"] = {
        "httpsProxy": "proxy.corp.example:3128",
        "httpProxy": "ftp://x",
        "noProxy": ["a b"],
    }
    path = af.write_answers(tmp_path / "answers.yaml", answers)
    result = run(
        "install", "--answers", str(path), "--dry-run", "--output-dir", "out", cwd=tmp_path
    )
    assert result.returncode == 2, result.stdout + result.stderr
    for field in ("network.httpsProxy", "network.httpProxy", "network.noProxy"):
        assert field in result.stderr
    assert not (tmp_path / "out").exists()


def _scan(root: Path, allowed: set[str]) -> list[str]:
    """Files under ``root`` holding the password that are not 0600 or not ``allowed``."""
    bad = []
    for file in root.rglob("*"):
        if not file.is_file():
            continue
        text = file.read_bytes().decode("utf-8", "replace")
        if PASSWORD in text or BASIC in text:
            mode = stat.S_IMODE(file.stat().st_mode)
            if file.name not in allowed or mode != 0o600:
                bad.append(f"{file} ({oct(mode)})")
    return bad


@pytest.mark.parametrize("form", ["answers", "environment"])
def test_the_proxy_is_saved_and_its_password_kept_in_0600_files(tmp_path: Path, form: str) -> None:
    answers = af.answers("vault", "default", directory=tmp_path)
    env: dict[str, str] = {}
    if form == "answers":
        answers["network"] = {"httpsProxy": "${PROXY_URL}", "noProxy": ".corp.example"}
        env["PROXY_URL"] = PROXY
    else:
        env.update(https_proxy=PROXY, NO_PROXY=".corp.example")
    path = af.write_answers(tmp_path / "answers.yaml", answers)
    home = tmp_path / "home"
    result = run(
        "install",
        "--answers",
        str(path),
        "--dry-run",
        "--output-dir",
        "out",
        cwd=tmp_path,
        AIRBOX_HOME=str(home),
        **env,
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert _scan(out, {"secrets.yaml"}) == []
    secret = yaml.safe_load((out / "secrets.yaml").read_text())["stringData"]
    assert secret["HTTPS_PROXY"] == PROXY
    assert secret["NO_PROXY"].startswith(".corp.example,")
    plan = (out / "plan.json").read_text()
    assert PASSWORD not in plan
    assert PASSWORD not in result.stdout + result.stderr
    if form == "environment":
        assert "https_proxy" in result.stderr  # "Settings from ... environment (...)"


def test_the_password_is_masked_and_split_from_the_settings(tmp_path: Path) -> None:
    from airbox.config.answers import register_secrets, split_secrets
    from airbox.redact import REDACTOR

    answers = with_proxy(tmp_path)
    public, secret = split_secrets(answers)
    # settings.yaml names the proxy (and its user); credentials.yaml (0600) has it whole.
    assert public["network"]["httpsProxy"] == public["network"]["httpProxy"] == SHOWN
    assert PASSWORD not in json.dumps(public)
    assert secret["network"] == {"httpsProxy": PROXY, "httpProxy": PROXY}
    register_secrets(answers)
    assert REDACTOR.mask(f"via {PROXY} now") == (
        f"via http://{USER}:********@proxy.corp.example:3128 now"
    )
    assert REDACTOR.mask(f"Proxy-Authorization: Basic {BASIC}") == (
        "Proxy-Authorization: Basic ********"
    )
    # A password with a reserved character, percent-encoded in the URL, in both forms.
    encoded = "http://u:p%40ss-word-1@proxy:3128"
    register_secrets({"network": {"httpsProxy": encoded}})
    assert REDACTOR.mask("p%40ss-word-1 p@ss-word-1") == "******** ********"


# ------------------------------------------------------------------ every hop, installed


def test_an_install_behind_a_proxy(
    installer: Installer, fake_cp: FakeControlPlane, fake_proxy: FakeProxy
) -> None:
    """airbox's calls to the control plane go through an authenticating proxy, kind
    creates the node with the proxy in its environment, and the password is nowhere but
    the Secret and 0600 files."""
    inst, cp, proxy = installer, fake_cp, fake_proxy
    proxy.credentials = (USER, PASSWORD)
    # 127.0.0.2 is loopback (plain http is accepted) but not in NO_PROXY: only the proxy,
    # which sends every request to the fake control plane, makes it answer.
    proxy.route = ("127.0.0.1", cp.port)
    remote = f"http://127.0.0.2:{cp.port}"
    url = proxy.url(user=USER, password=PASSWORD)
    data = registering(inst, cp)
    data["controlPlane"] = {"url": remote, "apiUrl": remote + "/v1"}
    data["network"] = {
        "httpProxy": "${CORP_PROXY}",
        "httpsProxy": "${CORP_PROXY}",
        "noProxy": ".corp.example",
    }
    answers = inst.write(data)
    result = inst.run(answers=answers, env=cp_env(inst, cp) | {"CORP_PROXY": url})
    assert result.returncode == 0, result.stdout + result.stderr
    # The control plane's calls came through the proxy, with its credentials.
    through = [s for s in proxy.seen if s.target.startswith(remote)]
    assert {s.target.removeprefix(remote) for s in through} >= {
        "/v1/applications/token",
        "/v1/dataplanes",
    }
    assert all(s.authorized for s in through)
    assert len(cp.calls("POST", "/v1/dataplanes")) == 1
    # kind was started with the proxy in its environment, and gave it to the node.
    [create] = [r for r in inst.fake.call_records("kind") if r["argv"][:2] == ["create", "cluster"]]
    assert {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "NO_PROXY"} <= set(create["env"])
    node_env = inst.fake.state()["clusters"][inst.cluster]["nodeEnv"]
    assert node_env["HTTPS_PROXY"] == node_env["http_proxy"] == url
    no_proxy = node_env["NO_PROXY"].split(",")
    for inside in (
        ".corp.example",
        "10.96.0.0/16",
        "10.244.0.0/16",
        ".svc",
        ".cluster.local",
        f"airbox-{inst.name}-control-plane",
        "127.0.0.1",
    ):
        assert inside in no_proxy, inside
    [node] = [
        c
        for c in inst.fake.node_containers(docker_client())
        if c.name == f"airbox-{inst.name}-control-plane"
    ]
    assert f"HTTPS_PROXY={url}" in node.attrs["Config"]["Env"]
    # The launcher's Secret holds the proxy; settings.yaml names it without the password.
    secret = yaml.safe_load((inst.state / "secrets.yaml").read_text())["stringData"]
    assert secret["HTTPS_PROXY"] == url
    saved = yaml.safe_load((inst.state / "settings.yaml").read_text())
    assert saved["network"]["httpsProxy"] == proxy.url(user=USER)
    assert _scan(inst.state, {"secrets.yaml", "credentials.yaml"}) == []
    assert PASSWORD not in result.stdout + result.stderr
    assert BASIC not in result.stdout + result.stderr
    for record in inst.fake.call_records():
        assert PASSWORD not in " ".join(record["argv"])
    # The launcher's JVM says which options it picked up: readable, the password masked.
    opts = secret["JAVA_TOOL_OPTIONS"]
    inst.fake.set_scenario(log_lines=[f"Picked up JAVA_TOOL_OPTIONS: {opts}", f"proxy is {url}"])
    logs = subprocess.run(
        [airbox_bin(), "logs", "--name", inst.name],
        capture_output=True,
        text=True,
        env=inst.env(),
        timeout=60,
    )
    assert logs.returncode == 0, logs.stderr
    assert f"Picked up JAVA_TOOL_OPTIONS: {opts}" in logs.stdout
    assert f"proxy is {proxy.url(user=USER, password='********')}" in logs.stdout
    assert PASSWORD not in logs.stdout + logs.stderr


def test_a_day_2_command_uses_the_saved_proxy(
    installer: Installer, fake_cp: FakeControlPlane, fake_proxy: FakeProxy
) -> None:
    """`airbox dataplanes` and `airbox status` from a shell with no proxy variable reach
    the control plane through the proxy the data plane was installed with."""
    inst, cp, proxy = installer, fake_cp, fake_proxy
    proxy.route = ("127.0.0.1", cp.port)
    remote = f"http://127.0.0.2:{cp.port}"
    data = registering(inst, cp)
    data["controlPlane"] = {"url": remote, "apiUrl": remote + "/v1"}
    answers = inst.write(data)
    # Installed with HTTP_PROXY in the environment (the other way to give it) ...
    result = inst.run(answers=answers, env=cp_env(inst, cp) | {"HTTP_PROXY": proxy.url()})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HTTP_PROXY" in result.stderr  # Settings from ... environment (HTTP_PROXY)
    before = len(proxy.seen)
    # ... then a day-2 command from a shell without it.
    env = cp_env(inst, cp)
    assert not {"HTTP_PROXY", "http_proxy"} & set(env)
    listed = subprocess.run(
        [airbox_bin(), "dataplanes", "--name", inst.name, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert {s.target.partition("?")[0] for s in proxy.seen[before:]} >= {f"{remote}/v1/dataplanes"}
    # `airbox status` asks the control plane about the data plane: through the proxy too.
    before = len(proxy.seen)
    status = subprocess.run(
        [airbox_bin(), "status", "--name", inst.name, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert status.returncode in (0, 1), status.stderr
    assert any(s.target.startswith(f"{remote}/v1/") for s in proxy.seen[before:]), status.stdout


# ------------------------------------------------------------------ preflight


def test_preflight_says_when_the_docker_daemon_has_no_proxy(tmp_path: Path) -> None:
    """The real daemon here has no proxy: with one in airbox's environment, preflight warns
    with the systemd drop-in, and never prints the password."""
    from airbox.cluster.dockerhost import DockerHost

    info = DockerHost.connect().info()
    if info.get("HttpsProxy") or info.get("HttpProxy"):
        pytest.skip("this Docker daemon has a proxy")
    result = run(
        "preflight",
        "--json",
        cwd=tmp_path,
        HTTPS_PROXY=PROXY,
        NO_PROXY="127.0.0.1,localhost",
        AIRBOX_HOME=str(tmp_path / "home"),
    )
    assert PASSWORD not in result.stdout + result.stderr
    [check] = [c for c in json.loads(result.stdout)["checks"] if c["id"] == "docker.proxy"]
    assert check["outcome"] == "warn", check
    assert "Docker daemon has no proxy" in check["finding"]
    assert "/etc/systemd/system/docker.service.d/http-proxy.conf" in check["fix"]
    assert (
        'Environment="HTTPS_PROXY=http://svc-airbox:PASSWORD@proxy.corp.example:3128" '
        '"HTTP_PROXY=http://svc-airbox:PASSWORD@proxy.corp.example:3128" '
        '"NO_PROXY=localhost,127.0.0.1"'
    ) in check["fix"]
    assert "sudo systemctl daemon-reload && sudo systemctl restart docker" in check["fix"]
    # Without a proxy there is nothing to say.
    plain = run("preflight", "--json", cwd=tmp_path, AIRBOX_HOME=str(tmp_path / "home"))
    [check] = [c for c in json.loads(plain.stdout)["checks"] if c["id"] == "docker.proxy"]
    assert check["outcome"] == "skip"


def test_preflight_passes_a_daemon_that_has_a_proxy() -> None:
    from airbox.ops.preflight import checks as ck
    from tests.test_preflight import FakeFacts, docker_with, probe

    facts = FakeFacts(docker_facts=docker_with(https_proxy="http://xxxxx:xxxxx@proxy:3128"))
    verdict = ck.check_docker_proxy(probe(facts, environ={"https_proxy": PROXY}))
    assert verdict.outcome == "pass"
    assert "http://xxxxx@proxy:3128" in verdict.finding
    assert ck.check_docker_proxy(probe(FakeFacts(), environ={})).outcome == "skip"


def test_tool_downloads_go_through_the_settings_proxy(
    tmp_path: Path, fake_proxy: FakeProxy, local_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answers' proxy reaches the download client (httpx reads the environment airbox
    sets from the settings); the host name resolves nowhere but in the proxy."""
    import os

    from airbox.cluster.toolchain import _http_fetch
    from airbox.installed import use_proxy

    monkeypatch.setattr(
        os,
        "environ",
        {
            k: v
            for k, v in os.environ.items()
            if k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY")
        },
    )
    fake_proxy.route = ("127.0.0.1", int(local_endpoint.rsplit(":", 1)[1]))
    answers = af.answers("vault", "default", directory=tmp_path)
    answers["network"] = {"httpProxy": fake_proxy.url(), "httpsProxy": fake_proxy.url()}
    use_proxy(Settings.from_answers(answers))
    assert _http_fetch("http://downloads.airbox.test/kind") == b"ok"
    assert fake_proxy.targets() == ["http://downloads.airbox.test/kind"]


def test_a_new_proxy_rolls_the_launcher(pinned: Any, tmp_path: Path) -> None:
    """Pods read the Secret when they start: a changed proxy changes the launcher's pod
    template (Helm rolls it), the same one leaves it alone."""

    def template(answers: dict[str, Any]) -> dict[str, Any]:
        settings = Settings.from_answers(answers)
        _, _, values = generated(settings)
        docs = render(pinned, values, settings.release, settings.namespace)
        deployment = next(d for d in docs if d["kind"] == "Deployment")
        return dict(deployment["spec"]["template"]["metadata"].get("annotations") or {})

    first = template(with_proxy(tmp_path))
    assert first == template(with_proxy(tmp_path))
    assert proxies.PROXY_ANNOTATION in first
    moved = template(with_proxy(tmp_path, httpsProxy=PROXY.replace("3128", "8080")))
    assert moved[proxies.PROXY_ANNOTATION] != first[proxies.PROXY_ANNOTATION]
    # A user's own annotations stay.
    answers = with_proxy(tmp_path)
    answers["values"] = {"workloadLauncher": {"podAnnotations": {"team": "data"}}}
    assert template(answers)["team"] == "data"
    assert proxies.PROXY_ANNOTATION not in template(
        af.answers("vault", "default", directory=tmp_path)
    )


def test_network_null_drops_a_saved_proxy(tmp_path: Path) -> None:
    from airbox.config.answers import schema_problems
    from airbox.config.gather import layer_over_saved

    saved = with_proxy(tmp_path)
    kept = layer_over_saved(saved, {"name": saved["name"]})
    assert Settings.from_answers(kept).network is not None  # left out: the saved one stays
    dropped = layer_over_saved(saved, {"name": saved["name"], "network": None})
    assert schema_problems(dropped) == [] and validate(dropped) == []
    assert Settings.from_answers(dropped).network is None
