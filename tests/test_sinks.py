"""Every secret form, in every sink airbox writes to, driven as a user reaches it.

The forms: a secret airbox knows (plain and base64), the lines of a multi-line secret (a
Google service account key), and text airbox did not produce but that is shaped like a
credential (``Authorization: Bearer``, an AWS key id, a password in a URL). The sinks:
the terminal, the run log (and every other file of the state directory), the support
bundle's members, and the handler of unexpected errors. Each test checks both sides: the
secret is in no byte airbox wrote, and the masked form stands where the secret was.
"""

from __future__ import annotations

import base64
import gzip
import json
import stat
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from airbox.redact import MASK
from tests import answers_factory as af
from tests.helpers import airbox_bin
from tests.installer import Installer

# Shaped like credentials, known to no one but the tool that prints them.
BEARER_TOKEN = "eyJhbGciOiJSUzI1NiJ9.bearer-body-7d3f.sig-0c9e"
AWS_KEY_ID = "AKIAUNKNOWNKEY000077"
URL_PASSWORD = "url-pass-31337"
# ``redis://:password@host``: a URL password with no user name.
NO_USER_URL_PASSWORD = "redis-pass-4242"

# The proxy's password (answers network): in the Secret and credentials.yaml only.
PROXY_USER, PROXY_PASSWORD = "svc-sinks", "proxy-pass-5a6b7c8d"

# A service account key as Google hands it out: pretty-printed, one field per line.
SA_KEY_ID = "sa-private-key-id-5e6f7a8b9c0d"
SA_EMAIL = "airbox-sinks@my-project.iam.gserviceaccount.com"
SA_MATERIAL = "sa-private-key-material-11223344"

# Files whose very purpose is to hold a secret (0600); every other file holds none.
SECRET_FILES = {"credentials.yaml", "secrets.yaml", "token.json", "registration.json", "kubeconfig"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def service_account(directory: Path) -> tuple[Path, str]:
    text = json.dumps(
        {
            "type": "service_account",
            "project_id": "my-project",
            "private_key_id": SA_KEY_ID,
            "private_key": f"-----BEGIN PRIVATE KEY-----\n{SA_MATERIAL}\n"
            "-----END PRIVATE KEY-----\n",
            "client_email": SA_EMAIL,
        },
        indent=2,
    )
    path = directory / "sa-pretty.json"
    path.write_text(text)
    return path, text


def answers(inst: Installer) -> tuple[Path, str]:
    """Google Secret Manager (a multi-line key) and S3 with keys (plain secrets)."""
    sa, sa_text = service_account(inst.tmp)
    data = inst.answers()
    data["secretsManager"] = af.secrets_manager("google", sa)
    # Nothing is reached through it (every host here is loopback, kept out of the proxy).
    data["network"] = {"httpsProxy": f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.9:3128"}
    return inst.write(data), sa_text


def leaky_output(sa_text: str) -> list[str]:
    """What a tool prints that carries every form of secret, one per line."""
    return [
        "plain: client secret " + af.SECRETS["dp_secret"],
        "base64: data " + b64(af.SECRETS["s3_secret"]),
        *sa_text.splitlines(),
        "Authorization: Bearer " + BEARER_TOKEN,
        "aws key " + AWS_KEY_ID + " was refused",
        f"proxy https://bob:{URL_PASSWORD}@proxy.example:3128",
        f"cache redis://:{NO_USER_URL_PASSWORD}@cache.example:6379",
    ]


# What each line of ``leaky_output`` must become. The key file, when it reaches a sink
# line by line (a tool's streamed output), has each line masked whole (each is a secret of
# its own) and its braces left; when it reaches a sink in one piece (an exception's
# message, a pod log read whole), it is one mask. The rest keeps all but the secret.
_BEFORE = [f"plain: client secret {MASK}", f"base64: data {MASK}"]
_AFTER = [
    f"Authorization: Bearer {MASK}",
    f"aws key {MASK} was refused",
    f"proxy https://bob:{MASK}@proxy.example:3128",
    f"cache redis://:{MASK}@cache.example:6379",
]
MASKED_BY_LINE = [*_BEFORE, "{", *[f"  {MASK}"] * 5, "}", *_AFTER]
MASKED_WHOLE = [*_BEFORE, MASK, *_AFTER]


def known_forms() -> list[str]:
    """Secrets airbox knows from the settings (the key file's too): allowed only in its
    secret files."""
    values = [
        af.SECRETS["dp_secret"],
        af.SECRETS["s3_secret"],
        af.SECRETS["s3_access"],
        af.SECRETS["dp_id"],
        PROXY_PASSWORD,
    ]
    return (
        values
        + [b64(v) for v in values]
        + [SA_KEY_ID, SA_EMAIL, SA_MATERIAL, b64(f"{PROXY_USER}:{PROXY_PASSWORD}")]
    )


def foreign_forms() -> list[str]:
    """Secrets that only the tool printed: nowhere, ever."""
    return [BEARER_TOKEN, AWS_KEY_ID, URL_PASSWORD, NO_USER_URL_PASSWORD]


def leaks(text: str, forms: list[str]) -> list[str]:
    return [form for form in forms if form in text]


def airbox(
    inst: Installer, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [airbox_bin(), *args], capture_output=True, text=True, env=inst.env(), timeout=180, cwd=cwd
    )


def state_files(inst: Installer) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in inst.state.rglob("*") if p.is_file()}


def assert_state_dir_clean(inst: Installer) -> None:
    files = state_files(inst)
    assert files, "nothing written?"
    for path, data in files.items():
        text = data.decode("utf-8", errors="replace")
        assert leaks(text, foreign_forms()) == [], path
        if path.name in SECRET_FILES:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        else:
            assert leaks(text, known_forms()) == [], path


def run_logs(inst: Installer) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((inst.state / "logs").glob("*.log"))}


def bundle_members(path: Path) -> dict[str, str]:
    with tarfile.open(path, "r:gz") as archive:
        out: dict[str, str] = {}
        for member in archive.getmembers():
            handle = archive.extractfile(member)
            if handle is not None:
                out[member.name] = handle.read().decode("utf-8", errors="replace")
        return out


def assert_masked_lines(text: str, where: str, *, whole: bool = False) -> None:
    """The masked lines, in order, each ending a line of ``text`` (a log's lines start
    with a time stamp, the terminal's with the step's indent)."""
    wanted = list(MASKED_WHOLE if whole else MASKED_BY_LINE)
    for line in text.splitlines():
        if wanted and line.rstrip().endswith(wanted[0]):
            wanted.pop(0)
    assert wanted == [], (where, wanted, text)


def test_a_tools_output_is_masked_on_the_terminal_in_the_log_and_in_the_bundle(
    installer: Installer, tmp_path: Path
) -> None:
    inst = installer
    path, sa_text = answers(inst)
    output = "\n".join(leaky_output(sa_text))
    # The chart install fails, printing every form of secret (once: the re-run succeeds).
    inst.fake.add_fault("helm", ["upgrade", "--install"], "fail", times=1, stderr=output)

    failed = inst.run("-v", answers=path)
    assert failed.returncode == 5, failed.stderr
    terminal = failed.stdout + failed.stderr
    assert leaks(terminal, known_forms() + foreign_forms()) == []
    # -v echoes each line as it comes, and the error repeats the tool's last words.
    assert_masked_lines(terminal, "terminal")
    assert terminal.count(f"Authorization: Bearer {MASK}") == 2, failed.stderr
    [log] = run_logs(inst).values()
    assert_masked_lines(log, "run log")
    assert_state_dir_clean(inst)

    # The re-run finishes; the launcher then logs the same forms.
    done = inst.run(answers=path)
    assert done.returncode == 0, done.stderr
    inst.fake.set_scenario(log_lines=leaky_output(sa_text))
    logs = airbox(inst, "logs")
    assert logs.returncode == 0, logs.stderr
    assert leaks(logs.stdout + logs.stderr, known_forms() + foreign_forms()) == []
    assert_masked_lines(logs.stdout, "airbox logs")

    work = tmp_path / "bundle"
    work.mkdir()
    made = airbox(inst, "support-bundle", "-o", str(work))
    assert made.returncode == 0, made.stderr
    assert leaks(made.stdout + made.stderr, known_forms() + foreign_forms()) == []
    [archive] = list(work.glob("*.tar.gz"))
    raw = archive.read_bytes()
    members = bundle_members(archive)
    everything = "".join(name + text for name, text in members.items())
    assert leaks(everything, known_forms() + foreign_forms()) == []
    # Every byte of the archive, tar headers included.
    assert (
        leaks(
            gzip.decompress(raw).decode("utf-8", errors="replace"), known_forms() + foreign_forms()
        )
        == []
    )
    [failed_log] = [
        text
        for name, text in members.items()
        if "/airbox-logs/" in name and "Authorization" in text
    ]
    assert_masked_lines(failed_log, "bundled run log")
    [pod_log] = [
        text
        for name, text in members.items()
        if "/pod-logs/" in name
        and name.endswith(".log")
        and not name.endswith(".previous.log")
        and "launcher" in text.lower()
    ]
    assert_masked_lines(pod_log, "bundled pod log", whole=True)
    assert_state_dir_clean(inst)

    # A collector that fails with those words: its error, on the terminal and in
    # errors.txt, is the tool's last line, masked.
    inst.fake.add_fault("kubectl", ["describe", "pods"], "fail", stderr=output)
    second = tmp_path / "second.tar.gz"
    made = airbox(inst, "support-bundle", "-o", str(second))
    assert made.returncode == 0, made.stderr
    last = f"pods-describe: cache redis://:{MASK}@cache.example:6379"
    assert last in made.stderr
    members = bundle_members(second)
    [errors] = [text for name, text in members.items() if name.endswith("/errors.txt")]
    assert errors == last + "\n"
    assert (
        leaks(
            made.stdout
            + made.stderr
            + gzip.decompress(second.read_bytes()).decode("utf-8", errors="replace"),
            known_forms() + foreign_forms(),
        )
        == []
    )


# ------------------------------------------------------------- the unexpected-error handler

# Runs airbox with one step of install broken by a bug: the exception's message carries
# every form of secret (as a repr of the wrong data would).
_BUGGY = """
import os, sys
from airbox.ops import install

def broken(self, ctx, line):
    raise RuntimeError(os.environ["SINKS_BUG_MESSAGE"])

install.CheckChart.run = broken
from airbox.cli.main import main
main(sys.argv[1:])
"""


def test_an_unexpected_error_says_it_is_a_bug_points_at_the_log_and_masks_secrets(
    installer: Installer,
) -> None:
    inst = installer
    path, sa_text = answers(inst)
    message = "\n".join(leaky_output(sa_text))
    env = inst.env(SINKS_BUG_MESSAGE=message)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _BUGGY,
            "install",
            "--yes",
            "--ignore-preflight-failures",
            "--answers",
            str(path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )

    assert result.returncode == 1, result.stderr
    terminal = result.stdout + result.stderr
    assert leaks(terminal, known_forms() + foreign_forms()) == []
    # No traceback for the user: what happened, that it is a bug, what to do, the log.
    assert "Traceback" not in terminal
    assert f"✗ unexpected error: RuntimeError: plain: client secret {MASK}" in result.stderr
    assert (
        "this is a bug in airbox; run the command again with -v, and report it with "
        "`airbox support-bundle`"
    ) in result.stderr
    assert_masked_lines(result.stderr, "terminal", whole=True)
    [(name, log)] = run_logs(inst).items()
    assert f"  log: {inst.state / 'logs' / name}" in result.stderr.splitlines()
    # The log has the whole story: the traceback down to the line that raised.
    assert "unexpected error\nTraceback (most recent call last):" in log
    assert "airbox/ops/pipeline.py" in log and ", in broken\n" in log
    assert f"RuntimeError: plain: client secret {MASK}\n" in log
    assert_masked_lines(log, "run log", whole=True)
    assert_state_dir_clean(inst)
    progress: dict[str, Any] = json.loads((inst.state / "progress.json").read_text())
    assert progress["steps"]["secret"]["status"] == "done", progress
    assert progress["steps"]["check-chart"]["status"] == "failed", progress
    assert progress["steps"]["check-chart"]["error"].startswith(
        f"unexpected error: RuntimeError: plain: client secret {MASK}"
    ), progress


# ------------------------------------------------------------------ the typed-error handler

# A step fails with airbox's own error type, its message and details quoting what some
# other program said (as an API's or a tool's error text would).
_FAILING = """
import os, sys
from airbox.errors import ClusterError
from airbox.ops import install

def failing(self, ctx, line):
    lines = os.environ["SINKS_ERROR_TEXT"].splitlines()
    raise ClusterError("the chart check failed: " + lines[0], details=lines[1:],
                       hint="fix it; " + lines[-1])

install.CheckChart.run = failing
from airbox.cli.main import main
main(sys.argv[1:])
"""


def test_a_typed_error_is_reported_masked_on_the_terminal_in_the_log_and_in_progress(
    installer: Installer,
) -> None:
    inst = installer
    path, sa_text = answers(inst)
    env = inst.env(SINKS_ERROR_TEXT="\n".join(leaky_output(sa_text)))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _FAILING,
            "install",
            "--yes",
            "--ignore-preflight-failures",
            "--answers",
            str(path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )

    assert result.returncode == 5, result.stderr
    terminal = result.stdout + result.stderr
    assert leaks(terminal, known_forms() + foreign_forms()) == []
    assert "Traceback" not in terminal and "unexpected error" not in terminal
    lines = result.stderr.splitlines()
    assert f"✗ the chart check failed: plain: client secret {MASK}" in lines
    assert f"  next: fix it; cache redis://:{MASK}@cache.example:6379" in lines
    assert_masked_lines(result.stderr, "terminal")
    [(name, log)] = run_logs(inst).items()
    assert f"  log: {inst.state / 'logs' / name}" in lines
    assert f"ERROR the chart check failed: plain: client secret {MASK} | " in log
    assert f"Authorization: Bearer {MASK}; aws key {MASK} was refused" in log
    assert_state_dir_clean(inst)
    progress: dict[str, Any] = json.loads((inst.state / "progress.json").read_text())
    assert progress["steps"]["check-chart"]["status"] == "failed"
    assert progress["steps"]["check-chart"]["error"] == (
        f"the chart check failed: plain: client secret {MASK}"
    )


# ---------------------------------------------------------------- the masks, by value


def test_a_url_password_without_a_user_name_is_masked_in_every_mask() -> None:
    from airbox.ops.bundle import mask as bundle_mask
    from airbox.redact import REDACTOR, looks_like_credential

    text = f"redis://:{NO_USER_URL_PASSWORD}@cache.example:6379/0"
    masked = f"redis://:{MASK}@cache.example:6379/0"
    assert REDACTOR.mask_all(text) == masked
    assert REDACTOR.mask_shapes(text) == masked
    assert bundle_mask(text) == masked
    assert looks_like_credential(text)


def test_the_error_handlers_mask_keeps_field_names_and_masks_credential_shapes() -> None:
    from airbox.redact import REDACTOR

    REDACTOR.add(af.SECRETS["dp_secret"])
    # airbox's own words about a field stay readable ...
    own = "values.db.password: looks like a credential in plain Helm values"
    assert REDACTOR.mask_shapes(own) == own
    # ... while what only a credential looks like, and what airbox knows, is masked.
    quoted = (
        f"{af.SECRETS['dp_secret']} / {b64(af.SECRETS['dp_secret'])} / "
        f"Authorization: Bearer {BEARER_TOKEN} / {AWS_KEY_ID} / "
        f"https://bob:{URL_PASSWORD}@proxy.example / "
        "AccountName=a;AccountKey=c2VjcmV0a2V5;EndpointSuffix=x"
    )
    assert REDACTOR.mask_shapes(quoted) == (
        f"{MASK} / {MASK} / Authorization: Bearer {MASK} / {MASK} / "
        f"https://bob:{MASK}@proxy.example / AccountName=a;AccountKey={MASK};EndpointSuffix=x"
    )
