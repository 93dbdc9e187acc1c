"""`airbox logs` and `airbox support-bundle` after a real `airbox install` on the fakes."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import tarfile
from pathlib import Path

from tests import answers_factory as af
from tests.helpers import airbox_bin
from tests.installer import Installer
from tests.snapshots import Template, restore

FORBIDDEN = {"credentials.yaml", "secrets.yaml", "registration.json", "token.json", "kubeconfig"}
# Not a secret airbox knows, but shaped like one: masked by pattern.
UNKNOWN_PASSWORD = "hunter2-not-registered-77"
# In a URL: masked in a bundle (`airbox logs` shows the user's data as it is).
PROXY_PASSWORD = "proxy-pass-5150"


def airbox(
    inst: Installer, *args: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [airbox_bin(), *args],
        capture_output=True,
        text=True,
        env=inst.env(**env),
        timeout=120,
        cwd=cwd,
    )


def install(inst: Installer) -> None:
    result = inst.run(answers=inst.write())
    assert result.returncode == 0, result.stderr


def leaky_launcher(inst: Installer) -> None:
    """The launcher logs secrets, plainly and in base64, and an unknown password."""
    inst.fake.set_scenario(
        log_lines=[
            f"DATAPLANE_CLIENT_SECRET={af.SECRETS['dp_secret']}",
            "loaded s3 secret " + af.SECRETS["s3_secret"],
            "aws key " + base64.b64encode(af.SECRETS["sm_secret"].encode()).decode(),
            f"db password={UNKNOWN_PASSWORD}",
            f"using proxy http://bob:{PROXY_PASSWORD}@proxy.example:3128",
        ]
    )


def leaks(text: str, *also: str) -> list[str]:
    values = [*af.all_secret_values(), UNKNOWN_PASSWORD, *also]
    forms = values + [base64.b64encode(v.encode()).decode() for v in values]
    return [form for form in forms if form in text]


def test_logs(installer: Installer, installed_plain: Template) -> None:
    inst = installer
    restore(installed_plain, inst)
    leaky_launcher(inst)

    result = airbox(inst, "logs")
    assert result.returncode == 0, result.stderr
    assert "Starting workload launcher" in result.stdout
    assert "DATAPLANE_CLIENT_SECRET=********" in result.stdout
    assert leaks(result.stdout + result.stderr) == []
    call = [c for c in inst.fake.calls("kubectl") if "logs" in c][-1]
    assert f"deployment/{inst.name}-airbyte-data-plane" in call
    assert call[call.index("--container") + 1] == "airbyte-data-plane"

    tail = airbox(inst, "logs", "--tail", "2", "--since", "1h")
    assert tail.returncode == 0, tail.stderr
    assert len(tail.stdout.splitlines()) == 2

    # Follow streams the lines as they come (the fake's log ends; a real one waits).
    follow = airbox(inst, "logs", "-f")
    assert follow.returncode == 0, follow.stderr
    assert "Heartbeat sent to control plane" in follow.stdout
    assert leaks(follow.stdout) == []
    assert any("--follow" in c for c in inst.fake.calls("kubectl"))

    # Any pod by name.
    pods = json.loads(airbox(inst, "status", "--json").stdout)["pods"]
    pod = airbox(inst, "logs", pods[0]["name"])
    assert pod.returncode == 0, pod.stderr
    assert "Starting workload launcher" in pod.stdout
    missing = airbox(inst, "logs", "no-such-pod")
    assert missing.returncode == 5
    assert "no pod no-such-pod in namespace airbyte" in missing.stderr

    # A crashing launcher: its previous container's log says why.
    inst.fake.set_scenario(launcher="crashloop")
    previous = airbox(inst, "logs", "--previous")
    assert previous.returncode == 0, previous.stderr
    assert "Missing required configuration" in previous.stdout

    bad = airbox(inst, "logs", "--since", "ten minutes")
    assert bad.returncode == 2 and "not a duration" in bad.stderr


def _unpack(path: Path, into: Path) -> dict[str, str]:
    with tarfile.open(path, "r:gz") as archive:
        names = archive.getnames()
        archive.extractall(into, filter="data")
    assert names and len({n.split("/")[0] for n in names}) == 1  # one top directory
    top = into / names[0].split("/")[0]
    return {
        str(p.relative_to(top)): p.read_text(encoding="utf-8")
        for p in top.rglob("*")
        if p.is_file()
    }


def test_support_bundle_holds_no_secret(
    installer: Installer, installed_plain: Template, tmp_path: Path
) -> None:
    inst = installer
    restore(installed_plain, inst)
    leaky_launcher(inst)
    work = tmp_path / "cwd"
    work.mkdir()

    result = airbox(inst, "support-bundle", cwd=work)
    assert result.returncode == 0, result.stderr
    [bundle] = list(work.glob(f"airbox-support-{inst.name}-*.tar.gz"))
    assert result.stdout.strip() == str(bundle)
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    files = _unpack(bundle, tmp_path / "out")

    for expected in (
        "manifest.json",
        "status.json",
        "helm-values.json",
        "events.json",
        "events-warnings.txt",
        "pods-describe.txt",
        "docker-info.json",
        "state/settings.yaml",
        "state/values.yaml",
        "state/preflight.json",
    ):
        assert expected in files, sorted(files)
    assert "errors.txt" not in files
    assert any(name.startswith("pod-logs/") and name.endswith(".log") for name in files)
    assert any(name.startswith("kind-logs/") for name in files)
    assert any(name.startswith("airbox-logs/") for name in files)
    assert not {Path(name).name for name in files} & FORBIDDEN
    manifest = json.loads(files["manifest.json"])
    assert manifest["name"] == inst.name
    assert all(c["ok"] for c in manifest["collectors"]), manifest
    assert json.loads(files["status.json"])["verdict"] == "healthy", files["status.json"]
    # The secrets were really there to leak: the launcher's log held them.
    [pod_log] = [
        text
        for name, text in files.items()
        if name.startswith("pod-logs/") and not name.endswith(".previous.log")
    ]
    assert "DATAPLANE_CLIENT_SECRET=********" in pod_log
    assert "db password=********" in pod_log
    assert "http://bob:********@proxy.example:3128" in pod_log
    for name, text in files.items():
        assert leaks(name + text, PROXY_PASSWORD) == [], name

    # One collector failing still makes a bundle, which says what failed and why.
    inst.fake.add_fault(
        "kubectl", ["describe", "pods"], "fail", stderr="error: injected describe failure"
    )
    target = tmp_path / "second.tar.gz"
    failed = airbox(inst, "support-bundle", "--name", inst.name, "-o", str(target))
    assert failed.returncode == 0, failed.stderr
    assert "pods-describe: error: injected describe failure" in failed.stderr
    files = _unpack(target, tmp_path / "out2")
    assert "pods-describe.txt" not in files and "status.json" in files
    assert "pods-describe: error: injected describe failure" in files["errors.txt"]
    outcome = {c["id"]: c for c in json.loads(files["manifest.json"])["collectors"]}
    assert outcome["pods-describe"]["ok"] is False
    assert outcome["pod-logs"]["ok"] is True
    for name, text in files.items():
        assert leaks(name + text, PROXY_PASSWORD) == [], name


def test_a_data_plane_named_like_the_chart(installer: Installer) -> None:
    """With the chart's name in the release name, the chart names the Deployment after
    the release alone: install, logs and status must address that one."""
    inst = installer
    inst.name = "airbyte-data-plane-" + inst.name[1:]
    install(inst)
    deployments = inst.fake.objects(inst.cluster, "Deployment", "airbyte")
    assert [d["metadata"]["name"] for d in deployments] == [inst.name]
    rollout = [c for c in inst.fake.calls("kubectl") if "rollout" in c][-1]
    assert f"deployment/{inst.name}" in rollout

    result = airbox(inst, "logs")
    assert result.returncode == 0, result.stderr
    call = [c for c in inst.fake.calls("kubectl") if "logs" in c][-1]
    assert f"deployment/{inst.name}" in call

    status = airbox(inst, "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    assert json.loads(status.stdout)["verdict"] == "healthy"
