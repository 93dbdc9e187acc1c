"""`airbox repair` and `airbox upgrade` stopped half-way: the same command, run again, finishes.

Real node containers (``--network none``) with the fake node tools inside, the fake
kind/helm/kubectl outside; every run is the real ``airbox`` executable in a session of
its own, stopped with SIGTERM at an event (a fake tool's call logged, a Docker request
held by ``tests/fakes/dockergate.py``), never after a fixed sleep.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

from tests.fakes import nodetools
from tests.helpers import airbox_bin, default_signals
from tests.installer import Installer
from tests.test_year import airbox, checks, inst, install, node, status_json  # noqa: F401

WAIT = 120.0


def start(installer: Installer, *args: str, env: dict[str, str] | None = None,
          ) -> subprocess.Popen[str]:
    """``airbox ARGS`` in a session of its own (a signal to it reaches it alone)."""
    return subprocess.Popen([airbox_bin(), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                            env=env or installer.env(), start_new_session=True,
                            preexec_fn=default_signals)


def finish(proc: subprocess.Popen[str], timeout: float = WAIT) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def until(what: str, ready: Callable[[], Any], proc: subprocess.Popen[str] | None = None,
          timeout: float = WAIT) -> Any:
    """Poll ``ready`` until it returns something true (the event), failing if ``proc``
    ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ready()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"airbox ended before {what}: {proc.returncode}\n{out}\n{err}")
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, as `systemctl stop` or `kill` sends it: exit 143 and the resume hint."""
    proc.send_signal(signal.SIGTERM)
    out, err = finish(proc)
    assert proc.returncode == 143, out + err
    assert "Stopped by SIGTERM" in err and "run the same command again" in err, err
    return out + err


def started_at(installer: Installer) -> str:
    container = node(installer)
    return str(container.attrs["State"]["StartedAt"])


def node_expiry(container: Any) -> int:
    code, out = container.exec_run(["cat", "/fake/certs-expire"])
    assert code == 0, out
    return int(out.strip())


def kubeconfig_client_cert(installer: Installer) -> str:
    import yaml

    config = yaml.safe_load((installer.state / "kubeconfig").read_text())
    [user] = [u for u in config["users"] if u["name"] == f"kind-{installer.cluster}"]
    return base64.b64decode(user["user"]["client-certificate-data"]).decode()


def progress(installer: Installer) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((installer.state / "progress.json").read_text())
    return data


def assert_renewal_complete(installer: Installer, before_started: str) -> None:
    """The renewed certificates are in use: the node started after the renewal, the
    kubeconfig carries the renewed client certificate, nothing is left recorded."""
    container = node(installer)
    assert started_at(installer) != before_started, "the node was never restarted"
    expiry = node_expiry(container)
    assert expiry > time.time() + 360 * 86400
    assert f"not after {expiry}" in kubeconfig_client_cert(installer)
    assert (installer.state / "kubeconfig").stat().st_mode & 0o777 == 0o600
    assert not progress(installer).get("repair", {}).get("renewal")
    code, report = status_json(installer)
    assert code == 0, report["reason"]
    assert "valid for 364 more days" in checks(report)["certificates"]["summary"]
    again = airbox(installer, "repair")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"Nothing to repair on data plane {installer.name}." in again.stdout


# ---------------------------------------------------------------------------- F1: repair


def test_repair_stopped_during_the_renewal_is_finished_by_the_next_repair(
    inst: Installer,  # noqa: F811
) -> None:
    """F1: SIGTERM while `kubeadm certs renew all` runs. Docker runs the exec to its end,
    so the certificates on disk are then valid for a year; the next repair still restarts
    the node and exports the kubeconfig, from the renewal it recorded."""
    install(inst)
    container = node(inst)
    nodetools.seed(container, expires_in_days=10)
    before_started = started_at(inst)
    before_cert = kubeconfig_client_cert(inst)
    nodetools.hold_renew(container, True)
    proc = start(inst, "repair")
    until("kubeadm certs renew all", lambda: "kubeadm certs renew all"
          in nodetools.calls(container), proc)
    stop(proc)
    nodetools.hold_renew(container, False)
    until("the renewal to finish in the node", lambda: node_expiry(container)
          > time.time() + 360 * 86400)
    assert started_at(inst) == before_started
    assert kubeconfig_client_cert(inst) == before_cert

    result = airbox(inst, "repair")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "  - finished the certificate renewal an earlier repair started" in out
    assert (f"  - restarted the node {inst.cluster}-control-plane so the control plane uses "
            "the renewed certificates") in out
    assert f"  - exported the kubeconfig again ({inst.state / 'kubeconfig'})" in out
    assert f"✓ healthy: data plane {inst.name} is running and ready" in out
    assert nodetools.calls(node(inst)).count("kubeadm certs renew all") == 1
    assert_renewal_complete(inst, before_started)


def test_repair_failing_after_the_renewal_is_finished_by_the_next_repair(
    inst: Installer,  # noqa: F811
) -> None:
    """F1: not only a signal: `kind export kubeconfig` failing after the renewal and the
    restart leaves the export due, and the next repair does it."""
    install(inst)
    container = node(inst)
    nodetools.seed(container, expires_in_days=10)
    before_started = started_at(inst)
    inst.fake.add_fault("kind", ["export", "kubeconfig"], "fail", times=1,
                        stderr="ERROR: failed to get cluster internal kubeconfig: injected")
    failed = airbox(inst, "repair")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Stopped: exporting the kind kubeconfig failed" in failed.stdout
    assert progress(inst)["repair"]["renewal"]["first"]

    result = airbox(inst, "repair")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  - finished the certificate renewal an earlier repair started" in result.stdout
    assert "  - exported the kubeconfig again" in result.stdout
    # Restarted by the first run already (after the renewal): not a second time.
    assert "restarted the node" not in result.stdout
    assert nodetools.calls(node(inst)).count("kubeadm certs renew all") == 1
    assert_renewal_complete(inst, before_started)
