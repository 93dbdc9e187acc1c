"""Text that came from the network, made safe to print.

A workspace, region or organization name, an error's title or detail: anyone who can name
a workspace chooses those bytes. Before they reach a terminal, ``shown`` removes escape
sequences and control characters (which could retitle the window, clear the screen or
forge lines) and caps the length; what was cut goes to the run log, not the screen.
``Terminal`` strips the same characters from everything it prints, as a second line.
"""

from __future__ import annotations

import re

# ESC sequences: CSI (ESC [ ... final), OSC/DCS/APC/PM/SOS strings (ended by BEL or ESC \),
# and two-character escapes; then the C1 equivalents of CSI and OSC.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
)
# What is left of C0 and C1, DEL, and the Unicode controls that reorder or hide text.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_CONTROLS_KEEP_LINES = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)

# A name rarely runs past a line; an error's detail may say more.
NAME_LIMIT = 200


def shown(value: object, limit: int | None = NAME_LIMIT) -> str:
    """``value`` as text fit for a terminal: one line, no escape sequences or control
    characters, at most ``limit`` characters (the whole text goes to the run log)."""
    text = _ESCAPES.sub("", str(value if value is not None else ""))
    text = _CONTROLS.sub(" ", text)
    if limit is not None and len(text) > limit:
        from airbox import runlog

        cut = len(text) - limit
        where = "in the log" if runlog.current_file() else "not shown"
        runlog.logger().info(
            "text from the control plane, shown cut at %d characters: %s", limit, text
        )
        text = f"{text[:limit]}… ({cut} more characters {where})"
    return text


def printable(text: str) -> str:
    """``text`` with escape sequences and control characters removed, lines kept: what
    the terminal writes, whatever its origin."""
    return _CONTROLS_KEEP_LINES.sub("", _ESCAPES.sub("", text))
