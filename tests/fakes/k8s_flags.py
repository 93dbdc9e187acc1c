"""Command lines as the real tools read them: cobra finds the (sub)command, pflag parses its
flags. Each command allows only the flags airbox (or a test) passes it; any other flag or
command is refused as the real tool refuses an unknown one, with its words and exit 1:

- spf13/pflag flag.go (parseLongArg, parseSingleShortArg): ``unknown flag: --NAME``,
  ``unknown shorthand flag: 'C' in -C``, ``flag needs an argument``, and
  ``invalid argument "V" for "--NAME" flag: ...`` (strconv.ParseBool/ParseInt,
  time.ParseDuration);
- spf13/cobra args.go (legacyArgs): ``unknown command "W" for "PATH"``;
- how each tool prints them: kind's cmd/kind/app/main.go ``ERROR: ``; helm, through cobra
  (command.go ExecuteC), ``Error: `` and ``Run 'helm --help' for usage.``; kubectl
  ``error: `` and its flag error function (staging/src/k8s.io/kubectl/pkg/util/templates/
  templater.go) ``See 'kubectl CMD --help' for usage.``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .k8s_state import Ctx, Obj, UsageError


@dataclass(frozen=True)
class Flag:
    name: str
    short: str | None = None
    kind: str = "str"  # bool | str | slice (repeatable, comma-split) | int | dur
    default: Any = None

    def display(self) -> str:
        return f"-{self.short}, --{self.name}" if self.short else f"--{self.name}"


def F(name: str, short: str | None = None, kind: str = "str", default: Any = None) -> Flag:
    return Flag(name, short, kind, default)


def B(name: str, short: str | None = None) -> Flag:
    return Flag(name, short, "bool", False)


Handler = Callable[[Ctx, Obj, list[str]], int]


@dataclass(frozen=True)
class Cmd:
    handler: Handler
    flags: tuple[Flag, ...] = ()


@dataclass(frozen=True)
class Tool:
    tree: dict[str, Any]
    globals: tuple[Flag, ...]


# pflag's value parsing: strconv.ParseBool, strconv.ParseInt, time.ParseDuration

GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
GO_DURATION = re.compile(r"^[-+]?(0|(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")


def parse_bool(value: str, flag: Flag) -> bool:
    if value in GO_TRUE:
        return True
    if value in GO_FALSE:
        return False
    raise UsageError(
        f'invalid argument "{value}" for "{flag.display()}" flag: '
        f'strconv.ParseBool: parsing "{value}": invalid syntax'
    )


def convert(flag: Flag, value: str) -> Any:
    if flag.kind == "int":
        try:
            return int(value)
        except ValueError:
            raise UsageError(
                f'invalid argument "{value}" for "{flag.display()}" flag: '
                f'strconv.ParseInt: parsing "{value}": invalid syntax'
            ) from None
    if flag.kind == "dur" and not GO_DURATION.match(value):
        raise UsageError(
            f'invalid argument "{value}" for "{flag.display()}" flag: '
            f'time: invalid duration "{value}"'
        )
    return value


def store_flag(opts: Obj, flag: Flag, value: Any) -> None:
    if flag.kind == "slice":
        opts[flag.name].extend(v for v in str(value).split(",") if v)
    else:
        opts[flag.name] = value


def parse_flags(argv: list[str], flags: Iterable[Flag]) -> tuple[Obj, list[str]]:
    """Parse interspersed flags and positionals like pflag; unknown flags are errors."""
    flags = list(flags)
    by_long = {f.name: f for f in flags}
    by_short = {f.short: f for f in flags if f.short}
    opts: Obj = {f.name: [] if f.kind == "slice" else f.default for f in flags}
    args: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            args.extend(argv[i + 1 :])
            break
        if a.startswith("--") and len(a) > 2:
            name, eq, val = a[2:].partition("=")
            flag = by_long.get(name)
            if flag is None:
                raise UsageError(f"unknown flag: --{name}")
            if flag.kind == "bool":
                store_flag(opts, flag, parse_bool(val, flag) if eq else True)
            elif eq:
                store_flag(opts, flag, convert(flag, val))
            else:
                if i + 1 >= len(argv):
                    raise UsageError(f"flag needs an argument: --{name}")
                i += 1
                store_flag(opts, flag, convert(flag, argv[i]))
        elif a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                c = a[j]
                flag = by_short.get(c)
                if flag is None:
                    raise UsageError(f"unknown shorthand flag: '{c}' in {a}")
                rest = a[j + 1 :]
                if flag.kind == "bool":
                    if rest.startswith("="):
                        store_flag(opts, flag, parse_bool(rest[1:], flag))
                        break
                    store_flag(opts, flag, True)
                    j += 1
                    continue
                if rest.startswith("="):
                    rest = rest[1:]
                if rest:
                    store_flag(opts, flag, convert(flag, rest))
                else:
                    if i + 1 >= len(argv):
                        raise UsageError(f"flag needs an argument: '{c}' in -{c}")
                    i += 1
                    store_flag(opts, flag, convert(flag, argv[i]))
                break
        else:
            args.append(a)
        i += 1
    return opts, args


def duration_seconds(value: str) -> float:
    total = 0.0
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    for num, unit in re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", value):
        total += float(num) * units[unit]
    return -total if value.startswith("-") else total


def format_duration(seconds: float) -> str:
    """Go's time.Duration.String() for whole seconds."""
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


# cobra


class NeedSubcommand(Exception):
    def __init__(self, path: list[str], node: dict[str, Any]) -> None:
        super().__init__(" ".join(path))
        self.path = path
        self.node = node


def find_command(tool: Tool, argv: list[str]) -> tuple[list[str], Cmd, list[str]]:
    """Cobra's command lookup: the first non-flag words select the (sub)command."""
    value_long = {f.name for f in tool.globals if f.kind != "bool"}
    value_short = {f.short for f in tool.globals if f.short and f.kind != "bool"}
    node: Any = tool.tree
    path: list[str] = []
    used: set[int] = set()
    i = 0
    while isinstance(node, dict):
        while i < len(argv):
            a = argv[i]
            if a == "--":
                i = len(argv)
                break
            if a.startswith("--") and len(a) > 2:
                i += 2 if ("=" not in a and a[2:] in value_long) else 1
            elif a.startswith("-") and len(a) > 1:
                i += 2 if (len(a) == 2 and a[1] in value_short) else 1
            else:
                break
        if i >= len(argv):
            raise NeedSubcommand(path, node)
        word = argv[i]
        if word not in node:
            where = " ".join(["TOOL", *path])
            raise UsageError(f'unknown command "{word}" for "{where}"')
        node = node[word]
        path.append(word)
        used.add(i)
        i += 1
    return path, node, [a for k, a in enumerate(argv) if k not in used]


def usage_error(tool: str, path: list[str], message: str) -> str:
    message = message.replace('"TOOL', f'"{tool}')
    if tool == "kind":
        return f"ERROR: {message}\n"
    if tool == "helm":
        return f"Error: {message}\n" + (
            "Run 'helm --help' for usage.\n" if message.startswith("unknown command") else ""
        )
    where = " ".join(["kubectl", *path])
    return f"error: {message}\nSee '{where} --help' for usage.\n"


def print_help(tool: str, path: list[str], node: dict[str, Any]) -> None:
    sys.stdout.write(f"Usage:\n  {' '.join([tool, *path])} [command]\n\nAvailable Commands:\n")
    for name in sorted(node):
        sys.stdout.write(f"  {name}\n")


def no_args(ctx: Ctx, args: list[str]) -> None:
    if args:
        raise UsageError(f'unknown command "{args[0]}" for "{ctx.tool} {" ".join(ctx.path)}"')
