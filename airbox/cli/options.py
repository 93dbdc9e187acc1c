"""The options several commands share, declared once: --name, -y/--yes, -v/--verbose, --json.

Each is a decorator; a command lists the ones it has, so a flag and its help read the same
in every ``airbox CMD --help``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

NAME_HELP = "Which data plane (optional when there is only one)."
YES_HELP = (
    "Never prompt: take the default answer (yes), and fail listing anything that must be typed."
)


def not_empty(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--name ""`` is a mistake (an unset shell variable), not "no name given": an
    empty name must never fall back to "the only installed data plane"."""
    if value is not None and not value.strip():
        raise click.BadParameter("must not be empty", ctx=ctx, param=param)
    return value


def name_option(help: str = NAME_HELP) -> Callable[[F], F]:
    """``--name N``; ``help`` for a command that uses the name its own way."""
    return click.option("--name", callback=not_empty, help=help)


def yes_option(help: str = YES_HELP) -> Callable[[F], F]:
    return click.option("-y", "--yes", "assume_yes", is_flag=True, help=help)


def verbose_option(func: F) -> F:
    return click.option("-v", "--verbose", is_flag=True, help="Show every command and its output.")(
        func
    )


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(func)


def common_options(func: F) -> F:
    """--name, -y/--yes and -v/--verbose, in that order: commands that may ask, then change."""
    return name_option()(yes_option()(verbose_option(func)))
