"""Reads of a current SQLite store with the standard library's sqlite3.

Importing SQLAlchemy costs more than the rest of ``minicloud topology``: a store whose schema
is current is read without it; anything else (new, older, newer, another backend) returns None
and takes the full open.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

from .kinds import TABLES
from .table import META_TABLE, NAME_LENGTH, Record, decode, record_key

SQLITE_BUSY_SECONDS = 5


@dataclass(frozen=True)
class Query:
    """Which rows of one kind to read: all, one cloud's, one key's, or one name's (by the
    index).  ``contains`` keeps only rows whose JSON text holds it (a filter the database
    applies; the caller checks the decoded rows)."""

    kind: str
    cloud: str | None = None
    key: str | None = None
    name: str | None = None
    contains: str | None = None

    def sql(self) -> tuple[str, list[str]]:
        where: list[str] = []
        params: list[str] = []
        if self.key is not None:
            where.append("key = ?")
            params.append(record_key(self.cloud or "", self.key))
        elif self.cloud is not None:
            where.append("cloud = ?")
            params.append(self.cloud)
        if self.name is not None:
            where.append("name = ?")
            params.append(self.name[:NAME_LENGTH])
        if self.contains is not None:
            where.append("instr(data, ?) > 0")
            params.append(self.contains)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return f'SELECT key, data, version FROM "{TABLES[self.kind]}"{clause}', params


def read_sqlite(url: str, queries: list[Query], schema: int, skipped: list[str],
                ) -> tuple[dict[str, list[Record]], dict[str, int]] | None:
    """The records of each query's kind, and every lock's generation; None when this is no
    SQLite file ready to read (first start...)."""
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
        conn.execute("BEGIN")  # one snapshot for the rows and the generations
        row = conn.execute(f"SELECT value FROM {META_TABLE} WHERE name = 'schema'").fetchone()
        if row is None or row[0] != str(schema):
            return None  # new, older or newer: the full open deals with it
        out: dict[str, list[Record]] = {}
        for query in queries:
            table = TABLES[query.kind]
            records = out.setdefault(query.kind, [])
            sql, params = query.sql()
            for key, text, version in conn.execute(sql, params):
                data = decode(table, key, text, skipped)
                if data is not None and (query.name is None or data.get("name") == query.name):
                    records.append((data, version))
        generations = {name[len("lock/"):]: int(value or 0) for name, value in conn.execute(
            f"SELECT name, value FROM {META_TABLE} WHERE name LIKE 'lock/%'")}
        return out, generations
    except sqlite3.Error:
        return None  # e.g. a table is missing: the full open creates it
    finally:
        conn.close()
