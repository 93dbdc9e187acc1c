"""Issue #12: the ways a user (or a fault) broke airbox's promises, each as a user meets it.

Bad input exits 2 naming the field and changes nothing; files airbox does not own keep
their modes; a dry run never touches an installed data plane; secrets never echo back.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from airbox.controlplane.registration import registration_file
from airbox.errors import ControlPlaneError
from airbox.fsutil import read_json
from airbox.paths import StateDir
from tests import answers_factory as af
from tests.fake_control_plane import (
    FakeControlPlane,
    fake_cp_fixture,  # noqa: F401  (the fake_cp fixture)
)
from tests.helpers import airbox_bin, airbox_env, default_signals
from tests.installer import Installer
from tests.snapshots import Template, restore
from tests.test_registration import NAME as REG_NAME
from tests.test_registration import Run, make_answers


def run(
    *args: str,
    env: dict[str, str] | None = None,
    umask: int | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    def before() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run(
        [airbox_bin(), *args],
        capture_output=True,
        text=True,
        env=env or airbox_env(),
        timeout=timeout,
        preexec_fn=before,
        cwd=cwd or Path(os.environ["HOME"]),
    )


def home(isolated: Path) -> Path:
    return isolated / ".airbyte" / "airbox"


def saved_install(tmp_path: Path, name: str = "dp1", **overrides: Any) -> StateDir:
    """A data plane's state as an install leaves it (settings, credentials, files)."""
    from airbox.config.gather import save

    data = af.answers(directory=tmp_path, name=name)
    data.update(overrides)
    state = StateDir.for_name(name)
    save(state, data)
    return state


def answers_file(tmp_path: Path, **overrides: Any) -> Path:
    data = af.answers(directory=tmp_path)
    data.update(overrides)
    return af.write_answers(tmp_path / "answers.yaml", data)


# ------------------------------------------------------------------ files and directories


def test_airbox_home_is_created_0700_whatever_the_umask(tmp_path: Path, isolated: Path) -> None:
    """#12: the root (and ~/.airbyte, which airbox also creates) is 0700 under umask 000."""
    result = run("install", "--answers", str(answers_file(tmp_path)), "--dry-run", umask=0)
    assert result.returncode == 0, result.stderr
    for directory in (home(isolated).parent, home(isolated), home(isolated) / "dp1"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


def test_existing_output_dir_keeps_its_mode(tmp_path: Path) -> None:
    """#2: --output-dir of an existing directory (here sticky and world-writable like /tmp,
    and reached through a symlink) is written into, never chmod-ed."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    link = tmp_path / "link"
    link.symlink_to(shared)
    for target in (shared, link):
        result = run(
            "install",
            "--answers",
            str(answers_file(tmp_path)),
            "--dry-run",
            "--output-dir",
            str(target),
        )
        assert result.returncode == 0, result.stderr
        assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
        assert (shared / "values.yaml").is_file()
        assert stat.S_IMODE((shared / "secrets.yaml").stat().st_mode) == 0o600


def test_new_output_dir_is_created_private(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    result = run(
        "install",
        "--answers",
        str(answers_file(tmp_path)),
        "--dry-run",
        "--output-dir",
        str(out),
        umask=0,
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("where", ["file", "through-file", "dev-null"])
def test_unusable_output_dir_is_bad_input(tmp_path: Path, where: str) -> None:
    """#10: --output-dir that is a file or lies below one exits 2, not "unexpected error"."""
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me\n")
    target = {"file": a_file, "through-file": a_file / "out", "dev-null": Path("/dev/null/x")}[
        where
    ]
    result = run(
        "install",
        "--answers",
        str(answers_file(tmp_path)),
        "--dry-run",
        "--output-dir",
        str(target),
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "--output-dir" in result.stderr and str(target) in result.stderr
    assert "unexpected error" not in result.stderr
    assert a_file.read_text() == "keep me\n"


@pytest.mark.parametrize("where", ["through-file", "dev-null"])
def test_unusable_bundle_output_is_bad_input(tmp_path: Path, isolated: Path, where: str) -> None:
    """#10: support-bundle -o through a file exits 2 before collecting anything."""
    saved_install(tmp_path)
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me\n")
    target = {"through-file": a_file / "b.tar.gz", "dev-null": Path("/dev/null/b.tar.gz")}[where]
    result = run("support-bundle", "-o", str(target))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "-o" in result.stderr and "unexpected error" not in result.stderr
    assert "Collecting" not in result.stdout + result.stderr


def test_dry_run_never_overwrites_an_installed_data_planes_files(
    tmp_path: Path, isolated: Path
) -> None:
    """#13: without --output-dir, a dry run of an installed data plane writes beside its
    files (``dry-run/``), never over the values and Secret the release runs from."""
    state = saved_install(tmp_path)
    installed = {
        "values.yaml": "installed: values\n",
        "secrets.yaml": "installed: secret\n",
        "kind-config.yaml": "installed: kind\n",
        "plan.json": "[]\n",
    }
    for file, text in installed.items():
        (state.root / file).write_text(text)
    changed = af.answers(directory=tmp_path)
    changed["namespace"] = "other"
    path = af.write_answers(tmp_path / "changed.yaml", changed)
    result = run("install", "--answers", str(path), "--dry-run")
    assert result.returncode == 0, result.stderr
    for file, text in installed.items():
        assert (state.root / file).read_text() == text, file
    written = state.root / "dry-run"
    assert (
        yaml.safe_load((written / "values.yaml").read_text())["workloads"]["namespace"] == "other"
    )
    assert str(written) in result.stdout + result.stderr


# ------------------------------------------------------------------------ --name


@pytest.mark.parametrize(
    "command",
    [
        ["uninstall", "--yes"],
        ["status"],
        ["logs"],
        ["support-bundle"],
        ["dataplanes"],
        ["preflight"],
        ["install", "--yes"],
    ],
)
def test_empty_name_is_invalid_everywhere(
    tmp_path: Path, isolated: Path, command: list[str]
) -> None:
    """#15: ``--name ""`` (an unset variable) never means "the only installed one"."""
    state = saved_install(tmp_path)
    result = run(
        *command,
        "--name",
        "",
        env=airbox_env(AIRBYTE_CLIENT_ID="i" * 12, AIRBYTE_CLIENT_SECRET="s" * 12),
    )
    assert result.returncode == 2, (command, result.stdout, result.stderr)
    assert "name" in result.stderr
    assert state.exists()


@pytest.mark.parametrize("bad", ["..", "../x", "a/b", "UPPER"])
def test_dataplanes_name_is_validated(isolated: Path, bad: str) -> None:
    """#15: ``dataplanes --name ..`` is refused (it becomes a path under $AIRBOX_HOME)."""
    result = run(
        "dataplanes",
        "--name",
        bad,
        env=airbox_env(
            AIRBYTE_CLIENT_ID="i" * 12,
            AIRBYTE_CLIENT_SECRET="s" * 12,
            AIRBOX_HOME=str(isolated / "h" / "airbox"),
        ),
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "is not a data plane name" in result.stderr


# ------------------------------------------------------------------ answers validation


def test_url_password_is_never_echoed(tmp_path: Path) -> None:
    """#9: a URL with a password is refused without showing the password."""
    path = answers_file(
        tmp_path,
        controlPlane={
            "edition": "enterprise",
            "url": "http://admin:hunter2-pw-77@airbyte.example.com",
            "apiUrl": "ftp://admin:hunter2-pw-78@airbyte.example.com",
        },
        licenseKey="license-key-123456",
    )
    result = run(
        "install", "--answers", str(path), "--dry-run", "--output-dir", str(tmp_path / "out")
    )
    assert result.returncode == 2
    assert "controlPlane.url" in result.stderr and "controlPlane.apiUrl" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert "***@airbyte.example.com" in result.stderr


def test_non_string_keys_in_values_are_bad_input(tmp_path: Path) -> None:
    """#16: ``values: {1: x}`` is refused up front, naming the key."""
    path = tmp_path / "a.yaml"
    data = af.answers(directory=tmp_path)
    text = yaml.safe_dump(data) + (
        "values:\n  global:\n    1: one\n  other:\n    true: yes\n  2: [3]\n"
    )
    path.write_text(text)
    result = run(
        "install", "--answers", str(path), "--dry-run", "--output-dir", str(tmp_path / "out")
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    for field in ("values.global.1", "values.other.True", "values.2"):
        assert field in result.stderr, field
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    assert not (tmp_path / "out").exists()


CREDENTIAL_VALUES: dict[str, tuple[Any, str]] = {
    # case: (values, the path named)
    "env-list": (
        {
            "workloadLauncher": {
                "extraEnv": [
                    {"name": "LOG_LEVEL", "value": "debug"},
                    {"name": "MY_API_TOKEN", "value": "plain-value-no-shape"},
                ]
            }
        },
        "values.workloadLauncher.extraEnv[1].value",
    ),
    "api-key": ({"monitoring": {"apiKey": "0123456789abcdef"}}, "values.monitoring.apiKey"),
    "authorization": (
        {"proxy": {"headers": {"Authorization": "Basic dXNlcjpwYXNz"}}},
        "values.proxy.headers.Authorization",
    ),
    "number": ({"db": {"password": 12345678}}, "values.db.password"),
    "known-secret": ({"extra": {"note": af.SECRETS["dp_secret"]}}, "values.extra.note"),
    "aws-key-shape": ({"extra": ["AKIAABCDEFGHIJKLMNOP"]}, "values.extra[0]"),
    "url-password": (
        {"global": {"env_vars": {"HTTPS_PROXY": "http://u:pw123456@proxy:3128"}}},
        "values.global.env_vars.HTTPS_PROXY",
    ),
    "inline-assignment": ({"jobs": {"opts": "-Xmx1g -Dpassword=opensesame"}}, "values.jobs.opts"),
}


@pytest.mark.parametrize("case", sorted(CREDENTIAL_VALUES))
def test_credentials_in_values_are_refused_by_name_and_content(
    tmp_path: Path, isolated: Path, case: str
) -> None:
    """#4: through lists, by key names beyond "secret", by content, non-strings too."""
    values, field = CREDENTIAL_VALUES[case]
    path = answers_file(tmp_path, values=values)
    for extra in (["--dry-run", "--output-dir", str(tmp_path / "out")], ["--yes"]):
        result = run("install", "--answers", str(path), *extra)
        assert result.returncode == 2, (case, result.stdout, result.stderr)
        assert f"{field}: looks like a credential" in result.stderr, result.stderr
        assert not (tmp_path / "out").exists()
        assert not home(isolated).exists()


def test_ordinary_values_pass(tmp_path: Path) -> None:
    values = {
        "global": {"image": {"registry": "registry.example.com"}, "auth": {"enabled": False}},
        "workloadLauncher": {
            "extraEnv": [{"name": "LOG_LEVEL", "value": "debug"}],
            "secretName": "airbyte-config-secrets",
        },
        "imagePullSecrets": [{"name": "regcred"}],
        # A word that merely starts like a secret's name is not one.
        "search": {"tokenizer": "wordpiece-base", "secretary": "none"},
    }
    path = answers_file(tmp_path, values=values)
    result = run(
        "install", "--answers", str(path), "--dry-run", "--output-dir", str(tmp_path / "out")
    )
    assert result.returncode == 0, result.stderr


def test_short_secret_is_refused_naming_the_field(tmp_path: Path, isolated: Path) -> None:
    """#5: a Vault dev token ``root`` would be masked inside ``/root/...`` and every other
    path: refused up front (exit 2, the field named), never an "unexpected error"."""
    data = af.answers(directory=tmp_path)
    data["secretsManager"]["vault"]["authToken"] = "root"
    path = af.write_answers(tmp_path / "a.yaml", data)
    for extra in (["--dry-run", "--output-dir", str(tmp_path / "out")], ["--yes"]):
        result = run("install", "--answers", str(path), *extra)
        assert result.returncode == 2, (result.stdout, result.stderr)
        assert "secretsManager.vault.authToken: is too short" in result.stderr
        assert "unexpected error" not in result.stderr
        assert not home(isolated).exists()


def test_redactor_ignores_values_too_short_to_mask_safely() -> None:
    from airbox.redact import REDACTOR

    REDACTOR.add("root", "hvs.long-enough-token")
    assert REDACTOR.mask("/root/.airbyte/airbox") == "/root/.airbyte/airbox"
    assert REDACTOR.mask("token hvs.long-enough-token") == "token ********"


# ---------------------------------------------------------------------- YAML input


def _alias_bomb(levels: int) -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    previous = "a"
    for letter in "bcdefghijk"[:levels]:
        text += f"{letter}: &{letter} [" + ",".join([f"*{previous}"] * 9) + "]\n"
        previous = letter
    return text


HOSTILE_YAML = {
    # case: (text, words of the reason)
    "alias-bomb": (_alias_bomb(8), "expands to more than"),
    "deep-flow": ("name: dp1\nx: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than"),
    "deep-block": (
        "x:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 400)),
        "nested deeper than",
    ),
    "recursive-alias": ("x: &x [*x]\n", "recursive alias"),
    "huge": ("name: dp1\nx: " + "y" * 200_000 + "\n", "larger than"),
    "many-values": ("x: [" + ",".join("1" for _ in range(20_000)) + "]\n", "more than"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_YAML))
def test_hostile_answers_file_exits_2_at_once(tmp_path: Path, isolated: Path, case: str) -> None:
    """#3: an alias bomb or absurd nesting is refused with the reason (exit 2) at once;
    before, 8 levels of aliases ran out of memory and 5,000 levels crashed."""
    text, reason = HOSTILE_YAML[case]
    path = tmp_path / "a.yaml"
    path.write_text(text)
    result = run(
        "install",
        "--answers",
        str(path),
        "--dry-run",
        "--output-dir",
        str(tmp_path / "out"),
        timeout=30,
    )
    assert result.returncode == 2, (result.stdout, result.stderr[-2000:])
    assert reason in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_yaml_error_never_quotes_the_file(tmp_path: Path) -> None:
    """An unquoted password starting with "*" reads as an alias: the error says where,
    not the password."""
    data = af.answers(directory=tmp_path)
    del data["dataPlane"]["clientSecret"]
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(data) + "extra: *Zq9-unquoted-password\n")
    result = run(
        "install", "--answers", str(path), "--dry-run", "--output-dir", str(tmp_path / "out")
    )
    assert result.returncode == 2
    assert "malformed YAML at line" in result.stderr
    assert "Zq9" not in result.stdout + result.stderr


DAMAGE = {
    # case: (file, bytes written over it)
    "settings-garbled": ("settings.yaml", b"name: dp1\nsecretsManager: [unclosed\n"),
    "credentials-garbled": (
        "credentials.yaml",
        b"dataPlane:\n  clientSecret: "
        + af.SECRETS["dp_secret"].encode()
        + b"\n   bad: indentation\n",
    ),
    "credentials-not-utf8": ("credentials.yaml", b"dataPlane:\n  clientSecret: \xff\xfe\x00x\n"),
    "settings-alias-bomb": ("settings.yaml", _alias_bomb(8).encode()),
    "settings-a-list": ("settings.yaml", b"- 1\n- 2\n"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
@pytest.mark.parametrize("command", [["status"], ["logs"], ["install", "--yes"], ["preflight"]])
def test_damaged_saved_settings_are_a_clear_error(
    tmp_path: Path, isolated: Path, case: str, command: list[str]
) -> None:
    """#7: a damaged settings.yaml/credentials.yaml (hand edit, cut short, not UTF-8):
    exit 2 naming the file and pointing at uninstall; the credentials never echoed."""
    state = saved_install(tmp_path)
    file, data = DAMAGE[case]
    (state.root / file).write_bytes(data)
    result = run(*command, "--name", "dp1", timeout=30)
    assert result.returncode == 2, (command, result.stdout, result.stderr)
    assert str(state.root / file) in result.stderr
    assert "airbox uninstall --name dp1" in result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    assert af.find_secrets(result.stdout + result.stderr) == []
    assert "bad: indentation" not in result.stderr


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_support_bundle_is_written_over_damaged_saved_settings(
    tmp_path: Path, isolated: Path, case: str
) -> None:
    """#7, revisited: a damaged state is when a user needs a support bundle most. It is
    written (exit 0), the damaged file is named, and no credential reaches the terminal or
    the archive (the damaged files themselves stay out: they may hold secrets)."""
    import tarfile

    state = saved_install(tmp_path)
    file, data = DAMAGE[case]
    (state.root / file).write_bytes(data)
    out = tmp_path / "bundle.tar.gz"
    result = run("support-bundle", "--name", "dp1", "-o", str(out), timeout=120)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert str(state.root / file) in result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    assert af.find_secrets(result.stdout + result.stderr) == []
    with tarfile.open(out) as archive:
        text = b"".join(
            archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile()
        )
    assert af.find_secrets(text.decode("utf-8", "replace")) == []
    assert b"bad: indentation" not in text


@pytest.mark.parametrize("case", ["settings-garbled", "credentials-not-utf8"])
def test_uninstall_works_with_damaged_settings(
    installer: Installer, installed_plain: Template, case: str
) -> None:
    """#7: uninstall still removes the cluster and the state when the settings are damaged
    (it says so, and uses what the name tells)."""
    inst = installer
    restore(installed_plain, inst)
    file, data = DAMAGE[case]
    (inst.state / file).write_bytes(data.replace(b"dp1", inst.name.encode()))
    result = subprocess.run(
        [airbox_bin(), "uninstall", "--yes"],
        capture_output=True,
        text=True,
        env=inst.env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(inst.state / file) in result.stdout + result.stderr
    assert f"kind cluster {inst.cluster}" in result.stdout
    assert inst.fake.clusters() == []
    assert not inst.state.exists()
    assert af.find_secrets(result.stdout + result.stderr) == []


# ------------------------------------------------------- lock, signals, environment


def _wait_for_hanging(
    inst: Installer, proc: subprocess.Popen[str], tool: str, words: list[str]
) -> dict[str, Any]:
    """The fake's record of the call now hanging (logged before it sleeps)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for record in inst.fake.call_records(tool):
            if record["exit"] is None and all(w in record["argv"] for w in words):
                return record
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError(f"{tool} {words} never started")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def test_one_command_at_a_time_changes_a_data_plane(installer: Installer) -> None:
    """#1: while an install runs, a second install and an uninstall wait briefly, then
    exit 1 naming the holder's pid and command, changing nothing; status does not wait."""
    inst = installer
    inst.fake.add_fault("kind", ["create", "cluster"], "hang", times=1, seconds=120)
    answers = inst.write()
    first = inst.start(answers=answers)
    try:
        _wait_for_hanging(inst, first, "kind", ["create", "cluster"])
        second = inst.run(answers=answers, timeout=60)
        assert second.returncode == 1, (second.stdout, second.stderr)
        assert f"data plane {inst.name} is busy" in second.stderr
        assert f"{first.pid} (airbox install" in second.stderr
        creates = inst.kind_creates()
        assert creates == 1  # the second never reached kind

        removal = subprocess.run(
            [airbox_bin(), "uninstall", "--yes"],
            capture_output=True,
            text=True,
            env=inst.env(),
            timeout=60,
        )
        assert removal.returncode == 1, (removal.stdout, removal.stderr)
        assert f"{first.pid} (airbox install" in removal.stderr
        assert (inst.state / "settings.yaml").is_file()

        status = subprocess.run(
            [airbox_bin(), "status"], capture_output=True, text=True, env=inst.env(), timeout=60
        )
        assert "busy" not in status.stdout + status.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        _finish(first)
    assert first.returncode == 143
    again = inst.run(answers=answers)
    assert again.returncode == 0, again.stderr


def test_lock_of_a_killed_command_is_released(installer: Installer) -> None:
    """#1: the lock is the kernel's: ``kill -9`` of the holder frees it for the next run."""
    inst = installer
    inst.fake.add_fault("kind", ["create", "cluster"], "hang", times=1, seconds=120)
    answers = inst.write()
    first = inst.start(answers=answers)
    hanging = _wait_for_hanging(inst, first, "kind", ["create", "cluster"])
    os.kill(first.pid, signal.SIGKILL)
    _finish(first)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(hanging["pid"], signal.SIGKILL)  # the orphan a kill -9 leaves
    again = inst.run(answers=answers)
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_are_handled_like_ctrl_c(
    installer: Installer, sig: int, code: int
) -> None:
    """#6: the running tool's process group is ended (no orphan), the step is marked
    interrupted, exit 128+signal, and the same command resumes."""
    inst = installer
    inst.fake.add_fault("helm", ["upgrade", "--install"], "hang", times=1, seconds=120)
    answers = inst.write()
    proc = inst.start(answers=answers)
    hanging = _wait_for_hanging(inst, proc, "helm", ["upgrade", "--install"])
    proc.send_signal(sig)
    _, err = _finish(proc)
    assert proc.returncode == code, err
    assert f"Stopped by {signal.Signals(sig).name}" in err
    assert "run the same command again" in err
    assert not _alive(hanging["pid"]), "helm was left running"
    progress = json.loads((inst.state / "progress.json").read_text())
    assert progress["steps"]["release"]["status"] == "interrupted"
    again = inst.run(answers=answers)
    assert again.returncode == 0, again.stderr
    assert inst.revisions()[-1]["status"] == "deployed"


def test_tools_never_see_airboxs_credentials(installer: Installer) -> None:
    """#11: no tool (nor what it starts) inherits the application's or the data plane's
    credentials, nor a variable an answers file expanded into a secret."""
    inst = installer
    data = inst.answers()
    data["storage"]["s3"]["secretAccessKey"] = "${MY_S3_SECRET}"
    secrets = {
        "DATAPLANE_CLIENT_ID": "dp-env-id-0001",
        "DATAPLANE_CLIENT_SECRET": "dp-env-secret-0001",
        "MY_S3_SECRET": "s3-secret-from-env-0001",
    }
    result = inst.run(answers=inst.write(data), env=inst.env(**secrets, UNRELATED_SETTING="kept"))
    assert result.returncode == 0, result.stderr
    # Day-2 commands with the application's credentials in the environment.
    app = {
        "AIRBYTE_CLIENT_ID": "app-client-id-0001",
        "AIRBYTE_CLIENT_SECRET": "app-client-secret-0001",
    }
    for command in (["status"], ["uninstall", "--yes", "--keep-state"]):
        done = subprocess.run(
            [airbox_bin(), *command],
            capture_output=True,
            text=True,
            timeout=120,
            env=inst.env(**secrets, **app, UNRELATED_SETTING="kept"),
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    records = inst.fake.call_records()
    assert any(r["tool"] == "helm" and "uninstall" in r["argv"] for r in records)
    for record in records:
        leaked = (set(secrets) | set(app)) & set(record["env"])
        assert not leaked, (record["tool"], record["argv"], leaked)
        assert "UNRELATED_SETTING" in record["env"]


# ------------------------------------------------------------- registration marker


def _region_id(fake_cp: FakeControlPlane, name: str) -> str:
    return str(next(r["regionId"] for r in fake_cp.live_regions() if r["name"] == name))


def test_a_refused_registration_leaves_no_marker(fake_cp: FakeControlPlane, tmp_path: Path) -> None:
    """#8: after a definitive 4xx nothing was created: no "pending" marker is kept, so a
    data plane of that name someone registers next is never taken for airbox's orphan."""
    answers = make_answers(fake_cp, tmp_path)
    fake_cp.fail("POST", "/v1/dataplanes", 422)
    with pytest.raises(ControlPlaneError):
        Run(answers).register()
    state = StateDir.for_name(REG_NAME)
    assert not registration_file(state).exists()

    theirs = fake_cp.add_dataplane(REG_NAME, _region_id(fake_cp, "us-west-1"))
    with pytest.raises(ControlPlaneError) as raised:
        Run(answers).register()
    assert "already exists" in raised.value.message
    assert fake_cp.calls("DELETE") == []
    assert [d["dataplaneId"] for d in fake_cp.live_dataplanes()] == [theirs["dataplaneId"]]


def test_a_lost_answers_marker_never_deletes_a_later_data_plane(
    fake_cp: FakeControlPlane, tmp_path: Path
) -> None:
    """#8: a marker left by a lost answer matches only a data plane created while that
    registration ran; one registered under the name a day later is someone else's."""
    answers = make_answers(fake_cp, tmp_path)
    fake_cp.drop("POST", "/v1/dataplanes")  # before it is processed: nothing created
    with pytest.raises(ControlPlaneError):
        Run(answers).register()
    state = StateDir.for_name(REG_NAME)
    assert read_json(registration_file(state))["pending"]["name"] == REG_NAME
    assert fake_cp.live_dataplanes() == []

    fake_cp.advance(24 * 3600)
    theirs = fake_cp.add_dataplane(REG_NAME, _region_id(fake_cp, "us-west-1"))
    with pytest.raises(ControlPlaneError) as raised:
        Run(answers).register()
    assert "already exists" in raised.value.message
    assert fake_cp.calls("DELETE") == []
    assert [d["dataplaneId"] for d in fake_cp.live_dataplanes()] == [theirs["dataplaneId"]]


@pytest.mark.parametrize("content", [b'{"steps": [1, 2]}', b'{"steps": null}', b"\xff\xfe{"])
def test_a_wrong_shaped_progress_record_does_not_stop_install(
    installer: Installer, content: bytes
) -> None:
    """#14: progress.json is only a record (the real state decides): a damaged one is
    replaced, never crashed on."""
    inst = installer
    inst.state.mkdir(parents=True)
    (inst.state / "progress.json").write_bytes(content)
    result = inst.run(answers=inst.write())
    assert result.returncode == 0, result.stderr
    progress = json.loads((inst.state / "progress.json").read_text())
    assert progress["steps"]["release"]["status"] == "done"


def test_a_signal_after_the_command_finished_does_not_kill_it(tmp_path: Path) -> None:
    """A SIGTERM that lands while the interpreter exits (atexit, threads joined) must not turn
    a finished command into a death by signal (-15): the result was already decided."""
    script = tmp_path / "finishing.py"
    script.write_text(
        "import atexit, os, signal, click\n"
        "from airbox.cli.errors import run\n"
        "@click.group()\n"
        "def group() -> None: pass\n"
        "@group.command()\n"
        "def done() -> None:\n"
        "    atexit.register(lambda: os.kill(os.getpid(), signal.SIGTERM))\n"
        "run(group, ['done'])\n"
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=default_signals,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Stopped" not in proc.stderr
