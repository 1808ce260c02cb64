"""Showing text that came from a cloud, in one place: a name or a status can neither draw a
fake line nor move the terminal's cursor.  The tree's layout and the listings' cells use
:func:`printable` (backslash escapes: ASCII, what a terminal shows whatever its encoding); the
pictures use :func:`visible` (a symbol per character: a label stays one short line)."""

from __future__ import annotations

import unicodedata

# Characters that would end a line (or an encoding) in any output format.
_UNSAFE_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}


def _escape(char: str) -> str:
    return char if char.isprintable() else char.encode("unicode_escape").decode("ascii")


def printable(text: str) -> str:
    """``text`` with each non-printable character as its escape (``\\n``, ``\\x1b``...)."""
    if text.isprintable():  # nearly always: the C check, no copy
        return text
    return "".join(_escape(c) for c in text)


def quoted(text: object, limit: int = 40) -> str:
    """What someone typed, in quotes and as typed (``'Zürich'``), cut at ``limit``
    characters, control characters escaped: for messages that refuse it."""
    text = str(text)
    cut = text if len(text) <= limit else text[:limit] + "..."
    return "'" + printable(cut).replace("'", "\\'") + "'"


def visible(text: str) -> str:
    """``text`` with each control, surrogate or line-separator character replaced by a visible
    one: C0 controls by their Control Pictures symbol (a newline reads ``␊``), others by ``�``."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if unicodedata.category(char) not in _UNSAFE_CATEGORIES:
            out.append(char)
        elif ord(char) < 0x20:
            out.append(chr(0x2400 + ord(char)))
        elif char == "\x7f":
            out.append("\u2421")
        else:
            out.append("\ufffd")
    return "".join(out)
