"""scripts/install.sh: shellcheck-clean, and its plan on each supported distribution.

The script runs with PATH holding only stubs: ``id`` answers for a user "alice", and every
tool that could change the machine (apt-get, dnf, yum, curl, usermod, groupadd, sudo,
systemctl, pipx) only records its arguments. So the plan is the same on any machine, and
"nothing was changed" is checked by what was recorded, not by trust.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO

SCRIPT = REPO / "scripts" / "install.sh"
BASH = shutil.which("bash") or "/bin/bash"

# Tools whose calls change the machine, and the arguments that only read.
MUTATING = (
    "apt-get",
    "dnf",
    "yum",
    "curl",
    "usermod",
    "groupadd",
    "sudo",
    "pipx",
    "systemctl",
    "python3",
    "python3.11",
)
READ_ONLY = {
    "systemctl": ("is-system-running", "is-enabled", "is-active", "cat"),
    "pipx": ("list", "--version"),
    "python3": ("-c", "-m pipx --version", "-m pipx list"),
    "python3.11": ("-c", "-m pipx --version", "-m pipx list"),
}

ID_STUB = """#!/bin/bash
case "$*" in
  -u) echo "${FAKE_UID:-1000}" ;;
  -un) echo "${FAKE_USER:-alice}" ;;
  "-nG "*) echo "${FAKE_GROUPS:-alice}" ;;
  "-u "*) echo 1000 ;;
  *) exit 1 ;;
esac
"""

# Records every call; answers the read-only questions from FAKE_* variables.
RECORDER = """#!/bin/bash
printf '%s %s\\n' "${0##*/}" "$*" >> "$FAKE_CALLS"
case "${0##*/} $1" in
  "systemctl is-system-running") echo "${FAKE_SYSTEMD:-running}" ;;
  "systemctl is-enabled"|"systemctl is-active"|"systemctl cat") [ -n "$FAKE_DOCKER_ON" ] ;;
  "pipx list") [ -n "$FAKE_AIRBOX_INSTALLED" ] && echo "airbox 0.1.0" ;;
  "python3 -c"|"python3.11 -c") [ -z "$FAKE_OLD_PYTHON" ] ;;
  "python3 -m"|"python3.11 -m") [ "$2 $3" != "pipx --version" ] || [ -n "$FAKE_PIPX_MODULE" ] ;;
esac
exit $?
"""


def os_release(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "os-release"
    path.write_text(text)
    return path


def stub_dir(tmp_path: Path, *present: str) -> Path:
    """A PATH directory with ``id`` and the named tools (recording stubs)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "id").write_text(ID_STUB)
    (bin_dir / "id").chmod(0o755)
    for tool in present:
        (bin_dir / tool).write_text(RECORDER)
        (bin_dir / tool).chmod(0o755)
    return bin_dir


def run(
    tmp_path: Path, release: str | None, *args: str, tools: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess[str]:
    bin_dir = stub_dir(tmp_path, *tools)
    calls = tmp_path / "calls.log"
    calls.touch()
    environ = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path / "home"),
        "USER": "alice",
        "FAKE_CALLS": str(calls),
        "AIRBOX_OS_RELEASE": str(
            os_release(tmp_path, release) if release is not None else tmp_path / "missing"
        ),
        **env,
    }
    return subprocess.run(
        [BASH, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        timeout=60,
    )


def calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls.log").read_text().splitlines()


def mutating_calls(tmp_path: Path) -> list[str]:
    found = []
    for line in calls(tmp_path):
        tool, _, args = line.partition(" ")
        if tool in MUTATING and not args.startswith(READ_ONLY.get(tool, ("\0",))):
            found.append(line)
    return found


def snapshot(root: Path) -> dict[str, float]:
    """Every file under ``root`` but the harness's own (stubs, os-release, call log)."""
    inputs = {"bin", "os-release", "calls.log"}
    return {
        str(p): p.stat().st_mtime
        for p in root.rglob("*")
        if not inputs & set(p.relative_to(root).parts)
    }


def test_shellcheck_is_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed")
    result = subprocess.run(
        [shellcheck, "--severity=style", str(SCRIPT)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


UBUNTU = (
    'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n'
    'PRETTY_NAME="Ubuntu 22.04.4 LTS"\n'
)

# (os-release, extra stub tools, lines the plan must contain)
PLANS: dict[str, tuple[str, tuple[str, ...], list[str]]] = {
    "ubuntu-22.04": (
        UBUNTU,
        ("systemctl",),
        [
            "airbox bootstrap: Ubuntu 22.04.4 LTS (debian), for user alice",
            "would run: env DEBIAN_FRONTEND=noninteractive apt-get update -q",
            "would run: env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io",
            "would run: systemctl enable --now docker",
            "would run: usermod -aG docker alice",
            "would run: env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 "
            "python3-venv",
            "would run: env DEBIAN_FRONTEND=noninteractive apt-get install -y -q pipx",
            f"would run as alice: pipx install --force --python /usr/bin/python3 {REPO}",
            "would run as alice: pipx ensurepath",
        ],
    ),
    "ubuntu-24.04": (
        'ID=ubuntu\nVERSION_ID="24.04"\nPRETTY_NAME="Ubuntu 24.04 LTS"\n',
        ("systemctl",),
        ["apt-get install -y -q docker.io"],
    ),
    "debian-12": (
        'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
        ("systemctl",),
        ["(debian)", "apt-get install -y -q docker.io", "apt-get install -y -q pipx"],
    ),
    "rhel-9": (
        'ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n'
        'PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"\n',
        ("systemctl",),
        [
            "(rhel)",
            "would run: curl -fsSL -o /etc/yum.repos.d/docker-ce.repo "
            "https://download.docker.com/linux/rhel/docker-ce.repo",
            "would run: dnf install -y docker-ce docker-ce-cli containerd.io",
            "would run: systemctl enable --now docker",
            "would run: usermod -aG docker alice",
            "would run: dnf install -y python3.11 python3.11-pip",
            "would run as alice: /usr/bin/python3.11 -m pip install --user pipx",
            "would run as alice: /usr/bin/python3.11 -m pipx install --force --python "
            f"/usr/bin/python3.11 {REPO}",
        ],
    ),
    "rocky-9": (
        'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n'
        'PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n',
        ("systemctl",),
        [
            "https://download.docker.com/linux/centos/docker-ce.repo",
            "dnf install -y docker-ce docker-ce-cli containerd.io",
        ],
    ),
    "almalinux-8": (
        'ID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="8.10"\n'
        'PRETTY_NAME="AlmaLinux 8.10"\n',
        ("systemctl",),
        [
            "https://download.docker.com/linux/centos/docker-ce.repo",
            "dnf install -y python3.11 python3.11-pip",
        ],
    ),
    "centos-stream-9": (
        'ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="9"\nPRETTY_NAME="CentOS Stream 9"\n',
        ("systemctl",),
        ["https://download.docker.com/linux/centos/docker-ce.repo"],
    ),
    "fedora-40": (
        'ID=fedora\nVERSION_ID=40\nPRETTY_NAME="Fedora Linux 40"\n',
        ("systemctl",),
        [
            "(fedora)",
            "would run: dnf install -y moby-engine",
            "would run: dnf install -y python3",
            "would run: dnf install -y pipx",
            f"would run as alice: pipx install --force --python /usr/bin/python3 {REPO}",
        ],
    ),
    "amzn-2023": (
        'ID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\nPRETTY_NAME="Amazon Linux 2023"\n',
        ("systemctl",),
        [
            "(amzn)",
            "would run: dnf install -y docker",
            "would run: dnf install -y python3.11 python3.11-pip",
            "would run as alice: /usr/bin/python3.11 -m pip install --user pipx",
        ],
    ),
    # Amazon Linux 2 has no Python 3.10+ package: one on PATH is a prerequisite.
    "amzn-2": (
        'ID="amzn"\nID_LIKE="centos rhel fedora"\nVERSION_ID="2"\nPRETTY_NAME="Amazon Linux 2"\n',
        ("systemctl", "python3.11"),
        ["would run: yum install -y docker", "python3.11 -m pip install --user pipx"],
    ),
    "linuxmint": (
        'ID=linuxmint\nID_LIKE="ubuntu debian"\nVERSION_ID="21.3"\nPRETTY_NAME="Linux Mint 21.3"\n',
        ("systemctl",),
        ["treated as its parent (debian)", "apt-get install -y -q docker.io"],
    ),
}


@pytest.mark.parametrize("family", sorted(PLANS))
def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path: Path, family: str) -> None:
    release, tools, expected = PLANS[family]
    before = snapshot(tmp_path)
    result = run(tmp_path, release, "--dry-run", tools=tools)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in expected:
        assert line in result.stdout, f"{line!r} not in:\n{result.stdout}"
    assert "dry run: nothing will be changed" in result.stdout
    assert "Dry run: nothing was changed." in result.stdout
    assert "airbox preflight && airbox install" in result.stdout
    assert "log out and back in" in result.stdout
    assert mutating_calls(tmp_path) == []
    assert snapshot(tmp_path) == before


def test_plan_is_in_order(tmp_path: Path) -> None:
    result = run(tmp_path, UBUNTU, "--dry-run", tools=("systemctl",))
    lines = [line for line in result.stdout.splitlines() if line.startswith("would run")]
    order = [
        "apt-get update",
        "docker.io",
        "systemctl enable",
        "usermod",
        "python3-venv",
        "install -y -q pipx",
        "pipx install",
        "ensurepath",
    ]
    positions = [next(i for i, line in enumerate(lines) if word in line) for word in order]
    assert positions == sorted(positions), lines


@pytest.mark.parametrize(
    ("release", "reason"),
    [
        ('ID=alpine\nVERSION_ID=3.20.0\nPRETTY_NAME="Alpine Linux v3.20"\n', "Alpine Linux"),
        ('ID=ubuntu\nVERSION_ID="20.04"\nPRETTY_NAME="Ubuntu 20.04.6 LTS"\n', "before 22.04"),
        ('ID=debian\nVERSION_ID="11"\nPRETTY_NAME="Debian GNU/Linux 11"\n', "before 12"),
        ('ID=centos\nVERSION_ID="7"\nPRETTY_NAME="CentOS Linux 7"\n', "before 8"),
        ('ID=amzn\nVERSION_ID="2018.03"\nPRETTY_NAME="Amazon Linux AMI 2018.03"\n', "Amazon"),
        ('ID=opensuse-leap\nID_LIKE="suse opensuse"\nVERSION_ID="15.6"\n', "opensuse-leap"),
    ],
)
def test_unsupported_os_fails_early(tmp_path: Path, release: str, reason: str) -> None:
    result = run(tmp_path, release, "--dry-run", tools=("systemctl",))
    assert result.returncode == 3
    assert "unsupported OS" in result.stderr and reason in result.stderr
    assert "would run" not in result.stdout
    assert calls(tmp_path) == []


def test_unsupported_os_fails_early_also_for_real(tmp_path: Path) -> None:
    result = run(tmp_path, "ID=arch\n", tools=MUTATING)
    assert result.returncode == 3 and "unsupported OS" in result.stderr
    assert calls(tmp_path) == []


def test_no_os_release_fails_early(tmp_path: Path) -> None:
    result = run(tmp_path, None, "--dry-run")
    assert result.returncode == 3 and "cannot read" in result.stderr


def test_amazon_linux_2_without_python_310_fails_early(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        'ID="amzn"\nVERSION_ID="2"\nPRETTY_NAME="Amazon Linux 2"\n',
        "--dry-run",
        tools=("systemctl",),
    )
    assert result.returncode == 3
    assert "Python 3.10" in result.stderr
    assert "would run" not in result.stdout


def test_an_old_python_is_not_used(tmp_path: Path) -> None:
    result = run(tmp_path, UBUNTU, "--dry-run", tools=("systemctl", "python3"), FAKE_OLD_PYTHON="1")
    assert "apt-get install -y -q python3 python3-venv" in result.stdout


def test_second_run_does_nothing(tmp_path: Path) -> None:
    # Everything already in place: Docker installed and running, alice in the group,
    # pipx and airbox installed. A real run (not --dry-run) changes nothing.
    tools = (
        "systemctl",
        "docker",
        "dockerd",
        "pipx",
        "python3",
        "apt-get",
        "sudo",
        "usermod",
        "groupadd",
        "curl",
    )
    env = {"FAKE_DOCKER_ON": "1", "FAKE_GROUPS": "alice docker", "FAKE_AIRBOX_INSTALLED": "1"}
    for args in (("--dry-run",), ()):
        result = run(tmp_path, UBUNTU, *args, tools=tools, **env)
        assert result.returncode == 0, result.stderr
        assert "would run" not in result.stdout and "running:" not in result.stdout
        for line in (
            "ok: Docker Engine is installed",
            "ok: the Docker service is enabled and running",
            "ok: alice is in the docker group",
            "ok: pipx is installed",
            "ok: airbox is installed for alice",
        ):
            assert line in result.stdout
        assert mutating_calls(tmp_path) == []
    assert "Nothing to do" in result.stdout
    assert "log out" not in result.stdout


def test_a_real_run_uses_sudo_for_the_system_and_not_for_the_user(tmp_path: Path) -> None:
    tools = ("systemctl", "sudo", "pipx")
    result = run(tmp_path, UBUNTU, tools=tools)
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = mutating_calls(tmp_path)
    assert "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io" in recorded
    assert "sudo systemctl enable --now docker" in recorded
    assert "sudo usermod -aG docker alice" in recorded
    # pipx runs as alice herself, never through sudo.
    assert f"pipx install --force --python /usr/bin/python3 {REPO}" in recorded
    assert not any(line.startswith("sudo pipx") for line in recorded)
    assert "Done." in result.stdout and "newgrp docker" in result.stdout


def test_reinstall_and_source_argument(tmp_path: Path) -> None:
    tools = ("systemctl", "docker", "dockerd", "pipx", "python3")
    env = {"FAKE_DOCKER_ON": "1", "FAKE_GROUPS": "alice docker", "FAKE_AIRBOX_INSTALLED": "1"}
    wheel = tmp_path / "airbox-0.1.0-py3-none-any.whl"
    wheel.write_text("")
    result = run(tmp_path, UBUNTU, "--dry-run", "--reinstall", wheel.name, tools=tools, **env)
    assert result.returncode == 0, result.stderr
    assert (
        f"would run as alice: pipx install --force --python {tmp_path}/bin/python3 "
        f"{wheel}" in result.stdout
    )
    url = "git+https://github.com/example/airbox"
    result = run(tmp_path, UBUNTU, "--dry-run", "--reinstall", url, tools=tools, **env)
    assert url in result.stdout
    missing = run(tmp_path, UBUNTU, "--dry-run", "no-such-dir", tools=tools, **env)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    result = run(tmp_path, UBUNTU, "--bogus")
    assert result.returncode == 2 and "unknown option" in result.stderr
    assert run(tmp_path, UBUNTU, "a", "b").returncode == 2
    helped = run(tmp_path, UBUNTU, "--help")
    assert helped.returncode == 0 and "usage:" in helped.stdout


def test_without_sudo_a_non_root_user_is_told_before_anything_runs(tmp_path: Path) -> None:
    result = run(tmp_path, UBUNTU, tools=("systemctl",))
    assert result.returncode == 3 and "run this as root, or install sudo" in result.stderr
    assert mutating_calls(tmp_path) == []


def test_script_is_executable() -> None:
    assert os.access(SCRIPT, os.X_OK)
