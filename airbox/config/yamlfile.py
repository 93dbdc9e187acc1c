"""The one way airbox reads YAML a user can touch: bounded, and quiet about its content.

The answers file, ``settings.yaml`` and ``credentials.yaml`` go through ``load_yaml``:
at most ``MAX_BYTES``, nested at most ``MAX_DEPTH`` levels (PyYAML composes nodes
recursively, so a deeper file would end in a RecursionError), and at most ``MAX_NODES``
values, also once every alias is expanded — aliases themselves are fine, but a few hundred
bytes of nested aliases (a "billion laughs") would otherwise expand to millions of
values in every later walk of the settings. Each limit is checked before anything is
built, so a hostile file is refused well within a second.

A refusal or a syntax error is a ``YamlProblem``: its ``reason`` names the position
(line and column) and the parser's own words unless they quote the file.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 128_000
MAX_DEPTH = 50
# An answers file has a few hundred; pure-Python PyYAML needs tens of µs per node.
MAX_NODES = 5_000


class YamlProblem(ValueError):
    """Why a YAML text was not loaded; ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Refused(yaml.YAMLError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _BoundedLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._composed = 0

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # The scanner looks ahead over a run of "[[[[…" to resolve possible keys,
        # quadratically: stop at the limit before composing is reached.
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(
                f"nested deeper than {MAX_DEPTH} levels (line {self.get_mark().line + 1})"
            )
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _Refused(f"nested deeper than {MAX_DEPTH} levels (line {mark.line + 1})")
            self._composed += 1
            if self._composed > MAX_NODES:
                raise _Refused(f"holds more than {MAX_NODES} values")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_: set[int]) -> int:
    """How many values ``node`` stands for with its aliases expanded (capped)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise _Refused("an alias refers to the value that contains it (a recursive alias)")
    open_.add(key)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _expanded_size(child, sizes, open_)
            if total > MAX_NODES:
                break
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            total += _expanded_size(key_node, sizes, open_)
            total += _expanded_size(value_node, sizes, open_)
            if total > MAX_NODES:
                break
    open_.discard(key)
    if total > MAX_NODES:
        raise _Refused(f"expands to more than {MAX_NODES} values (aliases of aliases?)")
    sizes[key] = total
    return total


def load_yaml(text: str, *, quote: bool = True) -> Any:
    """Parse one YAML document within the limits; raise ``YamlProblem`` saying why not.

    ``quote=False``: the reason gives the position, and the parser's message only when
    it quotes nothing of the text (it can: an unquoted password starting with ``*`` is
    "found undefined alias '<the rest of it>'").
    """
    if len(text) > MAX_BYTES:
        raise YamlProblem(f"is larger than {MAX_BYTES // 1000} kB")
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set())
        return loader.construct_document(node)
    except _Refused as exc:
        raise YamlProblem(exc.reason) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        if not quote and problem and ("'" in problem or '"' in problem):
            # "found undefined alias 'Xy9…'": an unquoted password starting with "*".
            problem = None
        reason = "malformed YAML " + where if where else "malformed YAML"
        raise YamlProblem(f"{reason}: {problem}" if problem else reason) from None
    except RecursionError:  # belt and braces: the depth limit should come first
        raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
