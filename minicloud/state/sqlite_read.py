"""Reads of a current SQLite store with the standard library's sqlite3.

Importing SQLAlchemy costs more than the rest of ``minicloud topology``: a store whose schema
is current is read without it; anything else (new, older, newer, another backend) returns None
and takes the full open.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..model.kinds import TABLES
from .dburl import StoreURL
from .meta import IDENTITY, LOCK_PREFIX, SCHEMA, TOKEN_PREFIX
from .table import META_TABLE, NAME_LENGTH, Record, read_row, record_key

SQLITE_BUSY_SECONDS = 5
# Every SQLite 3 database file starts with these 16 bytes.
SQLITE_HEADER = b"SQLite format 3\0"


def _connect_read_only(path: str, sqlite3: Any) -> Any:
    """A read-only connection to the file at ``path``: named by a ``file:`` URI, in which
    every character of the path is percent-escaped (a ``?`` or ``#`` in a folder's name would
    otherwise end the path)."""
    return sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True,
                           timeout=SQLITE_BUSY_SECONDS)


def check_sqlite_file(url: str | StoreURL) -> None:
    """Refuse an SQLite store file that is no database (or whose schema is damaged) in one
    line.  Cheap (16 bytes, then one read of the schema table), so the menu can say it
    before it is drawn rather than at the first choice."""
    import sqlite3

    from ..model.errors import StoreError
    from .dburl import describe_url

    url = StoreURL.of(url)
    path = url.sqlite_path
    if not path:
        return  # a server, or memory: opening the store says what is wrong
    try:
        with open(path, "rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError:
        return  # absent (a first start) or unreadable: opening the store says which
    if not header:
        return  # an empty file is an empty database
    where = describe_url(url)
    if header != SQLITE_HEADER:
        raise StoreError(f"store {where}: not an SQLite database (damaged, or another kind "
                         "of file); move it away or set [database] url to another file")
    try:
        conn = _connect_read_only(path, sqlite3)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return  # a writer holds it: not damage
        raise StoreError(f"store {where}: its schema is damaged ({exc}); move it away or "
                         "restore a copy") from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"store {where}: its schema is damaged ({exc}); move it away or "
                         "restore a copy") from None


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
        return (f'SELECT key, cloud, name, data, version FROM "{TABLES[self.kind]}"{clause}',
                params)


def read_sqlite(url: StoreURL, queries: list[Query], schema: int, skipped: list[str],
                ) -> tuple[dict[str, list[Record]], list[tuple[str, str]]] | None:
    """The records of each query's kind, and the meta rows of every lock's generation and
    token and of the store's id; None when this is no SQLite file ready to read (first start...)."""
    import sqlite3

    path = url.sqlite_path
    if not path or not os.path.isfile(path):
        return None
    try:
        conn = _connect_read_only(path, sqlite3)
    except sqlite3.Error:
        return None
    try:
        conn.execute("BEGIN")  # one snapshot for the rows and the generations
        row = conn.execute(f"SELECT value FROM {META_TABLE} WHERE name = ?",
                           (SCHEMA,)).fetchone()
        if row is None or row[0] != str(schema):
            return None  # new, older or newer: the full open deals with it
        out: dict[str, list[Record]] = {}
        for query in queries:
            table = TABLES[query.kind]
            records = out.setdefault(query.kind, [])
            sql, params = query.sql()
            for key, cloud, name, text, version in conn.execute(sql, params):
                record = read_row(table, key, cloud, name, text, version, skipped)
                if record is not None and (query.name is None
                                           or record[0].get("name") == query.name):
                    records.append(record)
        meta = conn.execute(f"SELECT name, value FROM {META_TABLE} "
                            "WHERE name LIKE ? OR name LIKE ? OR name = ?",
                            (f"{LOCK_PREFIX}%", f"{TOKEN_PREFIX}%", IDENTITY)).fetchall()
        return out, meta
    except sqlite3.Error:
        return None  # e.g. a table is missing: the full open creates it
    finally:
        conn.close()
