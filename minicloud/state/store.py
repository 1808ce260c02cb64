"""Persistence: an SQLite file by default, MySQL/MariaDB by URL.

Reads and writes go through SQLAlchemy Core on one engine.  The schema is created and repaired
through ``dataset``, and only when the store is new, older or half-made: importing dataset
(alembic with it) costs about 0.4 s, more than a whole one-shot command.  Creating the schema is
idempotent and writes the schema version last, so a first start that was interrupted is
finished by the next one; a store written by a newer MiniCloud is refused.  A current SQLite
store is read at start-up with the standard library's sqlite3 (faster still).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..model.errors import StoreError
from ..model.kinds import TABLES
from . import signals
from .dburl import describe_url, explain
from .sqlite_read import IDENTITY, TOKEN_PREFIX, Query, read_sqlite
from .table import CLOUD_LENGTH, KEY_LENGTH, META_TABLE, NAME_LENGTH, Record, Table, record_key

__all__ = ["META_TABLE", "SCHEMA_VERSION", "Query", "Store", "record_key"]

log = logging.getLogger(__name__)

# 2: the indexed ``name`` column, compact JSON; 3: the drifts table.
SCHEMA_VERSION = 3
# The name of the store-wide write lock (clouds add and remove, Destroy); a cloud's own lock
# row is named after the cloud.
STORE_LOCK = "*"
# A second process writing the same SQLite file waits this long, then says "busy".
SQLITE_BUSY_SECONDS = 5


class Store:
    """MiniCloud's database.  ``open()`` connects and makes sure the schema is current."""

    def __init__(self, url: str):
        self.url = url
        self.engine: Any = None
        self._tables: dict[str, Table] = {}
        self._sa_tables: dict[str, Any] = {}
        self._metadata: Any = None
        # One connection per transaction, shared by nested uses in the same thread.
        self._lock = threading.RLock()
        self._conn: Any = None
        # Rows read since the last take_skipped() that are no JSON object ("table/key").
        self._skipped: list[str] = []
        # False for a command that must change nothing (``drift``): an older or half-made
        # schema is then refused instead of brought up to date.
        self.upgrade = True
        # This store's own random id (meta row ``store_id``), read with the generations: a
        # store made again from nothing counts its generations from 0 again, under a new id.
        self.identity: str | None = None
        # Each lock's token (meta row ``token/NAME``) as last read or committed:
        # "GENERATION:RANDOM", written with every bump (see bump and token).
        self.tokens: dict[str, str] = {}

    @property
    def skipped(self) -> list[str]:
        return self._skipped

    def take_skipped(self) -> list[str]:
        taken, self._skipped = self._skipped, []
        return taken

    @property
    def in_transaction(self) -> bool:
        """A transaction of this store is open (its reads join it)."""
        return self._conn is not None

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    # -- opening -------------------------------------------------------------------------------

    def open(self) -> Store:
        if self.engine is not None:
            return self
        with signals.deferred():
            # A Ctrl-C in the middle of this import would leave a half-made module behind
            # ("module 'sqlalchemy' has no attribute 'exc'" for the rest of the session).
            import sqlalchemy as sa
            import sqlalchemy.exc

        with self._lock:
            if self.engine is not None:
                return self
            try:
                self._prepare_folder()
                self.engine = self._make_engine()
                self._ensure_database()
                self._ensure_schema()
            except (sa.exc.SQLAlchemyError, ValueError) as exc:
                self._dispose()
                raise StoreError(self.explain(exc)) from None
            except StoreError:
                self._dispose()
                raise
        return self

    def _prepare_folder(self) -> None:
        path = self.url[len("sqlite:///"):] if self.url.startswith("sqlite:///") else ""
        if path and path != ":memory:":
            try:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            except OSError as exc:
                raise StoreError(f"store {describe_url(self.url)}: cannot create its folder: "
                                 f"{exc.strerror}") from None

    def _make_engine(self) -> Any:
        import sqlalchemy as sa

        self._metadata = sa.MetaData()
        self._sa_tables = {}
        if not self.is_sqlite:
            return sa.create_engine(self.url, pool_pre_ping=True)
        engine = sa.create_engine(self.url, connect_args={"timeout": SQLITE_BUSY_SECONDS})

        # pysqlite's own transaction handling begins late and never IMMEDIATE: take it over,
        # so that a write transaction holds the write lock from its first statement.
        @sa.event.listens_for(engine, "connect")
        def _no_driver_transactions(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            write = conn.info.get("minicloud_write")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    def _ensure_database(self) -> None:
        """Create a missing MySQL database when the account may; otherwise say how."""
        import sqlalchemy as sa

        if self.is_sqlite:
            return
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.OperationalError as exc:
            code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
            if code != 1049:  # ER_BAD_DB_ERROR: unknown database
                raise
            parts = urlsplit(self.url)
            name = parts.path.lstrip("/")
            server = sa.create_engine(urlunsplit(parts._replace(path="/")))
            try:
                with server.connect() as conn:
                    conn.execute(sa.text(
                        f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4"))
                    conn.commit()
            except sa.exc.SQLAlchemyError:
                raise StoreError(
                    f"database {name!r} does not exist on {describe_url(self.url)} and this "
                    f"account may not create it; run: CREATE DATABASE `{name}` "
                    "CHARACTER SET utf8mb4;") from None
            finally:
                server.dispose()

    def schema_version(self) -> int | None:
        """The version the store says it has; None when it has none (new or half-made)."""
        import sqlalchemy as sa

        meta = self.sa_table(META_TABLE)
        try:
            with self.engine.connect() as conn:
                value = conn.execute(sa.select(meta.c.value)
                                     .where(meta.c.name == "schema")).scalar()
        except sa.exc.SQLAlchemyError:
            return None  # no meta table yet
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def _ensure_schema(self) -> None:
        version = self.schema_version()
        if version is not None and version > SCHEMA_VERSION:
            raise StoreError(f"store {describe_url(self.url)} was written by a newer MiniCloud "
                             f"(schema {version}; this one knows {SCHEMA_VERSION}): upgrade "
                             "MiniCloud to use it")
        if version != SCHEMA_VERSION and not self.upgrade:
            raise StoreError(f"store {describe_url(self.url)} is not of this MiniCloud's schema "
                             f"({version or 'none'}; this one writes {SCHEMA_VERSION}) and this "
                             "command changes nothing: run another command (e.g. refresh) "
                             "first")
        if version != SCHEMA_VERSION:
            from .schema import create_schema

            create_schema(self.url, list(TABLES.values()), SCHEMA_VERSION)
        if self.upgrade:
            self._ensure_identity()

    def _ensure_identity(self) -> None:
        """Give the store its id once (stores made before ids get one at their next open)."""
        import uuid

        self.identity = self.meta(IDENTITY)
        if self.identity is not None:
            return  # every open but the first: a read, no write transaction
        meta = self.sa_table(META_TABLE)
        with self.transaction(write=True) as conn:
            conn.execute(meta.insert().prefix_with("OR IGNORE" if self.is_sqlite else "IGNORE")
                         .values(name=IDENTITY, value=uuid.uuid4().hex))
        self.identity = self.meta(IDENTITY)  # ours, or another process's made first

    def sa_table(self, name: str) -> Any:
        """The SQLAlchemy table; declared here rather than reflected (faster to open)."""
        import sqlalchemy as sa

        with self._lock:
            if self._metadata is None:
                self._metadata = sa.MetaData()
            table = self._sa_tables.get(name)
            if table is None:
                if name == META_TABLE:
                    table = sa.Table(name, self._metadata,
                                     sa.Column("name", sa.String(64), primary_key=True),
                                     sa.Column("value", sa.String(255)))
                else:
                    table = sa.Table(
                        name, self._metadata,
                        sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
                        sa.Column("cloud", sa.String(CLOUD_LENGTH)),
                        sa.Column("name", sa.String(NAME_LENGTH)),
                        sa.Column("data", sa.Text),
                        sa.Column("version", sa.Integer, nullable=False))
                self._sa_tables[name] = table
            return table

    def table_names(self) -> set[str]:
        import sqlalchemy as sa

        self.open()
        return set(sa.inspect(self.engine).get_table_names())

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
    def transaction(self, write: bool = False,
                    locks: tuple[str, ...] = ()) -> Iterator[Any]:
        """One transaction; nested uses join the outer one.  Yields the connection.

        A write transaction on SQLite holds the file's write lock from its start; ``locks``
        (cloud names, or STORE_LOCK) are taken first on MySQL/MariaDB, so that nothing this
        transaction reads is older than the lock.  A failed commit rolls back and gives the
        connection back, so the session goes on; Ctrl-C and TERM wait for a commit to finish.
        """
        import sqlalchemy as sa

        self.open()
        with self._lock:
            if self._conn is not None:
                if locks and not self._conn.info.get("minicloud_locks"):
                    raise RuntimeError("a lock must be a transaction's first statement")
                yield self._conn
                return
            try:
                conn = self.engine.connect()
            except sa.exc.SQLAlchemyError as exc:
                raise StoreError(self.explain(exc)) from None
            conn.info["minicloud_write"] = write or bool(locks)
            self._conn = conn
            try:
                tx = conn.begin()
                try:
                    conn.info["minicloud_locks"] = {name: self._take(conn, name)
                                                    for name in locks}
                    yield conn
                except BaseException:
                    tx.rollback()
                    raise
                with signals.deferred():
                    tx.commit()
                # Tokens written by this transaction are the store's only once committed.
                self.tokens.update(conn.info.get("minicloud_tokens", {}))
            except sa.exc.SQLAlchemyError as exc:
                raise StoreError(self.explain(exc)) from None
            finally:
                self._conn = None
                conn.info.pop("minicloud_write", None)
                conn.info.pop("minicloud_locks", None)
                conn.info.pop("minicloud_tokens", None)
                conn.close()
        signals.stepped()

    def _take(self, conn: Any, name: str) -> int:
        """Lock row ``lock/NAME`` (made when missing) for this transaction; its generation."""
        import sqlalchemy as sa

        meta = self.sa_table(META_TABLE)
        key = f"lock/{name}"
        conn.execute(meta.insert().prefix_with("OR IGNORE" if self.is_sqlite else "IGNORE")
                     .values(name=key, value="0"))
        query = sa.select(meta.c.value).where(meta.c.name == key)
        if not self.is_sqlite:
            query = query.with_for_update()
        value = conn.execute(query).scalar()
        return int(value or 0)

    def generation(self, conn: Any, name: str) -> int:
        """The generation of a lock held by the current transaction."""
        return int(conn.info["minicloud_locks"][name])

    def bump(self, conn: Any, name: str) -> int:
        """One more generation of a held lock: every session then re-reads what it covers.

        A new random token is written with it (row ``token/NAME``, "GENERATION:RANDOM"), in
        the same transaction: a generation number alone does not tell two stores apart that
        counted to it separately (a backup put back and written again, a copy of the store
        written elsewhere), the token does.  The lock row keeps its format (a number): an
        older MiniCloud sharing the store bumps it without a token, and the token's own
        generation then shows that it no longer stands for the rows."""
        import uuid

        meta = self.sa_table(META_TABLE)
        value = self.generation(conn, name) + 1
        conn.execute(meta.update().where(meta.c.name == f"lock/{name}")
                     .values(value=str(value)))
        conn.info["minicloud_locks"][name] = value
        token = f"{value}:{uuid.uuid4().hex}"
        key = f"{TOKEN_PREFIX}{name}"
        conn.execute(meta.delete().where(meta.c.name == key))
        conn.execute(meta.insert().values(name=key, value=token))
        conn.info.setdefault("minicloud_tokens", {})[name] = token
        return value

    def generations(self) -> dict[str, int]:
        """Every lock's current generation, and (kept aside) its token and the store's id:
        one cheap query.  A current SQLite store that is not open yet is read with sqlite3
        (a long-lived menu asks this before each screen)."""
        import sqlalchemy as sa

        if self.engine is None and self._absent():
            return {}
        if self.engine is None:
            loaded = read_sqlite(self.url, [], SCHEMA_VERSION, self._skipped)
            if loaded is not None:
                return self._generations(loaded[1])
        meta = self.sa_table(META_TABLE)
        with self.transaction() as conn:
            rows = conn.execute(sa.select(meta.c.name, meta.c.value).where(
                meta.c.name.like("lock/%") | meta.c.name.like(f"{TOKEN_PREFIX}%")
                | (meta.c.name == IDENTITY))).fetchall()
        return self._generations(rows)

    def _generations(self, rows: Iterable[Any]) -> dict[str, int]:
        """The locks' generations among meta rows (the store's id and the tokens are kept
        aside: the tokens read replace those known, as one picture of the store)."""
        found: dict[str, int] = {}
        tokens: dict[str, str] = {}
        for name, value in rows:
            if name == IDENTITY:
                self.identity = value
            elif name.startswith(TOKEN_PREFIX):
                tokens[name[len(TOKEN_PREFIX):]] = str(value)
            else:
                found[name[len("lock/"):]] = int(value or 0)
        self.tokens = tokens
        return found

    def token(self, name: str, generation: int) -> str | None:
        """What tells the rows of lock ``name`` at ``generation`` apart from any other rows
        that were ever at that generation (in a backup, a copy, another store of the same
        origin): the random part of the token written with that generation.  None when the
        token known is of another generation (an older MiniCloud bumped it last, or this
        session has not read it since) or there is none (a store from before tokens)."""
        written, _, random = self.tokens.get(name, "").partition(":")
        if written != str(generation) or not random:
            return None
        return random

    def meta(self, name: str) -> str | None:
        import sqlalchemy as sa

        meta = self.sa_table(META_TABLE)
        with self.transaction() as conn:
            return conn.execute(sa.select(meta.c.value).where(meta.c.name == name)).scalar()

    def set_meta(self, name: str, value: str | None) -> None:
        """Write (or, with None, delete) a row of the meta table, in the current transaction
        or one of its own."""
        meta = self.sa_table(META_TABLE)
        with self.transaction(write=True) as conn:
            conn.execute(meta.delete().where(meta.c.name == name))
            if value is not None:
                conn.execute(meta.insert().values(name=name, value=value))

    def now(self) -> float:
        """The store's clock (leases are timed by it, not by each machine's)."""
        import time

        import sqlalchemy as sa

        if self.is_sqlite:
            return time.time()
        with self.transaction() as conn:
            return float(conn.execute(sa.text("SELECT UNIX_TIMESTAMP(NOW(6))")).scalar())

    def _absent(self) -> bool:
        """An SQLite store whose file does not exist yet: it holds nothing, and a read-only
        command (the first ``topology`` of a new home) need not create it; the first write
        does."""
        path = self.url[len("sqlite:///"):] if self.url.startswith("sqlite:///") else ""
        return bool(path) and path != ":memory:" and not os.path.exists(path)

    def load(self, kind: str) -> list[Record]:
        return self.kind(kind).rows()

    def load_all(self, kinds: Iterable[str]) -> tuple[dict[str, list[Record]], dict[str, int]]:
        """Every readable record of the given kinds, and every lock's generation: what
        start-up reads, one query a table."""
        kinds = list(kinds)
        if self.engine is None and self._absent():
            return {kind: [] for kind in kinds}, {}
        if self.engine is None:
            loaded = read_sqlite(self.url, [Query(k) for k in kinds], SCHEMA_VERSION,
                                 self._skipped)
            if loaded is not None:
                records, meta_rows = loaded
                return records, self._generations(meta_rows)
        with self.transaction():
            return {kind: self.load(kind) for kind in kinds}, self.generations()

    def read(self, query: Query) -> tuple[list[Record], dict[str, int]]:
        """The records one query selects (by cloud, key or indexed name), with every lock's
        generation read in the same transaction.  A current SQLite store that is not open
        yet is read with sqlite3 (no SQLAlchemy import for a read-only command)."""
        if self.engine is None and self._absent():
            return [], {}
        if self.engine is None:
            loaded = read_sqlite(self.url, [query], SCHEMA_VERSION, self._skipped)
            if loaded is not None:
                records, meta_rows = loaded
                return records[query.kind], self._generations(meta_rows)
        with self.transaction():
            table = self.kind(query.kind)
            if query.key is not None:
                found = table.get(record_key(query.cloud or "", query.key))
                return ([found] if found else []), self.generations()
            return (table.rows(query.cloud, query.name, query.contains),
                    self.generations())

    def empty_all(self) -> None:
        """Delete every row of MiniCloud's tables (Destroy).  The tables stay: other sessions
        may hold them open; the next start is a first start.  Other tables of the database
        are not MiniCloud's (on MySQL, the Stub clouds' location is the store's database)."""
        names = list(TABLES.values())
        existing = self.table_names()
        with self.transaction(write=True, locks=(STORE_LOCK,)):
            for name in names:
                if name in existing:
                    self.table(name).delete_all()
            # Every session sees the change at its next write (its clouds are gone).
            self.bump(self._conn, STORE_LOCK)

    def _dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        self.engine = None

    def close(self) -> None:
        with self._lock:
            self._dispose()
