"""Paths users hit that no other test walked: `verify --keep` and `verify --connection`,
and what a terminal shows (live step lines, colour) against a pipe or ``NO_COLOR``."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
import threading
from pathlib import Path

from tests.fake_control_plane import FakeControlPlane, fake_cp  # noqa: F401
from tests.helpers import airbox_bin
from tests.installer import Installer
from tests.test_verify import installed, verify

# ------------------------------------------------------------------------------ verify


def test_verify_keep_leaves_the_throwaway_connection_and_connection_syncs_it_alone(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
) -> None:
    inst, cp = installer, fake_cp
    installed(inst, cp)
    kept = verify(inst, cp, "--keep", "--json")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    report = json.loads(kept.stdout)
    assert report["result"] == "passed"
    assert report["removed"] == []
    # Kept objects are named outside the clean-up prefix (airbox-verify-<name>-), dated.
    [source_name] = [i["name"] for i in report["created"] if i["kind"] == "source"]
    assert re.fullmatch(
        rf"airbox-kept-{re.escape(inst.name)}-\d{{8}}-\d{{6}}-faker", source_name
    ), source_name
    prefix = source_name.removesuffix("faker")
    assert sorted((i["kind"], i["name"]) for i in report["created"]) == [
        ("connection", prefix + "connection"),
        ("destination", prefix + "dev-null"),
        ("source", prefix + "faker"),
    ]
    assert [c["connectionId"] for c in cp.live("connections")] == [report["connectionId"]]
    assert [s["name"] for s in cp.live("sources")] == [prefix + "faker"]
    assert [d["name"] for d in cp.live("destinations")] == [prefix + "dev-null"]
    assert cp.calls("DELETE") == []

    connection_id = report["connectionId"]

    # --connection syncs the user's connection: nothing created, nothing deleted.
    posts = {
        kind: len(cp.calls("POST", f"/v1/{kind}"))
        for kind in ("sources", "destinations", "connections")
    }
    deletes = len(cp.calls("DELETE"))
    own = verify(inst, cp, "--connection", connection_id, "--json")
    assert own.returncode == 0, own.stdout + own.stderr
    result = json.loads(own.stdout)
    assert result["result"] == "passed" and result["status"] == "succeeded"
    assert result["connectionId"] == connection_id
    assert result["created"] == [] and result["removed"] == []
    assert result["leftoversRemoved"] == []
    job = cp.jobs[result["jobId"]]
    assert job["connectionId"] == connection_id
    assert result["pods"] == [
        {"name": f"replication-job-{result['jobId']}-attempt-0", "phase": "Succeeded"}
    ]
    assert {kind: len(cp.calls("POST", f"/v1/{kind}")) for kind in posts} == posts
    assert len(cp.calls("DELETE")) == deletes
    assert connection_id in [c["connectionId"] for c in cp.live("connections")]

    # A failing sync of the user's connection: exit 1 with the reason; still nothing deleted.
    cp.job_script = ["pending", "running", "failed"]
    failed = verify(inst, cp, "--connection", connection_id)
    assert failed.returncode == 1, failed.stderr
    assert "failed: source: Something went wrong in the connector" in failed.stderr
    assert len(cp.calls("DELETE")) == deletes
    assert connection_id in [c["connectionId"] for c in cp.live("connections")]

    # A later throwaway run cleans up after itself and leaves the kept objects alone.
    cp.job_script = ["pending", "running", "succeeded"]
    plain = verify(inst, cp, "--json")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    after = json.loads(plain.stdout)
    assert after["leftoversRemoved"] == []
    assert sorted(i["name"] for i in after["removed"]) == sorted(
        f"airbox-verify-{inst.name}-{what}" for what in ("connection", "dev-null", "faker")
    )
    assert sorted(s["name"] for s in cp.live("sources")) == [prefix + "faker"]
    assert connection_id in [c["connectionId"] for c in cp.live("connections")]

    # Without --json the user is told what was kept, with the ids.
    told = verify(inst, cp, "--keep")
    assert told.returncode == 0, told.stderr
    [kept_line] = [line for line in told.stderr.splitlines() if "kept: " in line]
    prefix = re.search(r"source (\S+)faker \(", kept_line).group(1)  # type: ignore[union-attr]
    live = {c["name"]: c["connectionId"] for c in cp.live("connections")}
    assert f"connection {prefix}connection ({live[prefix + 'connection']})" in kept_line
    assert f"source {prefix}faker (" in kept_line
    assert f"destination {prefix}dev-null (" in kept_line


# ---------------------------------------------------------------------------- terminal

# SGR codes that set a colour (foreground or background, 8/16/256/true colour).
_COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ", re.M)


def on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``argv`` with stderr on a pseudo-terminal (120 columns); stdout piped."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
            env=env,
            timeout=180,
        )
    finally:
        os.close(slave)
    reader.join(timeout=30)
    os.close(master)
    return proc.returncode, proc.stdout.decode(), b"".join(chunks).decode(errors="replace")


def install_argv(answers: Path) -> list[str]:
    return [
        airbox_bin(),
        "install",
        "--yes",
        "--ignore-preflight-failures",
        "--answers",
        str(answers),
    ]


def test_a_terminal_gets_live_step_lines_and_colour_a_pipe_and_no_color_do_not(
    installer: Installer,
) -> None:
    inst = installer
    answers = inst.write()

    code, _, screen = on_a_terminal(install_argv(answers), inst.env())
    assert code == 0, screen
    # Each step ran as a live line: the cursor hidden, a spinner frame, then the ✓ line
    # in green; no time stamps (those are for logs and pipes).
    assert "\x1b[?25l" in screen
    assert any(frame in screen for frame in _SPINNER), screen
    assert re.search(r"\x1b\[32m✓ ?(\x1b\[0m)?\s*Create the kind cluster", screen), screen
    assert _STAMP.search(screen) is None

    # The same on a terminal with NO_COLOR: still live lines, no colour at all.
    # (A re-run: each step looks, finds its work done, and says so.)
    code, _, plain_screen = on_a_terminal(install_argv(answers), inst.env(NO_COLOR="1"))
    assert code == 0, plain_screen
    assert any(frame in plain_screen for frame in _SPINNER), plain_screen
    assert "✓ " in plain_screen
    assert _COLOUR.search(plain_screen) is None, repr(plain_screen)

    # Piped: no escape sequence at all; each event a time-stamped line.
    piped = inst.run(answers=answers)
    assert piped.returncode == 0, piped.stderr
    assert "\x1b" not in piped.stdout + piped.stderr
    assert not any(frame in piped.stderr for frame in _SPINNER)
    lines = [line for line in piped.stderr.splitlines() if line.strip()]
    assert lines and all(_STAMP.match(line) or line.startswith("  ") for line in lines), lines
    assert any(re.match(_STAMP.pattern + r"✓ ", line) for line in lines), lines
