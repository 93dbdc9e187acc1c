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
    func = click.option("--name", callback=not_empty,
                        help="Which data plane (optional when there is only one).")(func)
    return func


def not_empty(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--name ""`` is a mistake (an unset shell variable), not "no name given": an
    empty name must never fall back to "the only installed data plane"."""
    if value is not None and not value.strip():
        raise click.BadParameter("must not be empty", ctx=ctx, param=param)
    return value


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(func)
