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
from ..model.kinds import KINDS
from ..model.shapes import Shape, shape

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

    def unreadable(self, table: str, key: str) -> bool: ...


Record = tuple[dict[str, Any], int]


def record_key(cloud: str, ident: str) -> str:
    return f"{cloud}/{ident}"


# The model class of each of MiniCloud's tables (a driver's own tables have none).
CLASSES: dict[str, type] = {k.table: k.cls for k in KINDS.values()}
# Their shapes, made at the first read of each.
_SHAPES: dict[str, Shape] = {}


def decode(table: str, key: str, text: str | None,
           skipped: list[str] | None = None) -> dict[str, Any] | None:
    """A row's data, or None (logged, and named in ``skipped``) when it is no JSON object: a
    newer MiniCloud's, or damaged.  Such rows are skipped, never rewritten."""
    try:
        # Text only: a column holding a number or bytes (SQLite keeps any type) is damage.
        data = json.loads(text) if type(text) is str else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        _skip(table, key, "its data is no JSON object", skipped)
        return None
    return data


def read_row(table: str, key: Any, cloud: Any, name: Any, text: Any, version: Any,
             skipped: list[str] | None) -> Record | None:
    """A row as ``(data, version)``, or None (logged, and named in ``skipped``) when any of
    its columns does not fit: the data is no object of the table's kind (model.shapes), the
    version is no whole number, or the key, cloud or name columns are not the ones the data
    gives (the indexes would find the row under another cloud or name).  Every read of a
    record passes here; what does not fit is skipped, never rewritten: a newer MiniCloud may
    share the store."""
    if type(key) is not str:
        _skip(table, repr(key), "its key is no text", skipped)
        return None
    data = decode(table, key, text, skipped)
    if data is None:
        return None
    kind = _SHAPES.get(table)
    if kind is None and table in CLASSES:
        kind = _SHAPES[table] = shape(CLASSES[table])
    found = _column_problem(key, cloud, name, version) if kind is None else \
        kind.problem(data) or _column_problem(key, cloud, name, version, kind, data)
    if found is not None:
        _skip(table, key, found, skipped)
        return None
    return data, version


def _column_problem(key: str, cloud: Any, name: Any, version: Any, kind: Shape | None = None,
                    data: dict[str, Any] | None = None) -> str | None:
    if type(version) is not int:
        return "its version is no whole number"
    if kind is None or data is None:
        return None  # a driver's own table: its rows are its business
    owner_field, ident_field = kind.key_fields
    owner = data[owner_field]
    if key != record_key(owner, data[ident_field]):
        return "its key is not the one its data gives"
    if cloud != owner:
        return "its cloud column is not the one its data gives"
    if name != name_of(data):
        return "its name column is not the one its data gives"
    return None


def _skip(table: str, key: str, why: str, skipped: list[str] | None) -> None:
    log.warning("skipped unreadable row %s/%s: %s", table, key, why)
    if skipped is not None:
        skipped.append(f"{table}/{key}")


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

    def _kept(self, key: str, version: Any, stored_cloud: Any, cloud: str) -> bool:
        """A row of MiniCloud's that a write must leave as it is: this session found it
        unreadable (a newer MiniCloud's, or damaged), or its version is no number, or its
        cloud column is not its key's (reads by cloud never see it).  Such a row is never
        rewritten; removing its object removes it."""
        if self.name not in CLASSES:
            return False  # a driver's own table: its rows are its business
        if type(version) is not int or stored_cloud != cloud or \
                self.store.unreadable(self.name, key):
            log.warning("unreadable row %s/%s left as it is, not rewritten", self.name, key)
            if f"{self.name}/{key}" not in self.store.skipped:  # not met by a read yet
                self.store.skipped.append(f"{self.name}/{key}")
            return True
        return False

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
            record = read_row(self.name, row.key, row.cloud, row.name, row.data, row.version,
                              self.store.skipped)
            if record is not None and (name is None or record[0].get("name") == name):
                out.append(record)
        return out

    def get(self, key: str) -> Record | None:
        t = self.sa
        with self.store.transaction() as conn:
            row = conn.execute(t.select().where(t.c.key == key)).first()
        if row is None:
            return None
        return read_row(self.name, row.key, row.cloud, row.name, row.data, row.version,
                        self.store.skipped)

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
                if row is not None and self._kept(key, row.version, row.cloud, cloud):
                    return row.version if type(row.version) is int else 0
                version = (row.version if row is not None else 0) + 1
                if row is None:
                    conn.execute(t.insert().values(key=key, cloud=cloud, name=name, data=text,
                                                   version=version))
                else:
                    conn.execute(t.update().where(t.c.key == key)
                                 .values(cloud=cloud, name=name, data=text, version=version))
                return version
            if self.name in CLASSES and self.store.unreadable(self.name, key):
                raise StoreError(f"row {self.name}/{key} of the store is unreadable (a newer "
                                 "MiniCloud's, or damaged) and is not rewritten")
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
        A row found unreadable is left as it is (its version is returned as it stands).
        """
        import sqlalchemy as sa

        records = list(records)
        if not records:
            return {}
        for key, cloud, _ in records:
            _check_lengths(key, cloud)
        t = self.sa
        versions: dict[str, int] = {}
        stored_clouds: dict[str, Any] = {}
        with self.store.transaction(write=True) as conn:
            keys = [key for key, _, _ in records]
            for i in range(0, len(keys), BATCH):
                query = sa.select(t.c.key, t.c.cloud, t.c.version).where(
                    t.c.key.in_(keys[i:i + BATCH]))
                for row in conn.execute(query):
                    versions[row.key] = row.version
                    stored_clouds[row.key] = row.cloud
            inserts, updates = [], []
            for key, cloud, data in records:
                if key in versions and self._kept(key, versions[key], stored_clouds[key], cloud):
                    if type(versions[key]) is not int:
                        versions[key] = 0
                    continue
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
