"""Where Stub clouds live: a database of their own, reached through a connection of its own.

A location is an SQLite file or a MySQL/MariaDB database; it holds any number of Stub clouds,
their rows keyed by cloud name.  One table per kind the Stub simulates (``stub_networks``...:
``key`` = ``CLOUD/ID``, ``cloud``, ``name``, ``data`` as JSON text, ``version``), and
``stub_meta`` (the schema version, one lock row per cloud, the mark of a move from an older
MiniCloud's store).  The record tables are the ones MiniCloud's store held for the Stub before
it had a location of its own, with the same names and columns: on MySQL the store's database is
the default location, so a store of that time already holds its Stub clouds where they belong.

Every call of the Stub's API is one transaction (:meth:`Location.transaction`) that first
holds its cloud's lock (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` of the
cloud's lock row on MySQL, whose transactions here read committed data), then reads what it
needs afresh and writes versioned rows: a row changed or removed since it was read fails the
call as a conflict instead of being overwritten.  Nothing here knows MiniCloud's store.

A MySQL location may name several URLs separated by spaces, the nodes of one Galera cluster (a
MySQL store's default location is the store's database, and such a store may name its nodes):
when a node does not answer, or answers that it is not part of the cluster's primary component,
before a call has read or written anything, the call goes on with the next node.  On a Galera
node reads are causal and a call's lock row is written, so that two calls holding one cloud's
lock on two nodes collide (the later fails whole, busy) instead of both writing.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from ...model.errors import CONFLICT, FAILED, NOT_FOUND, UNREACHABLE, ValidationError

log = logging.getLogger("minicloud.drivers.stub")

# The record tables, by the kind of object each holds (the names of the tables MiniCloud's
# store held before: they must not change).
TABLES = {
    "network": "stub_networks",
    "router": "stub_routers",
    "instance": "stub_instances",
    "public_ip": "stub_public_ips",
    "security_group": "stub_security_groups",
    "keypair": "stub_keypairs",
}
META = "stub_meta"
SCHEMA = "schema"
# Where the move from an older MiniCloud's store stands (see legacy.py).
MOVED = "moved from the store"
SCHEMA_VERSION = 1
KEY_LENGTH, CLOUD_LENGTH, NAME_LENGTH = 255, 64, 191
BUSY_SECONDS = 5
# The lock row a change to the whole location takes (the move from an older store).
EVERY_CLOUD = "*"

# A MySQL/MariaDB answer that says this node cannot be used now: unreachable, gone away, lost
# during a query, shutting down, or cut off from its cluster's primary component (WSREP).
NODE_LOST = frozenset({2002, 2003, 2006, 2013, 2055, 1053, 1927, 1047, 1180})
# The pauses between rounds over every node when one is lost after the location was opened
# (3.1 s in all: as the store's retries, time for a proxy or a cluster to drop a lost node).
NODE_PAUSES = (0.1, 0.2, 0.4, 0.8, 1.6)
# A server that is there but cannot serve now (dropped at the handshake: a proxy whose node is
# gone; shutting down; not primary): looked for again even before the location was opened.
NODE_DROPPED = frozenset({2013, 1053, 1047})

# Called after each commit and each schema step (none in the product; a test may watch).
after_step: list[Callable[[], None]] = []


class LocationError(Exception):
    """A location that cannot be used, or a change that lost to another one.  ``reason`` is
    one of the drivers' reasons (model.errors); the text never holds a password."""

    def __init__(self, reason: str, text: str, busy: bool = False) -> None:
        super().__init__(text)
        self.reason = reason
        # Lost to a concurrent change (a deadlock, a failed certification, a lock wait that
        # ran out): the whole call may run again.
        self.busy = busy


def sqlite_file(url: str) -> str | None:
    """The file of an SQLite URL ("" or ":memory:" in memory); None for another backend."""
    from sqlalchemy.engine import make_url

    return make_url(url).database or "" if url.startswith("sqlite") else None


def describe(url: str) -> str:
    """The location for messages: the SQLite file, or host:port/database (no password)."""
    try:
        path = sqlite_file(url)
        if path is not None:
            return path if path not in ("", ":memory:") else "in-memory SQLite"
        parts = urlsplit(url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 3306}{parts.path}"
    except ValueError:
        return "an unparsable location"


def check_location(value: str) -> str:
    """A ``state`` setting as given (it is stored as given: a relative path stays relative to
    the store's folder, wherever that folder moves): empty, a file path, ``sqlite:///PATH``
    or ``mysql+pymysql://USER@HOST/DATABASE``; never a password, which would be stored."""
    value = value.strip()
    if not value:
        return ""
    if len(value) > 1000 or not value.isprintable():
        raise ValidationError("a Stub location is a file path or a database URL of at most "
                              "1000 printable characters")
    if "://" not in value:
        return value
    scheme = value.split("://", 1)[0]
    if scheme not in ("sqlite", "mysql+pymysql"):
        raise ValidationError(f"a Stub location URL is sqlite:///PATH or "
                              f"mysql+pymysql://USER@HOST/DATABASE, not {scheme}://")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValidationError("a Stub location URL with a bad host or port") from None
    if parts.password is not None:
        raise ValidationError("put no password in a Stub location: it would be stored; a "
                              "MySQL location on the store's server uses the store's")
    if scheme == "sqlite" and not value.startswith("sqlite:///"):
        raise ValidationError("an SQLite location needs three slashes: sqlite:///PATH")
    if scheme != "sqlite" and not parts.path.strip("/"):
        raise ValidationError("a MySQL Stub location names its database: "
                              "mysql+pymysql://USER@HOST/DATABASE")
    return value


def _steps_done() -> None:
    for observer in list(after_step):
        observer()


def _encode(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _decode(text: str | None) -> dict[str, Any] | None:
    try:
        data = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


Record = tuple[dict[str, Any], int]


class Location:
    """One location, opened at its first use: an engine of its own, the schema made when
    missing (idempotent, the version written last)."""

    def __init__(self, url: str) -> None:
        self.url = url.strip()
        # One URL, or a cluster's nodes (MySQL only: an SQLite path may hold spaces).
        self._urls = [self.url] if self.is_sqlite else self.url.split() or [self.url]
        self._node = 0  # the node in use: an index into _urls
        self._opened = False  # opened once: a node lost later is looked for again
        self.engine: Any = None
        self._tables: dict[str, Any] = {}
        self._meta: Any = None
        # The meta rows read when it was opened (the schema version, the move's mark).
        self.opened_with: dict[str, str] = {}

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def node_url(self) -> str:
        return self._urls[self._node]

    def __str__(self) -> str:
        return describe(self.node_url)

    # -- opening -------------------------------------------------------------------------------

    def open(self) -> Location:
        if self.engine is not None:
            return self
        import sqlalchemy as sa

        self._declare()
        try:
            self.engine = self._make_engine()
            version = self._on_a_node(self._schema_version)
            if version != SCHEMA_VERSION:
                self._make_schema()
            self._opened = True
        except LocationError:
            self.close()
            raise
        except (sa.exc.SQLAlchemyError, OSError, ValueError) as exc:
            self.close()
            raise self._error(exc) from None
        return self

    def _declare(self) -> None:
        import sqlalchemy as sa

        metadata = sa.MetaData()
        for table in TABLES.values():
            self._tables[table] = sa.Table(
                table, metadata,
                sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
                sa.Column("cloud", sa.String(CLOUD_LENGTH), index=True),
                sa.Column("name", sa.String(NAME_LENGTH), index=True),
                sa.Column("data", sa.Text),
                sa.Column("version", sa.Integer, nullable=False, server_default="0"))
        self._meta = sa.Table(META, metadata,
                              sa.Column("name", sa.String(64), primary_key=True),
                              sa.Column("value", sa.String(255)))

    def _make_engine(self) -> Any:
        import sqlalchemy as sa

        if not self.is_sqlite:
            # Read committed: what a call reads after taking its cloud's lock is current.
            # No pool: a Stub cloud is reached by every driver built for it (a session's, a
            # test's, a seeder's), and pooled idle connections of drivers nobody closes would
            # add up to the server's max_connections; a call opens one and gives it back.
            server = sa.create_engine(self.node_url, poolclass=sa.pool.NullPool,
                                      isolation_level="READ COMMITTED")
            sa.event.listen(server, "connect", _on_connect)
            return server
        path = sqlite_file(self.url)
        if path and path != ":memory:":
            folder = os.path.dirname(os.path.abspath(path))
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as exc:
                raise LocationError(FAILED, f"Stub location {self}: cannot make its folder "
                                            f"{folder}: {exc.strerror}") from None
        engine = sa.create_engine(self.url, connect_args={"timeout": BUSY_SECONDS})

        # Every transaction here writes, or reads under the cloud's lock: it holds the file's
        # write lock from its first statement (pysqlite would begin late, and never IMMEDIATE).
        @sa.event.listens_for(engine, "connect")
        def _no_driver_transactions(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def _on_a_node(self, first: Callable[[], Any]) -> Any:
        """``first()`` (what nothing has run before: opening, a call's lock), on the node in
        use or, when it cannot be used, on the next one that can.  Once the location has been
        opened, every node is looked for again a few rounds, with a pause, as the store does
        (one URL through a proxy: the proxy takes a second or two to notice a lost node)."""
        import sqlalchemy as sa

        rounds = len(NODE_PAUSES) + 1
        total = len(self._urls) * (rounds if self._opened else 1)
        tried = 0
        while tried < total:
            tried += 1
            if tried > 1 and (tried - 1) % len(self._urls) == 0:
                time.sleep(NODE_PAUSES[(tried - 1) // len(self._urls) - 1])
            try:
                return first()
            except sa.exc.DBAPIError as exc:
                if _code(exc) in NODE_DROPPED:  # a server is there: looked for again
                    total = len(self._urls) * rounds
                if _code(exc) not in NODE_LOST or tried == total:
                    raise
                log.info("Stub location %s: %s; going on with the next node", self,
                         str(getattr(exc, "orig", exc)).splitlines()[0][:200])
                self.engine.dispose()
                self._node = (self._node + 1) % len(self._urls)
                self.engine = self._make_engine()
        raise AssertionError("unreachable")  # the loop returns or raises

    def _schema_version(self) -> int | None:
        import sqlalchemy as sa

        meta = self._meta
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.select(meta.c.name, meta.c.value).where(
                    meta.c.name.in_([SCHEMA, MOVED]))).all()
            self.opened_with = {name: value for name, value in rows}
        except sa.exc.OperationalError as exc:
            if _missing_table(exc):
                return None  # a new location
            raise
        except sa.exc.ProgrammingError:
            return None  # MySQL: no such table
        value = self.opened_with.get(SCHEMA)
        try:
            version = int(value) if value is not None else None
        except ValueError:
            version = None
        if version is not None and version > SCHEMA_VERSION:
            raise LocationError(FAILED, f"Stub location {self} was written by a newer "
                                        f"MiniCloud (schema {version}): upgrade MiniCloud")
        return version

    def _make_schema(self) -> None:
        """Every table with its indexes, one step each (those that exist are kept: another
        process may have made them meanwhile, an older store holds them, or a step was cut
        short: on MySQL each statement commits alone), then the version."""
        import sqlalchemy as sa

        for table in self._meta.metadata.sorted_tables:
            try:
                if not sa.inspect(self.engine).has_table(table.name):
                    table.create(self.engine)  # with its indexes
                else:  # an older store's, or one whose indexes a kill cut short
                    for index in table.indexes:
                        index.create(self.engine, checkfirst=True)
            except sa.exc.SQLAlchemyError:
                inspector = sa.inspect(self.engine)
                if table.name not in inspector.get_table_names() or not (
                        {i.name for i in table.indexes}
                        <= {i["name"] for i in inspector.get_indexes(table.name)}):
                    raise
                log.info("Stub location %s: %s made meanwhile by another process", self,
                         table.name)
            _steps_done()
        with self.engine.begin() as conn:
            conn.execute(self._meta.delete().where(self._meta.c.name == SCHEMA))
            conn.execute(self._meta.insert().values(name=SCHEMA, value=str(SCHEMA_VERSION)))
        _steps_done()
        log.info("Stub location %s: schema %s ready", self, SCHEMA_VERSION)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        self.engine = None

    def _error(self, exc: BaseException) -> LocationError:
        """One line for a database failure: where and what, never the password."""
        orig = getattr(exc, "orig", None)
        code = _code(exc)
        text = str(orig or exc).splitlines()[0] if str(orig or exc) else type(exc).__name__
        if isinstance(exc, OSError) and not orig:
            text = exc.strerror or text
        if code in (2002, 2003, 2006, 2013):
            return LocationError(UNREACHABLE, f"Stub location {self}: server unreachable")
        if code in (1205, 1213):  # a lock wait timed out; a deadlock or failed certification
            return LocationError(FAILED, f"Stub location {self}: busy (another session changed "
                                         "the same cloud at the same time); try again",
                                 busy=True)
        if code == 1047:
            return LocationError(UNREACHABLE, f"Stub location {self}: this node is cut off "
                                              "from its cluster (not primary)")
        if code == 1045:
            return LocationError(UNREACHABLE, f"Stub location {self}: access denied")
        if "locked" in text or "busy" in text:
            return LocationError(FAILED, f"Stub location {self}: busy (another session is "
                                         "changing it); try again", busy=True)
        if "unable to open" in text:
            return LocationError(UNREACHABLE, f"Stub location {self}: cannot open the file; "
                                              "check the folder and its permissions")
        return LocationError(FAILED, f"Stub location {self}: {text[:200]}")

    # -- use -----------------------------------------------------------------------------------

    @contextmanager
    def transaction(self, cloud: str) -> Iterator[Transaction]:
        """One call of a Stub cloud's API: its lock held, committed whole or not at all."""
        import sqlalchemy as sa

        self.open()
        try:
            conn, began = self._on_a_node(lambda: self._begin(cloud))
            with conn, began:
                yield Transaction(self, conn, cloud)
        except LocationError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc) from None
        _steps_done()

    def _begin(self, cloud: str) -> tuple[Any, Any]:
        """A connection with its transaction begun and ``cloud``'s lock held."""
        conn = self.engine.connect()
        try:
            began = conn.begin()
            Transaction(self, conn, cloud).lock(cloud)
        except BaseException as exc:
            if _code(exc) in NODE_LOST:
                conn.invalidate()  # not back to the pool: the node is left
            conn.close()
            raise
        return conn, began

    def table(self, kind: str) -> Any:
        return self._tables[TABLES[kind]]


def _on_connect(dbapi_conn: Any, record: Any) -> None:
    """Once per new MySQL/MariaDB connection: on a Galera node, reads are made causal (a call
    sees what another node committed before it), and a node that is not ready is refused as
    a lost one (1047), so that the call goes on with the next node."""
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("SHOW VARIABLES LIKE 'wsrep_on'")
        row = cursor.fetchone()
        galera = bool(row) and str(row[1]).upper() == "ON"
        if galera:
            cursor.execute("SHOW STATUS LIKE 'wsrep_ready'")
            ready = cursor.fetchone()
            if not ready or str(ready[1]).upper() != "ON":
                raise dbapi_conn.OperationalError(
                    1047, "WSREP has not yet prepared node for application use")
            cursor.execute("SET SESSION wsrep_sync_wait = 1")
    finally:
        cursor.close()
    record.info["galera"] = galera


def _code(exc: BaseException) -> Any:
    """The database's error number (MySQL), or None."""
    orig = getattr(exc, "orig", None)
    return orig.args[0] if orig is not None and getattr(orig, "args", None) else None


def _missing_table(exc: Any) -> bool:
    return "no such table" in str(getattr(exc, "orig", exc))


class Transaction:
    """What one call reads and writes of its cloud, on the call's connection."""

    def __init__(self, location: Location, conn: Any, cloud: str) -> None:
        self.location = location
        self.conn = conn
        self.cloud = cloud

    def lock(self, name: str) -> None:
        """Hold lock row ``lock/NAME`` (made when missing) until the transaction ends (on
        SQLite the transaction holds the whole file already)."""
        import sqlalchemy as sa

        if self.location.is_sqlite:
            return
        meta = self.location._meta
        key = f"lock/{name}"
        self.conn.execute(meta.insert().prefix_with("IGNORE").values(name=key, value="0"))
        self.conn.execute(sa.select(meta.c.value).where(meta.c.name == key).with_for_update())
        # Written too on a Galera node: a locking read holds only on its own node, and only a
        # write makes two holders on two nodes collide (the later commit fails, whole).
        if self.conn.info.get("galera"):
            self.conn.execute(meta.update().where(meta.c.name == key).values(
                value=uuid.uuid4().hex))

    def meta(self, name: str) -> str | None:
        import sqlalchemy as sa

        meta = self.location._meta
        value = self.conn.execute(sa.select(meta.c.value).where(meta.c.name == name)).scalar()
        return None if value is None else str(value)

    def set_meta(self, name: str, value: str) -> None:
        meta = self.location._meta
        self.conn.execute(meta.delete().where(meta.c.name == name))
        self.conn.execute(meta.insert().values(name=name, value=value))

    def rows(self, kind: str, contains: str | None = None) -> list[Record]:
        """``(data, version)`` of every readable row of one kind in this cloud (whose JSON
        holds ``contains``, a filter the database applies)."""
        t = self.location.table(kind)
        query = t.select().where(t.c.cloud == self.cloud)
        if contains is not None:
            query = query.where(t.c.data.contains(contains, autoescape=True))
        return self._readable(self.conn.execute(query).fetchall())

    def _readable(self, rows: Iterable[Any]) -> list[Record]:
        out = []
        for row in rows:
            data = _decode(row.data)
            if data is None:
                log.warning("Stub location %s: skipped unreadable row %s", self.location,
                            row.key)
                continue
            out.append((data, row.version))
        return out

    def get(self, kind: str, ident: str) -> Record | None:
        t = self.location.table(kind)
        found = self._readable(self.conn.execute(
            t.select().where(t.c.key == self._key(ident))).fetchall())
        return found[0] if found else None

    def _key(self, ident: str) -> str:
        key = f"{self.cloud}/{ident}"
        if len(key) > KEY_LENGTH or len(self.cloud) > CLOUD_LENGTH:
            raise LocationError(FAILED, f"key too long for a Stub location: {key[:80]}")
        return key

    def insert(self, kind: str, ident: str, data: dict[str, Any]) -> int:
        """A new row (version 1); one that exists already is a conflict."""
        t = self.location.table(kind)
        key = self._key(ident)
        if self.conn.execute(t.select().where(t.c.key == key)).first() is not None:
            raise LocationError(CONFLICT, f"{kind.replace('_', ' ')} {ident} exists already")
        name = data.get("name")
        self.conn.execute(t.insert().values(
            key=key, cloud=self.cloud, name=name[:NAME_LENGTH] if isinstance(name, str) else "",
            data=_encode(data), version=1))
        return 1

    def update(self, kind: str, ident: str, data: dict[str, Any], version: int) -> int:
        """The row as it was read at ``version``, replaced; changed or removed since: a
        conflict (or gone), and nothing written."""
        t = self.location.table(kind)
        name = data.get("name")
        done = self.conn.execute(
            t.update().where(t.c.key == self._key(ident), t.c.version == version).values(
                name=name[:NAME_LENGTH] if isinstance(name, str) else "", data=_encode(data),
                version=version + 1))
        if done.rowcount != 1:
            raise self._lost(kind, ident)
        return version + 1

    def delete(self, kind: str, ident: str, version: int) -> None:
        t = self.location.table(kind)
        done = self.conn.execute(t.delete().where(t.c.key == self._key(ident),
                                                  t.c.version == version))
        if done.rowcount != 1:
            raise self._lost(kind, ident)

    def _lost(self, kind: str, ident: str) -> LocationError:
        what = f"{kind.replace('_', ' ')} {ident}"
        if self.get(kind, ident) is None:
            return LocationError(NOT_FOUND, f"{what} is gone")
        return LocationError(CONFLICT, f"{what} was changed meanwhile by another session")

    def insert_many(self, kind: str, records: list[tuple[str, dict[str, Any]]]) -> None:
        """Rows written in bulk, at version 1 (seeding a large cloud)."""
        t = self.location.table(kind)
        values = []
        for ident, data in records:
            name = data.get("name")
            values.append({"key": self._key(ident), "cloud": self.cloud,
                           "name": name[:NAME_LENGTH] if isinstance(name, str) else "",
                           "data": _encode(data), "version": 1})
        for start in range(0, len(values), 500):
            self.conn.execute(t.insert(), values[start:start + 500])
