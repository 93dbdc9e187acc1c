"""The state layout written at the top of ``airbox/paths.py`` names every file airbox keeps
(a newcomer reads it to find where something lives; it had lost five of them)."""

from __future__ import annotations

import re

from airbox import lock, paths
from airbox.config import gather
from airbox.controlplane import registration
from airbox.ops import install
from airbox.ops.preflight import command as preflight_command

# The names kept in $AIRBOX_HOME that other modules define, next to the code that uses them.
ELSEWHERE = {
    "gather.KEPT_FILE": gather.KEPT_FILE,
    "preflight.command.SEEN_WARNINGS_FILE": preflight_command.SEEN_WARNINGS_FILE,
    "registration.REGISTRATION_FILE": registration.REGISTRATION_FILE,
    "lock.LOCK_FILE": lock.LOCK_FILE,
    "install.DRY_RUN_DIR": install.DRY_RUN_DIR,
}


def test_the_layout_names_every_file_airbox_keeps() -> None:
    kept = {
        f"paths.{key}": value
        for key, value in vars(paths).items()
        if key.endswith(("_FILE", "_DIR")) and isinstance(value, str)
    }
    kept.update(ELSEWHERE)
    assert paths.__doc__
    written = set(re.findall(r"[\w.-]+", paths.__doc__))
    missing = {key: name for key, name in kept.items() if name not in written}
    assert not missing, f"add these to the layout in airbox/paths.py: {missing}"
    # The layout says where each name outside airbox.paths is defined.
    assert all(key in paths.__doc__ for key in ELSEWHERE)
