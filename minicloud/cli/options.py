"""The options that come before COMMAND, declared once: the entry point parses them and
``minicloud help`` lists them."""

from __future__ import annotations

# (flag, metavar or None for a switch, help)
GLOBAL_OPTIONS: tuple[tuple[str, str | None, str], ...] = (
    ("--config", "PATH", "configuration file (minicloud.ini)"),
    ("--debug", None, "log every remote call to stderr as well as to the log file"),
    ("--demo", None, "build the README's demo deployment when the store holds no clouds"),
    ("--version", None, "print minicloud's version and exit"),
)
