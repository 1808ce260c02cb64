"""The meta table's rows, one kind each, and what each kind must hold to be read.

- ``schema``: the schema version, a whole number (written last when the schema is made);
- ``store_id``: the store's random id, letters and digits (saved views are kept under it);
- ``lock/NAME``: a write lock and its generation, a whole number from 0, one per cloud (NAME)
  and one for the whole store (``lock/*``); every write of what it covers bumps it;
- ``token/NAME``: ``GENERATION:RANDOM``, written with each bump of lock NAME (a number, then
  letters and digits): what tells those rows apart from any other rows at that generation;
- ``held/NAME``: on a Galera node only, a random value written each time lock NAME is taken
  (state/store.py: two holders on two nodes then collide); never read, so never unreadable;
- ``destroying``: an older MiniCloud's flag that a Destroy was under way; being there is what
  it says, whatever it holds (state/unit_of_work.py reads it, then clears it).

A row that holds anything else is unreadable: it is named like an unreadable record, and never
rewritten on that account, except a lock row by a write under that lock, which sets it past
every number a session may hold (see Store._take), and a token by the next bump.  Rows of
other names are a newer MiniCloud's: left alone.  SQLite keeps any type in any column, so a
number may come back as a number rather than as the text MiniCloud writes: that is the same
number.
"""

from __future__ import annotations

from typing import Any

from .table import META_TABLE

SCHEMA = "schema"
IDENTITY = "store_id"
LOCK_PREFIX = "lock/"
TOKEN_PREFIX = "token/"


def lock_row(name: str) -> str:
    """The meta row of lock ``name`` (a cloud's name, or the store's lock)."""
    return f"{LOCK_PREFIX}{name}"


def row_name(name: str) -> str:
    """How an unreadable meta row is named to the user: table and key, as records are."""
    return f"{META_TABLE}/{name}"


def number(value: Any) -> int | None:
    """A generation or schema version: a whole number from 0; None when ``value`` is none."""
    if type(value) is int:
        return value if value >= 0 else None
    if type(value) is str and value.isascii() and value.isdigit():
        return int(value)
    return None


def token(value: Any) -> str | None:
    """A lock's token: ``GENERATION:RANDOM``."""
    if type(value) is not str:
        return None
    written, colon, random = value.partition(":")
    if not colon or number(written) is None or not (random.isascii() and random.isalnum()):
        return None
    return value


def identity(value: Any) -> str | None:
    """The store's id: letters and digits (what a saved view's folder is named after)."""
    if type(value) is str and value.isascii() and value.isalnum():
        return value
    return None
