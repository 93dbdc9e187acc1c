"""``tests/snapshots.py``: a restored install is the data plane the template installed,
under the test's own name (what the tests that restore one rely on)."""

from __future__ import annotations

import json
import subprocess

from tests.fakes import nodetools
from tests.fakes.fixture import docker_client
from tests.helpers import airbox_bin
from tests.installer import Installer
from tests.snapshots import restore, template


def status(inst: Installer) -> dict[str, str]:
    result = subprocess.run(
        [airbox_bin(), "status", "--json"],
        capture_output=True,
        text=True,
        env=inst.env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["name"] == inst.name
    return {c["id"]: c["state"] for c in report["checks"]}


def test_a_restored_install_is_the_template_under_its_own_name(installer: Installer) -> None:
    client = docker_client()
    image = nodetools.ensure_tools_image(client)
    installer.fake.use_docker(image)
    with template(installer.tmp / "template", image) as made:
        restore(made, installer)
        assert installer.name != made.installer.name
        assert made.installer.name not in (installer.state / "settings.yaml").read_text()
        assert installer.fake.clusters() == [installer.cluster]
        old, new = (
            client.containers.get(i.cluster + "-control-plane") for i in (made.installer, installer)
        )
        assert new.status == "running"
        assert new.attrs["HostConfig"]["RestartPolicy"] == old.attrs["HostConfig"]["RestartPolicy"]
        assert nodetools.calls(new) == nodetools.calls(old)
        assert status(installer) == status(made.installer)
        [rev] = installer.revisions()
        [was] = made.installer.revisions()
        assert (rev["status"], rev["chart_version"], rev["config"]) == (
            was["status"],
            was["chart_version"],
            was["config"],
        )
