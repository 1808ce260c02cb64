"""Start-up reads of a current SQLite store with the standard library's sqlite3.

Importing SQLAlchemy costs more than the rest of ``minicloud topology``: a store whose schema
is current is read without it; anything else (new, older, newer, another backend) returns None
and takes the full open.
"""

from __future__ import annotations

import os
from urllib.parse import quote

from .kinds import TABLES
from .table import META_TABLE, Record, decode

SQLITE_BUSY_SECONDS = 5


def read_sqlite(url: str, kinds: list[str], schema: int, skipped: list[str],
                ) -> tuple[dict[str, list[Record]], dict[str, int]] | None:
    """The records, or None when this is no SQLite file ready to read (first start...)."""
    import sqlite3

    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):]
    if not path or path == ":memory:" or not os.path.isfile(path):
        return None
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True,
                               timeout=SQLITE_BUSY_SECONDS)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute(f"SELECT value FROM {META_TABLE} WHERE name = 'schema'").fetchone()
        if row is None or row[0] != str(schema):
            return None  # new, older or newer: the full open deals with it
        out: dict[str, list[Record]] = {}
        for kind in kinds:
            table = TABLES[kind]
            records = out[kind] = []
            for key, text, version in conn.execute(
                    f'SELECT key, data, version FROM "{table}"'):
                data = decode(table, key, text, skipped)
                if data is not None:
                    records.append((data, version))
        generations = {name[len("lock/"):]: int(value or 0) for name, value in conn.execute(
            f"SELECT name, value FROM {META_TABLE} WHERE name LIKE 'lock/%'")}
        return out, generations
    except sqlite3.Error:
        return None  # e.g. a table is missing: the full open creates it
    finally:
        conn.close()
