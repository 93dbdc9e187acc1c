"""`airbox install` registering its data plane with a (fake) control plane, end to end."""

from __future__ import annotations

import signal
from typing import Any

import pytest
import yaml

from tests import answers_factory as af
from tests.fake_control_plane import FakeControlPlane, fake_cp  # noqa: F401
from tests.helpers import signal_then_reap
from tests.installer import Installer, cp_env, registering


def _one_registration(inst: Installer, cp: FakeControlPlane) -> dict[str, Any]:
    regions = [r for r in cp.live_regions(cp.organization_id) if r["name"] == "eu-private"]
    assert len(regions) == 1
    planes = cp.live_dataplanes(inst.name)
    assert len(planes) == 1
    return planes[0]


def test_install_registers_once_and_the_secret_gets_the_credentials(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    inst, cp = installer, fake_cp
    answers = inst.write(registering(inst, cp))
    result = inst.run(answers=answers, env=cp_env(inst, cp))
    assert result.returncode == 0, result.stderr
    plane = _one_registration(inst, cp)
    client_id, client_secret = cp.dataplane_secrets[plane["dataplaneId"]]
    secret = yaml.safe_load((inst.state / "secrets.yaml").read_text())["stringData"]
    assert secret["DATAPLANE_CLIENT_ID"] == client_id
    assert secret["DATAPLANE_CLIENT_SECRET"] == client_secret
    # The fresh secret is in the Secret and the 0600 registration record, nowhere else.
    public = [
        inst.state / "values.yaml",
        inst.state / "settings.yaml",
        inst.state / "progress.json",
        *(inst.state / "logs").glob("*.log"),
    ]
    for path in public:
        assert client_secret not in path.read_text(), path
    assert client_secret not in result.stdout + result.stderr
    for record in inst.fake.call_records():
        assert client_secret not in " ".join(record["argv"])
    for leaked in (cp.client_secret, af.SECRETS["s3_secret"]):
        assert leaked not in result.stdout + result.stderr
    # A re-run reuses the region and the data plane.
    again = inst.run(answers=answers, env=cp_env(inst, cp))
    assert again.returncode == 0, again.stderr
    assert _one_registration(inst, cp)["dataplaneId"] == plane["dataplaneId"]
    assert len(cp.calls("POST", "/v1/dataplanes")) == 1
    assert len(cp.calls("POST", "/v1/regions")) == 1


@pytest.mark.parametrize("step", ["release", "secret"])
def test_failure_after_registration_then_rerun_registers_nothing_new(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
    step: str,
) -> None:
    inst, cp = installer, fake_cp
    if step == "release":
        inst.fake.add_fault(
            "helm",
            ["upgrade", "--install"],
            "fail",
            times=1,
            stderr="Error: context deadline exceeded",
        )
    else:
        inst.fake.add_fault(
            "kubectl", ["--namespace", "airbyte", "apply"], "interrupt", after="before", times=1
        )
    answers = inst.write(registering(inst, cp))
    first = inst.run(answers=answers, env=cp_env(inst, cp))
    assert first.returncode in (5, 130), first.stderr
    plane = _one_registration(inst, cp)
    second = inst.run(answers=answers, env=cp_env(inst, cp))
    assert second.returncode == 0, second.stderr
    assert _one_registration(inst, cp)["dataplaneId"] == plane["dataplaneId"]
    assert len(cp.calls("POST", "/v1/dataplanes")) == 1


def test_ctrl_c_while_the_registration_answer_is_on_its_way(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    inst, cp = installer, fake_cp
    answers = inst.write(registering(inst, cp))
    procs: list[Any] = []
    # The data plane is created, then the user hits Ctrl-C before the answer arrives.
    # Answered only once airbox has exited on the Ctrl-C: the event, not a fixed wait.
    cp.on("POST", "/v1/dataplanes", lambda _: signal_then_reap(procs[0], signal.SIGINT))
    proc = inst.start(answers=answers, env=cp_env(inst, cp))
    procs.append(proc)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    result = inst.run(answers=answers, env=cp_env(inst, cp))
    assert result.returncode == 0, result.stderr
    # The orphan whose secret was lost is gone; exactly one data plane remains, in use.
    plane = _one_registration(inst, cp)
    secret = yaml.safe_load((inst.state / "secrets.yaml").read_text())["stringData"]
    assert secret["DATAPLANE_CLIENT_ID"] == cp.dataplane_secrets[plane["dataplaneId"]][0]


# A slow control plane (timeouts, then exit 4) is covered in tests/test_api.py with short
# timeouts; here it would cost the 2 x 15 s a user waits.
@pytest.mark.parametrize("fault", ["unreachable", "5xx", "rejected"])
def test_control_plane_problems_exit_4_with_url_status_and_advice(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
    fault: str,
) -> None:
    inst, cp = installer, fake_cp
    data = registering(inst, cp)
    env = cp_env(inst, cp)
    if fault == "unreachable":
        cp.stop()
        expect = ["connection was refused", cp.api_url]
    elif fault == "5xx":
        cp.fail("GET", "/v1/organizations", 503, times=10)
        expect = ["503", cp.api_url + "/organizations"]
    else:
        env["AIRBYTE_CLIENT_SECRET"] = "wrong-secret-value"
        expect = ["401", "client"]
    result = inst.run(answers=inst.write(data), env=env, timeout=120)
    assert result.returncode == 4, result.stderr
    for text in expect:
        assert text in result.stderr, text
    assert "next:" in result.stderr
    assert inst.fake.calls("kind") == []  # nothing was built
    if fault == "5xx":
        assert len(cp.calls("GET", "/v1/organizations")) > 1  # retried: a safe call
