"""How airbox asks: questionary behind ``Prompter``, so tests can drive it through
prompt_toolkit's pipe input, and the shape of a credentials check.

What is asked, and in which order, is ``interview``'s; the review screen is ``review``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Validator = Callable[[str], "bool | str"]


@dataclass(frozen=True)
class Refusal:
    """Why the control plane did not accept credentials. ``certain``: it said they are
    wrong; otherwise its answer means "wrong, or I failed" (the data plane token endpoint
    answers 500 for both), so typing the same ones again keeps them."""

    message: str
    certain: bool = True


# (root: "registration" or "dataPlane", answers so far) -> why the control plane did not
# accept the credentials at answers[root], or None when accepted (or when it could not
# tell: unreachable, an odd answer).
CredentialCheck = Callable[[str, Mapping[str, Any]], "Refusal | None"]


class Prompter:
    """questionary, with optional prompt_toolkit input/output (for tests)."""

    def __init__(
        self,
        *,
        input: Any = None,
        output: Any = None,
        before_each: Callable[[], None] | None = None,
    ) -> None:
        # before_each: called as each question opens (tests type its keys then).
        self._before = before_each or (lambda: None)
        self._io: dict[str, Any] = {}
        if input is not None:
            self._io["input"] = input
        if output is not None:
            self._io["output"] = output

    def note(self, text: str, *, style: str = "fg:ansibrightblack") -> None:
        """A line of help or feedback printed above the next question."""
        from prompt_toolkit import print_formatted_text
        from prompt_toolkit.formatted_text import FormattedText

        output = self._io.get("output")
        if output is not None and type(output).__name__ == "DummyOutput":
            return
        print_formatted_text(FormattedText([(style, text)]), output=output)

    def text(self, message: str, *, default: str = "", validate: Validator | None = None) -> str:
        import questionary

        self._before()
        answer = questionary.text(
            message, default=default, validate=validate, **self._io
        ).unsafe_ask()
        return str(answer).strip()

    def password(self, message: str, *, validate: Validator | None = None) -> str:
        import questionary

        self._before()
        return str(questionary.password(message, validate=validate, **self._io).unsafe_ask())

    def select(
        self, message: str, choices: Sequence[tuple[str, str]], *, default: str | None = None
    ) -> str:
        """``choices``: (value, label) pairs; returns the chosen value."""
        import questionary

        self._before()
        items = [questionary.Choice(title=label, value=value) for value, label in choices]
        chosen = next((c for c in items if c.value == default), None)
        answer = questionary.select(
            message, choices=items, default=chosen, use_shortcuts=False, **self._io
        ).unsafe_ask()
        return str(answer)

    def autocomplete(
        self, message: str, choices: Sequence[str], *, validate: Validator | None = None
    ) -> str:
        """Free text with completion from ``choices``: the list shows as the question opens
        (without it the prompt looks empty until Tab is pressed) and narrows as one types."""
        import questionary

        if not choices:
            # questionary refuses an autocomplete without choices: plain text then.
            return self.text(message, validate=validate)
        self._before()
        question = questionary.autocomplete(
            message, choices=list(choices), validate=validate, match_middle=True, **self._io
        )
        app = question.application
        app.pre_run_callables.append(
            lambda: app.current_buffer.start_completion(select_first=False)
        )
        return str(question.unsafe_ask()).strip()

    def checkbox(self, message: str, choices: Sequence[tuple[str, str, bool]]) -> list[str]:
        """``choices``: (value, label, checked) triples; returns the checked values."""
        import questionary

        self._before()
        items = [
            questionary.Choice(title=label, value=value, checked=checked)
            for value, label, checked in choices
        ]
        answer = questionary.checkbox(message, choices=items, **self._io).unsafe_ask()
        return [str(value) for value in answer or []]

    def confirm(self, message: str, *, default: bool = False) -> bool:
        import questionary

        self._before()
        return bool(questionary.confirm(message, default=default, **self._io).unsafe_ask())
