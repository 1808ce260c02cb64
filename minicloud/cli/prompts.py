"""Reading a keyboard: numbered menus, questions with defaults, confirmations, pickers.

A piped script is read line by line from the stream, as typed.  At a terminal (stdin and
stdout both one) a line is read through ``input()`` with GNU readline loaded: arrows, Home/End
and Up for the earlier answers work as in a shell; a password is still read by ``getpass``,
with no echo and no history.  End of input raises :class:`EndOfInput`; a picker's ``Cancel``
raises :class:`Cancelled`.  Bad input never raises: it gives one line and the question again.
"""

from __future__ import annotations

import getpass
import sys
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, TextIO, TypeVar

from ..model.errors import ValidationError
from ..model.printable import printable

T = TypeVar("T")

# Longer answers are refused with one line (names are 64 characters, locations 255).
MAX_INPUT = 1000
# Line and paragraph separators and control characters have no place in an answer.
_BAD_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}


class EndOfInput(Exception):
    """The input ended (Ctrl-D, or a piped script ran out)."""


class Cancelled(Exception):
    """The user chose ``Cancel`` in a picker."""


def input_problem(text: str) -> str | None:
    """The one line explaining why ``text`` cannot be an answer, or None when it can."""
    if len(text) > MAX_INPUT:
        return f"That is too long: {MAX_INPUT} characters at most."
    if "\ufffd" in text:
        return "That is not valid UTF-8 text."
    if any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in text):
        return "Control characters are not allowed."
    return None


def one_line(text: object, limit: int = 300) -> str:
    """The first line of ``text``, shortened to ``limit`` characters."""
    lines = str(text).strip().splitlines()
    first = lines[0] if lines else ""
    return first if len(first) <= limit else first[: limit - 3] + "..."


class Prompter:
    def __init__(self, input: TextIO | None = None, output: TextIO | None = None):
        self.input = input if input is not None else sys.stdin
        self.output = output if output is not None else sys.stdout
        self._editing: bool | None = None  # line editing, decided at the first read
        # Told after each answer is read: time has passed (the menu's app then asks the store
        # what moved before its next read).
        self.answered: Callable[[], None] | None = None

    # -- output --------------------------------------------------------------------------------

    def write(self, text: str) -> None:
        self.output.write(text)
        self.output.flush()

    def say(self, line: str = "") -> None:
        self.write(line + "\n")

    def progress(self, text: str) -> None:
        """A line about a long wait while an entry runs (a login, a server booting): the
        observer the menu's app is built with."""
        self.say(f"  ... {text}")

    # -- input ---------------------------------------------------------------------------------

    def read_line(self, prompt: str, history: bool = True) -> str:
        """Show ``prompt`` (no newline) and read one line, without its line ending.  At a
        terminal the line can be edited; with ``history`` it is offered again by Up (menu
        numbers and y/n are not worth recalling)."""
        line = self._read_line(prompt, history)
        self._tell_answered()
        return line

    def _tell_answered(self) -> None:
        if self.answered is not None:
            self.answered()

    def _read_line(self, prompt: str, history: bool) -> str:
        if self._editing is None:
            self._editing = (self.input is sys.stdin and self.output is sys.stdout
                             and _isatty(self.input) and _isatty(self.output)
                             and _load_readline())
        if self._editing:
            return _edited_line(prompt, history)
        self.write(prompt)
        line = self.input.readline()
        if not line:
            raise EndOfInput()
        if line.endswith("\n"):
            line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
        return line

    def _choose(self, title: str, entries: Sequence[str], default: int | None) -> int:
        count = len(entries)
        lines = ["", f"[ {title} ]"]
        lines += [f"[{i}] : {entry}" for i, entry in enumerate(entries, 1)]
        menu_text = "\n".join(lines) + "\n"
        prompt = f"Make a choice : [{default}] " if default else "Make a choice : "
        while True:
            self.write(menu_text)
            answer = self.read_line(prompt, history=False).strip()
            if not answer and default:
                return default
            if answer.isascii() and answer.isdigit() and len(answer) <= 6 \
                    and 1 <= int(answer) <= count:
                return int(answer)
            # An entry typed as shown (a cloud type, "Cancel"...) counts as its number.
            named = [i for i, entry in enumerate(entries, 1)
                     if entry.casefold() == answer.casefold()]
            if len(named) == 1:
                return named[0]
            self.say(f"Please pick a number between 1 and {count}.")

    def menu(self, title: str, entries: Sequence[str]) -> int:
        """A numbered menu; returns the chosen number (1-based).  Enter takes 1."""
        return self._choose(title, entries, 1)

    def ask(self, label: str, default: str | None = None,
            validate: Callable[[str], Any] | None = None) -> str:
        """One answer.  ``validate`` may raise ValidationError/ValueError (its text is shown)
        or return a normalised value.  A default of ``""`` makes the answer optional."""
        prompt = f"{label} : [{default}] " if default else f"{label} : "
        while True:
            raw = self.read_line(prompt)
            problem = input_problem(raw)
            if problem and len(raw) > MAX_INPUT and validate is not None:
                # The field's own limit (a name's 64 characters) says more than ours.
                try:
                    validate(raw.strip())
                except (ValidationError, ValueError) as err:
                    problem = one_line(err) or problem
            if problem:
                self.say(problem)
                continue
            answer = raw.strip()
            if not answer:
                if default is None:
                    self.say("A value is required.")
                    continue
                answer = default
                if not answer:
                    return answer
            if validate is not None:
                try:
                    checked = validate(answer)
                except (ValidationError, ValueError) as err:
                    self.say(one_line(err) or "That value is not valid.")
                    continue
                if isinstance(checked, str):
                    answer = checked
            return answer

    def confirm(self, question: str) -> bool:
        """A yes/no question; Enter means no."""
        while True:
            answer = self.read_line(f"{question} [y/N] ", history=False).strip().lower()
            if answer in ("", "n", "no"):
                return False
            if answer in ("y", "yes"):
                return True
            self.say("Please answer y or n.")

    def pick(self, label: str, items: Sequence[T], describe: Callable[[T], str] = str,
             default: T | None = None, empty: str | None = None) -> T:
        """One of ``items`` from a numbered list ending with ``Cancel`` (which raises
        :class:`Cancelled`).  A single candidate is the default."""
        if not items:
            self.say(empty or f"There is nothing to choose as {label.lower()}.")
            raise Cancelled()
        # Entries name the clouds' objects: their text is shown escaped (printable).
        entries = [printable(describe(item)) for item in items] + ["Cancel"]
        number: int | None = None
        if len(items) == 1:
            number = 1
        elif default is not None:
            number = next((i for i, item in enumerate(items, 1) if item == default), None)
        choice = self._choose(label, entries, number)
        if choice == len(entries):
            raise Cancelled()
        return items[choice - 1]

    def secret(self, label: str, required: bool = True) -> str:
        """A password: read with no echo on a terminal, else a plain line; never shown."""
        use_tty = self.input is sys.stdin and _isatty(self.input)
        while True:
            if use_tty:
                try:
                    raw = getpass.getpass(f"{label} : ")
                except EOFError:
                    raise EndOfInput() from None
                self._tell_answered()
            else:
                raw = self.read_line(f"{label} : ")
            if len(raw) > MAX_INPUT or "\ufffd" in raw or "\n" in raw:
                self.say(input_problem(raw) or "That is not a valid password.")
                continue
            if not raw and required:
                self.say("A value is required.")
                continue
            return raw


def _load_readline() -> bool:
    """Load GNU readline, which ``input()`` then uses at a terminal; False when this Python
    has none (lines are read plainly then)."""
    try:
        import readline
    except ImportError:
        return False
    # A paste is typed text here: no bracketed-paste escape codes around each prompt.
    readline.parse_and_bind("set enable-bracketed-paste off")
    return True


def _edited_line(prompt: str, history: bool) -> str:
    """One line read by ``input()`` (readline shows the prompt and handles the keys)."""
    import readline

    sys.stdout.flush()
    try:
        line = input(prompt)
    except EOFError:
        raise EndOfInput() from None
    if not history and line.strip():
        # readline keeps every line; a menu number or a y/n is dropped again.
        readline.remove_history_item(readline.get_current_history_length() - 1)
    return line


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
