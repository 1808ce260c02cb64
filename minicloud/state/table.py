"""One keyed table of JSON records with versions, on SQLAlchemy Core.

Every table has the same five columns: ``key`` (primary), ``cloud``, ``name`` (the object's
name, indexed with ``cloud``: a write looks a name up without reading the cloud), ``data`` (JSON
text, since MariaDB reflects JSON columns as LONGTEXT) and ``version`` (optimistic concurrency
between two MiniCloud processes).  Names are not unique: a cloud may hold two foreign objects of
one name.  Each call runs in the store's current transaction, or in one of its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..model.errors import StaleError, StoreError

log = logging.getLogger(__name__)

KEY_LENGTH = 255
CLOUD_LENGTH = 64
# The indexed copy of a name is cut here; a lookup compares the whole name afterwards.
NAME_LENGTH = 191
BATCH = 500
META_TABLE = "minicloud_meta"


class Database(Protocol):
    """What a table needs of the store (kept abstract: the store holds its tables)."""

    def transaction(self, write: bool = False) -> AbstractContextManager[Any]: ...

    def sa_table(self, name: str) -> Any: ...

    @property
    def skipped(self) -> list[str]: ...

Record = tuple[dict[str, Any], int]


def record_key(cloud: str, ident: str) -> str:
    return f"{cloud}/{ident}"


def decode(table: str, key: str, text: str | None,
           skipped: list[str] | None = None) -> dict[str, Any] | None:
    """A row's data, or None (logged, and named in ``skipped``) when it is no JSON object: a
    newer MiniCloud's, or damaged.  Such rows are skipped, never rewritten."""
    try:
        data = json.loads(text) if text is not None else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        log.warning("skipped unreadable row %s/%s", table, key)
        if skipped is not None:
            skipped.append(f"{table}/{key}")
        return None
    return data


def name_of(data: dict[str, Any]) -> str:
    """The indexed column's value for a record: its name, cut to the column's length."""
    name = data.get("name")
    return name[:NAME_LENGTH] if isinstance(name, str) else ""


def encode(data: dict[str, Any]) -> str:
    # Compact and key-sorted: the same object always gives the same text (a row's text can
    # be searched for a fragment, see Table.rows).
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _check_lengths(key: str, cloud: str) -> None:
    if len(key) > KEY_LENGTH or len(cloud) > CLOUD_LENGTH:
        raise StoreError(f"key too long for the store: {key[:80]}")


class Table:
    def __init__(self, store: Database, name: str):
        self.store = store
        self.name = name

    @property
    def sa(self) -> Any:
        return self.store.sa_table(self.name)

    def rows(self, cloud: str | None = None, name: str | None = None,
             contains: str | None = None) -> list[Record]:
        """``(data, version)`` of every readable record (of one cloud; of that name, by the
        index; whose JSON text holds ``contains``, a filter the database applies so that only
        the rows that may match are read)."""
        t = self.sa
        query = t.select()
        if cloud is not None:
            query = query.where(t.c.cloud == cloud)
        if name is not None:
            query = query.where(t.c.name == name[:NAME_LENGTH])
        if contains is not None:
            query = query.where(t.c.data.contains(contains, autoescape=True))
        with self.store.transaction() as conn:
            result = conn.execute(query).fetchall()
        out = []
        for row in result:
            data = decode(self.name, row.key, row.data, self.store.skipped)
            if data is not None and (name is None or data.get("name") == name):
                out.append((data, row.version))
        return out

    def get(self, key: str) -> Record | None:
        t = self.sa
        with self.store.transaction() as conn:
            row = conn.execute(t.select().where(t.c.key == key)).first()
        if row is None:
            return None
        data = decode(self.name, key, row.data)
        return None if data is None else (data, row.version)

    def put(self, key: str, cloud: str, data: dict[str, Any], expected: int | None = None) -> int:
        """Write a record; return its new version.

        ``expected`` is the version the writer read (``None``: write whatever is there, the
        driver-owned tables' way).  A mismatch raises :class:`StaleError` and writes nothing.
        """
        _check_lengths(key, cloud)
        t = self.sa
        text = encode(data)
        name = name_of(data)
        with self.store.transaction(write=True) as conn:
            if expected is None:
                row = conn.execute(t.select().where(t.c.key == key)).first()
                version = (row.version if row is not None else 0) + 1
                if row is None:
                    conn.execute(t.insert().values(key=key, cloud=cloud, name=name, data=text,
                                                   version=version))
                else:
                    conn.execute(t.update().where(t.c.key == key)
                                 .values(cloud=cloud, name=name, data=text, version=version))
                return version
            if expected == 0:
                if conn.execute(t.select().where(t.c.key == key)).first() is not None:
                    raise StaleError(f"{key} was created meanwhile by another MiniCloud; "
                                     "refreshed, try again")
                conn.execute(t.insert().values(key=key, cloud=cloud, name=name, data=text,
                                               version=1))
                return 1
            result = conn.execute(t.update().where(t.c.key == key, t.c.version == expected)
                                  .values(cloud=cloud, name=name, data=text,
                                          version=expected + 1))
            if result.rowcount != 1:
                raise StaleError(f"{key} was changed meanwhile by another MiniCloud; "
                                 "refreshed, try again")
            return expected + 1

    def delete(self, key: str, expected: int | None = None) -> None:
        t = self.sa
        query = t.delete().where(t.c.key == key)
        if expected:
            query = query.where(t.c.version == expected)
        with self.store.transaction(write=True) as conn:
            result = conn.execute(query)
            if expected and result.rowcount != 1:
                raise StaleError(f"{key} was changed meanwhile by another MiniCloud; "
                                 "refreshed, try again")

    def delete_cloud(self, cloud: str) -> None:
        t = self.sa
        with self.store.transaction(write=True) as conn:
            conn.execute(t.delete().where(t.c.cloud == cloud))

    def delete_all(self) -> None:
        with self.store.transaction(write=True) as conn:
            conn.execute(self.sa.delete())

    def put_many(self, records: Iterable[tuple[str, str, dict[str, Any]]]) -> dict[str, int]:
        """Unversioned bulk write: one query to read versions, then batched inserts and updates.

        Returns the new version of each key.  This is how a sync writes what a cloud reports.
        """
        import sqlalchemy as sa

        records = list(records)
        if not records:
            return {}
        for key, cloud, _ in records:
            _check_lengths(key, cloud)
        t = self.sa
        versions: dict[str, int] = {}
        with self.store.transaction(write=True) as conn:
            keys = [key for key, _, _ in records]
            for i in range(0, len(keys), BATCH):
                query = sa.select(t.c.key, t.c.version).where(t.c.key.in_(keys[i:i + BATCH]))
                versions.update({row.key: row.version for row in conn.execute(query)})
            inserts, updates = [], []
            for key, cloud, data in records:
                text = encode(data)
                name = name_of(data)
                if key in versions:
                    versions[key] += 1
                    updates.append({"b_key": key, "b_cloud": cloud, "b_name": name,
                                    "b_data": text, "b_version": versions[key]})
                else:
                    versions[key] = 1
                    inserts.append({"key": key, "cloud": cloud, "name": name, "data": text,
                                    "version": 1})
            if inserts:
                conn.execute(t.insert(), inserts)
            if updates:
                conn.execute(t.update().where(t.c.key == sa.bindparam("b_key")).values(
                    cloud=sa.bindparam("b_cloud"), name=sa.bindparam("b_name"),
                    data=sa.bindparam("b_data"),
                    version=sa.bindparam("b_version")), updates)
        return versions

    def delete_many(self, keys: Iterable[str]) -> None:
        t = self.sa
        keys = list(keys)
        with self.store.transaction(write=True) as conn:
            for i in range(0, len(keys), BATCH):
                conn.execute(t.delete().where(t.c.key.in_(keys[i:i + BATCH])))
