"""Persistence through ``dataset``: an SQLite file by default, MySQL/MariaDB by URL.

Every table has the same four columns: ``key`` (primary), ``cloud``, ``data`` (JSON text, since
MariaDB reflects JSON columns as LONGTEXT) and ``version`` (optimistic concurrency between two
MiniCloud processes).  Tables and columns are created once at open, outside any transaction,
because DDL commits implicitly on MySQL.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from .dburl import describe_url, explain
from .errors import StaleError, StoreError
from .kinds import TABLES

log = logging.getLogger(__name__)

META_TABLE = "minicloud_meta"
SCHEMA_VERSION = 1
KEY_LENGTH = 255
CLOUD_LENGTH = 64


def record_key(cloud: str, ident: str) -> str:
    return f"{cloud}/{ident}"


class Table:
    """One keyed table of JSON records, with optimistic versions."""

    def __init__(self, store: Store, name: str):
        self.store = store
        self.name = name

    @property
    def _sa(self) -> Any:
        return self.store.sa_table(self.name)

    def rows(self, cloud: str | None = None) -> list[tuple[dict[str, Any], int]]:
        """``(data, version)`` of every record (of one cloud)."""
        t = self._sa
        query = t.select()
        if cloud is not None:
            query = query.where(t.c.cloud == cloud)
        with self.store.transaction():
            result = self.store.db.executable.execute(query).fetchall()
        return [(json.loads(row.data), row.version) for row in result]

    def get(self, key: str) -> tuple[dict[str, Any], int] | None:
        t = self._sa
        with self.store.transaction():
            row = self.store.db.executable.execute(t.select().where(t.c.key == key)).first()
        return None if row is None else (json.loads(row.data), row.version)

    def put(self, key: str, cloud: str, data: dict[str, Any], expected: int | None = None) -> int:
        """Write a record; return its new version.

        ``expected`` is the version the writer read (``None``: write whatever is there, the
        driver-owned tables' way).  A mismatch raises :class:`StaleError` and writes nothing.
        """
        if len(key) > KEY_LENGTH or len(cloud) > CLOUD_LENGTH:
            raise StoreError(f"key too long for the store: {key[:80]}")
        t = self._sa
        text = json.dumps(data, sort_keys=True)
        conn = self.store.db.executable
        with self.store.transaction():
            if expected is None:
                row = conn.execute(t.select().where(t.c.key == key)).first()
                version = (row.version if row is not None else 0) + 1
                if row is None:
                    conn.execute(t.insert().values(key=key, cloud=cloud, data=text,
                                                   version=version))
                else:
                    conn.execute(t.update().where(t.c.key == key)
                                 .values(cloud=cloud, data=text, version=version))
                return version
            if expected == 0:
                if conn.execute(t.select().where(t.c.key == key)).first() is not None:
                    raise StaleError(f"{key} was created meanwhile by another MiniCloud; "
                                     "refreshed, try again")
                conn.execute(t.insert().values(key=key, cloud=cloud, data=text, version=1))
                return 1
            result = conn.execute(t.update().where(t.c.key == key, t.c.version == expected)
                                  .values(cloud=cloud, data=text, version=expected + 1))
            if result.rowcount != 1:
                raise StaleError(f"{key} was changed meanwhile by another MiniCloud; "
                                 "refreshed, try again")
            return expected + 1

    def delete(self, key: str, expected: int | None = None) -> None:
        t = self._sa
        query = t.delete().where(t.c.key == key)
        if expected:
            query = query.where(t.c.version == expected)
        with self.store.transaction():
            result = self.store.db.executable.execute(query)
            if expected and result.rowcount != 1:
                raise StaleError(f"{key} was changed meanwhile by another MiniCloud; "
                                 "refreshed, try again")

    def delete_cloud(self, cloud: str) -> None:
        t = self._sa
        with self.store.transaction():
            self.store.db.executable.execute(t.delete().where(t.c.cloud == cloud))

    def put_many(self, records: Iterable[tuple[str, str, dict[str, Any]]]) -> dict[str, int]:
        """Unversioned bulk write: one query to read versions, then batched inserts and updates.

        Returns the new version of each key.  This is how a sync writes what a cloud reports.
        """
        import sqlalchemy

        records = list(records)
        if not records:
            return {}
        for key, cloud, _ in records:
            if len(key) > KEY_LENGTH or len(cloud) > CLOUD_LENGTH:
                raise StoreError(f"key too long for the store: {key[:80]}")
        t = self._sa
        conn = self.store.db.executable
        versions: dict[str, int] = {}
        with self.store.transaction():
            keys = [key for key, _, _ in records]
            for i in range(0, len(keys), 500):
                query = sqlalchemy.select(t.c.key, t.c.version).where(t.c.key.in_(keys[i:i + 500]))
                versions.update({row.key: row.version for row in conn.execute(query)})
            inserts, updates = [], []
            for key, cloud, data in records:
                text = json.dumps(data, sort_keys=True)
                if key in versions:
                    versions[key] += 1
                    updates.append({"b_key": key, "b_cloud": cloud, "b_data": text,
                                    "b_version": versions[key]})
                else:
                    versions[key] = 1
                    inserts.append({"key": key, "cloud": cloud, "data": text, "version": 1})
            if inserts:
                conn.execute(t.insert(), inserts)
            if updates:
                conn.execute(t.update().where(t.c.key == sqlalchemy.bindparam("b_key")).values(
                    cloud=sqlalchemy.bindparam("b_cloud"), data=sqlalchemy.bindparam("b_data"),
                    version=sqlalchemy.bindparam("b_version")), updates)
        return versions

    def delete_many(self, keys: Iterable[str]) -> None:
        t = self._sa
        keys = list(keys)
        with self.store.transaction():
            for i in range(0, len(keys), 500):
                self.store.db.executable.execute(t.delete().where(t.c.key.in_(keys[i:i + 500])))


class Store:
    """MiniCloud's database.  ``open()`` connects and creates every table."""

    def __init__(self, url: str, extra_tables: Iterable[str] = ()):
        self.url = url
        self.db: Any = None
        self._extra = list(extra_tables)
        self._tables: dict[str, Table] = {}
        self._sa_tables: dict[str, Any] = {}
        self._metadata: Any = None
        self._lock = threading.RLock()

    # -- opening -------------------------------------------------------------------------------

    def open(self) -> Store:
        if self.db is not None:
            return self
        import dataset  # heavy (alembic); imported only when the store is first needed
        import sqlalchemy

        self._metadata = sqlalchemy.MetaData()
        self._sa_tables = {}

        url = self.url
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        try:
            if path and path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
            if url.startswith("sqlite"):
                # A second process writing the same file waits this long, then says "busy".
                engine_kwargs["connect_args"] = {"timeout": 5}
            db = dataset.connect(url, engine_kwargs=engine_kwargs, ensure_schema=False)
            self.db = db
            self._ensure_database()
            self._create_tables()
        except (sqlalchemy.exc.SQLAlchemyError, ValueError) as exc:
            self.db = None
            raise StoreError(self.explain(exc)) from None
        except OSError as exc:
            self.db = None
            raise StoreError(f"store {describe_url(url)}: cannot create its folder: "
                             f"{exc.strerror}") from None
        return self

    def _ensure_database(self) -> None:
        """Create a missing MySQL database when the account may; otherwise say how."""
        import sqlalchemy

        try:
            self.db.executable.execute(sqlalchemy.text("SELECT 1"))
            self.db.executable.commit()
        except sqlalchemy.exc.OperationalError as exc:
            code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
            if code != 1049:  # ER_BAD_DB_ERROR: unknown database
                raise
            self.db.close()
            parts = urlsplit(self.url)
            name = parts.path.lstrip("/")
            server = sqlalchemy.create_engine(urlunsplit(parts._replace(path="/")))
            try:
                with server.connect() as conn:
                    conn.execute(sqlalchemy.text(
                        f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4"))
                    conn.commit()
            except sqlalchemy.exc.SQLAlchemyError:
                raise StoreError(
                    f"database {name!r} does not exist on {describe_url(self.url)} and this "
                    f"account may not create it; run: CREATE DATABASE `{name}` "
                    "CHARACTER SET utf8mb4;") from None
            finally:
                server.dispose()
            import dataset

            self.db = dataset.connect(self.url, engine_kwargs={"pool_pre_ping": True},
                                      ensure_schema=False)

    def _create_tables(self) -> None:
        db = self.db
        names = [*TABLES.values(), *self._extra]
        existing = set(db.tables)
        current = False
        if META_TABLE in existing:
            row = db[META_TABLE].find_one(name="schema")
            db.executable.commit()  # end the read transaction (MySQL snapshot, SQLite lock)
            current = row is not None and row["value"] == str(SCHEMA_VERSION)
        for name in names:
            if name not in existing:
                table = db.create_table(name, primary_id="key",
                                        primary_type=db.types.string(KEY_LENGTH),
                                        primary_increment=False)
                table.create_column("cloud", db.types.string(CLOUD_LENGTH), index=True)
                table.create_column("data", db.types.text)
                table.create_column("version", db.types.integer, nullable=False,
                                    server_default="0")
            elif not current:
                self._migrate(name)
        if META_TABLE not in existing:
            meta = db.create_table(META_TABLE, primary_id="name",
                                   primary_type=db.types.string(64), primary_increment=False)
            meta.create_column("value", db.types.string(255))
        # Written only when it changes: a reader must not need the write lock to start.
        if not current:
            db[META_TABLE].upsert({"name": "schema", "value": str(SCHEMA_VERSION)}, ["name"])

    def _migrate(self, name: str) -> None:
        """Bring a table written by an older MiniCloud to the current columns."""
        db = self.db
        table = db.load_table(name)
        if "version" not in table.columns:  # a store written before row versions
            table.create_column("version", db.types.integer, nullable=False,
                                server_default="0")
            # Version 0 means "not yet written"; existing rows are at version 1.
            db.executable.execute(table.table.update().values(version=1))
            db.executable.commit()
            log.info("migrated table %s: added row versions", name)

    def sa_table(self, name: str) -> Any:
        """The SQLAlchemy table; declared here rather than reflected (faster to open)."""
        import sqlalchemy as sa

        self.open()
        if name not in self._sa_tables:
            self._sa_tables[name] = sa.Table(
                name, self._metadata,
                sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
                sa.Column("cloud", sa.String(CLOUD_LENGTH)),
                sa.Column("data", sa.Text),
                sa.Column("version", sa.Integer, nullable=False))
        return self._sa_tables[name]

    def add_tables(self, names: Iterable[str]) -> None:
        """Tables a driver keeps (e.g. the Stub cloud's); created now, outside transactions."""
        new = [n for n in names if n not in self._extra]
        self._extra.extend(new)
        if self.db is not None and new:
            self._create_tables()

    def explain(self, exc: BaseException) -> str:
        """One line for a database failure: where, what, what to check; never the password."""
        return explain(self.url, exc)

    # -- use -----------------------------------------------------------------------------------

    def table(self, name: str) -> Table:
        if name not in self._tables:
            self._tables[name] = Table(self, name)
        return self._tables[name]

    def kind(self, kind: str) -> Table:
        return self.table(TABLES[kind])

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One transaction; nested uses join the outer one (dataset flattens them)."""
        import sqlalchemy

        self.open()
        with self._lock:
            try:
                with self.db:
                    yield self
            except sqlalchemy.exc.SQLAlchemyError as exc:
                raise StoreError(self.explain(exc)) from None

    def load(self, kind: str) -> list[tuple[dict[str, Any], int]]:
        return self.kind(kind).rows()

    def load_all(self, kinds: Iterable[str]) -> dict[str, list[tuple[dict[str, Any], int]]]:
        """Every record of the given kinds: what start-up reads, one query per table.

        An SQLite store whose schema is current is read with the standard library's sqlite3:
        importing dataset (SQLAlchemy and alembic with it) costs about 0.4 s, more than all the
        rest of ``minicloud topology``.  The store is opened through dataset at the first write.
        """
        kinds = list(kinds)
        if self.db is None:
            records = self._read_sqlite(kinds)
            if records is not None:
                return records
        return {kind: self.load(kind) for kind in kinds}

    def _read_sqlite(self, kinds: list[str]) -> dict[str, list[tuple[dict[str, Any], int]]] | None:
        """The records, or None when this is no SQLite file ready to read (first start...)."""
        import sqlite3

        if not self.url.startswith("sqlite:///"):
            return None
        path = self.url[len("sqlite:///"):]
        if not path or path == ":memory:" or not os.path.isfile(path):
            return None
        try:
            conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            return None
        try:
            row = conn.execute(f"SELECT value FROM {META_TABLE} WHERE name = 'schema'").fetchone()
            if row is None or row[0] != str(SCHEMA_VERSION):
                return None  # an older store: the full open migrates it
            return {kind: [(json.loads(data), version) for data, version in
                           conn.execute(f'SELECT data, version FROM "{TABLES[kind]}"')]
                    for kind in kinds}
        except sqlite3.Error:
            return None  # e.g. a table is missing: the full open creates it
        finally:
            conn.close()

    def drop_all(self) -> None:
        """Drop MiniCloud's tables (and the drivers'): the next start is a first start."""
        self.open()
        for name in list(self.db.tables):
            self.db[name].drop()
        self._tables.clear()
        self._sa_tables.clear()
        self.close()

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
