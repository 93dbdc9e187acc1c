"""Options every command shares: --name, -y/--yes, -v/--verbose."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def common_options(func: F) -> F:
    func = click.option("-v", "--verbose", is_flag=True,
                        help="Show every command and its output.")(func)
    func = click.option("-y", "--yes", "assume_yes", is_flag=True,
                        help="Never prompt: take the default answer (yes), and fail listing "
                             "anything that must be typed.")(func)
    func = click.option("--name", help="Which data plane (optional when there is only one).")(
        func)
    return func


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(func)
