"""Showing text that came from a cloud: control characters escaped, so that a name or a status
can neither draw a fake line in the tree nor move the terminal's cursor.  The one place that
does it: the tree's layout and the listings' cells use it."""

from __future__ import annotations


def _escape(char: str) -> str:
    return char if char.isprintable() else char.encode("unicode_escape").decode("ascii")


def printable(text: str) -> str:
    """``text`` with each non-printable character as its escape (``\\n``, ``\\x1b``...)."""
    if text.isprintable():  # nearly always: the C check, no copy
        return text
    return "".join(_escape(c) for c in text)
