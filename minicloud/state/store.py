"""Persistence: an SQLite file by default, MySQL/MariaDB by URL.

Reads and writes go through SQLAlchemy Core on one engine.  The schema is created and repaired
through ``dataset``, and only when the store is new, older or half-made: importing dataset
(alembic with it) costs about 0.4 s, more than a whole one-shot command.  Creating the schema is
idempotent and writes the schema version last, so a first start that was interrupted is
finished by the next one; a store written by a newer MiniCloud is refused.  A current SQLite
store is read at start-up with the standard library's sqlite3 (faster still).

**Transactions that run again.**  Some failures mean "run the whole transaction again"
(state/retry.py says which: a deadlock or a failed Galera certification, a lock wait timeout,
a lost connection, a Galera node outside the primary component).  ``transaction()`` (a context
manager) cannot run its block again: it raises :class:`~.retry.RetryTransaction` (a
StoreError, one line) for them.  ``retrying()`` runs a *function* holding a whole
transaction, from its first read, a few times with a random pause::

    def body(conn) -> int:                       # everything from the first read on
        generation = store.generation(conn, cloud)
        ...                                      # reads, checks, writes: no cloud call
        return store.bump(conn, cloud)

    store.retrying(body, write=True, locks=(cloud,), verify=None)

The body must not have effects outside the transaction (a cloud call, a cache change, a
counter): those go after ``retrying`` returns.  When the connection was lost during COMMIT the
outcome is unknown: ``verify(conn) -> bool``, given, is asked on a fresh transaction whether
the lost commit happened (the unit of work reads back its intent by id); True ends the
retries with the body's result.  Without ``verify`` the body runs again: it must then be right
after its own commit too (it re-reads everything it relies on, and writes nothing twice: an
insert-if-missing, a delete, a bump, an emptying).  Inside an open transaction ``retrying`` just
runs the body: the outermost transaction is the one that runs again.  A session whose write
lost its node says ``store node lost during a write: retried on another`` (``notify``).

**Several URLs** (space-separated: the nodes of a Galera cluster, or one URL through a proxy).
A lost node is skipped when a connection is made: a session with no transaction open goes on
with the next node without a word; one whose transaction was open is retried as above.

**On Galera** (``wsrep_on`` seen once per connection): reads are causal (``wsrep_sync_wait``:
a generation check or a lock read sees every commit made on any node before it), a node that
is not ready (not primary, or still joining) is treated as lost, and taking a lock also
writes a row of its own (``held/NAME``, a new value each time): ``SELECT ... FOR UPDATE``
locks only on the node that runs it, and that write makes two transactions holding one lock
on two nodes conflict at certification, so the later one fails (1213) and runs again.

Audit for Galera (which replicates InnoDB row changes and DDL only): every table has a primary
key (the record tables ``key``, the meta table ``name``, made by dataset through
state/schema.py, the drivers' tables alike); all are InnoDB (the server's default: nothing
names an engine); no GET_LOCK, no LOCK TABLES, no temporary tables, no statement-based
replication: locks are rows of the meta table (``lock/NAME``).  DDL runs only outside
transactions (schema creation), which Galera replicates in total order.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from ..model.errors import StoreError
from ..model.kinds import TABLES
from . import meta as meta_rows
from . import signals
from .dburl import StoreURL, describe_url, explain, unknown_option
from .meta import IDENTITY, SCHEMA, TOKEN_PREFIX, lock_row, row_name
from .retry import (
    ATTEMPTS,
    CONFLICT,
    DROPPED,
    LOST,
    UNKNOWN,
    Backoff,
    RetryTransaction,
    classify,
    error_code,
)
from .sqlite_read import Query, read_sqlite
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
# On a Galera node, reads wait until the node has applied every commit the cluster made before
# them (wsrep_sync_wait bit 1: SELECT, SHOW, BEGIN): a causal read.
CAUSAL_READS = 1
# What a session says when its write lost its node and is run again on another.
NODE_LOST = "store node lost during a write: retried on another"
T = TypeVar("T")


class Store:
    """MiniCloud's database.  ``open()`` connects and makes sure the schema is current."""

    def __init__(self, url: str | StoreURL, notify: Callable[[str], None] | None = None):
        # The store as configured: an SQLite file, or one server URL or several (a cluster's
        # nodes, each a StoreURL of its own).
        self.url = StoreURL.of(url)
        self._urls = self.url.nodes
        # The node in use: an index into _urls.  Lost: the next connection goes to the next.
        self._node = 0
        self._node_lost = False
        # A transaction has begun in this session: a node lost since is one that went (a
        # proxy needs a moment to send new connections elsewhere), not a store that is down.
        self._began = False
        # Where the one line of a write that lost its node goes (the session hands its own).
        self.notify: Callable[[str], None] = notify or (lambda text: log.warning("%s", text))
        self.backoff = Backoff()
        self.engine: Any = None
        self._tables: dict[str, Table] = {}
        self._sa_tables: dict[str, Any] = {}
        self._metadata: Any = None
        # One connection per transaction, shared by nested uses in the same thread.
        self._lock = threading.RLock()
        self._conn: Any = None
        # Rows read since the last take_skipped() that do not fit their kind ("table/key"),
        # and those taken before: every unreadable row this session has met.
        self._skipped: list[str] = []
        self._unreadable: set[str] = set()
        # False for a command that must change nothing (``drift``): an older or half-made
        # schema is then refused instead of brought up to date.
        self.upgrade = True
        # This store's own random id (meta row ``store_id``), read with the generations: a
        # store made again from nothing counts its generations from 0 again, under a new id.
        self.identity: str | None = None
        # Each lock's token (meta row ``token/NAME``) as last read or committed:
        # "GENERATION:RANDOM", written with every bump (see bump and token).
        self.tokens: dict[str, str] = {}
        # The generation a lock row that holds no number is read as: unknown, so a number no
        # other reading gives (negative, and this session's own), so that no saved view and
        # no other session's reading ever matches it.
        self._unknown_generation = -1 - int.from_bytes(os.urandom(6), "big")

    @property
    def skipped(self) -> list[str]:
        return self._skipped

    def take_skipped(self) -> list[str]:
        taken, self._skipped = self._skipped, []
        self._unreadable.update(taken)
        return taken

    def unreadable(self, table: str, key: str) -> bool:
        """Did this session find that row unreadable?  A write then leaves it as it is."""
        name = f"{table}/{key}"
        return name in self._unreadable or name in self._skipped

    def unreadable_object(self, kind: str, cloud: str, ident: str) -> bool:
        """Is the row of that object one this session found unreadable?  A sync then neither
        reports the object as new (it is there, in a row this MiniCloud cannot read) nor
        writes it over that row."""
        return self.unreadable(TABLES[kind], record_key(cloud, ident))

    @property
    def in_transaction(self) -> bool:
        """A transaction of this store is open (its reads join it)."""
        return self._conn is not None

    @property
    def is_sqlite(self) -> bool:
        return self.url.is_sqlite

    @property
    def node_url(self) -> StoreURL:
        """The URL in use (one of several when the store names a cluster's nodes)."""
        return self._urls[self._node]

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
            for tried in range(1, len(self._urls) + 1):
                node = self._node
                try:
                    self._prepare_folder()
                    self.engine = self._make_engine()
                    self._ensure_database()
                    self._ensure_schema()
                    break
                except (sa.exc.SQLAlchemyError, ValueError) as exc:
                    self._dispose()
                    if classify(exc) == LOST and tried < len(self._urls):
                        self._skip_node(exc, node)  # a lost node: the next, without a word
                        continue
                    raise StoreError(self.explain(exc)) from None
                except TypeError as exc:
                    self._dispose()
                    if not unknown_option(exc):
                        raise
                    # The URL's options are handed to the database driver as they are.
                    raise StoreError(self.explain(exc)) from None
                except StoreError as err:
                    self._dispose()
                    if classify(err) == LOST and tried < len(self._urls):
                        self._skip_node(err, node)
                        continue
                    raise
        return self

    def _skip_node(self, exc: BaseException, node: int) -> None:
        """Go on with the node after ``node``, the one that was lost (unless a transaction
        moved on already); logged: the user needs no word of it."""
        log.info("store node %s lost (%s): going on with the next",
                 describe_url(self._urls[node]),
                 str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else "")
        if self._node == node:
            self._node = (node + 1) % len(self._urls)
        self._node_lost = False

    def _prepare_folder(self) -> None:
        path = self.url.sqlite_path
        if path:
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
            server = sa.create_engine(self.node_url.sa(), pool_pre_ping=True)
            sa.event.listen(server, "connect", _on_connect)
            return server
        engine = sa.create_engine(self.url.sa(), connect_args={"timeout": SQLITE_BUSY_SECONDS})

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
            url = self.node_url.sa()
            name = url.database or ""
            # No database: the server's own connection (set() leaves a None unchanged).
            server = sa.create_engine(url.set(database=""))
            try:
                with server.connect() as conn:
                    conn.execute(sa.text(
                        f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4"))
                    conn.commit()
            except sa.exc.SQLAlchemyError:
                raise StoreError(
                    f"database {name!r} does not exist on {describe_url(self.node_url)} and this "
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
                row = conn.execute(sa.select(meta.c.value)
                                   .where(meta.c.name == SCHEMA)).first()
        except sa.exc.SQLAlchemyError as exc:
            if classify(exc) is not None:
                raise  # the node went, or was busy: not "no meta table"
            return None  # no meta table yet
        if row is None:
            return None
        version = meta_rows.number(row.value)
        if version is None:
            # Made again, it could be the wrong schema for what the store holds.
            raise StoreError(f"store {describe_url(self.node_url)}: its schema version (row "
                             f"{row_name(SCHEMA)}) is unreadable, so MiniCloud cannot tell "
                             "whether it may use the store; restore a copy of the store")
        return version

    def _ensure_schema(self) -> None:
        version = self.schema_version()
        where = describe_url(self.node_url)
        if version is not None and version > SCHEMA_VERSION:
            raise StoreError(f"store {where} was written by a newer MiniCloud "
                             f"(schema {version}; this one knows {SCHEMA_VERSION}): upgrade "
                             "MiniCloud to use it")
        if version != SCHEMA_VERSION and not self.upgrade:
            raise StoreError(f"store {where} is not of this MiniCloud's schema "
                             f"({version or 'none'}; this one writes {SCHEMA_VERSION}) and this "
                             "command changes nothing: run another command (e.g. refresh) "
                             "first")
        if version != SCHEMA_VERSION:
            from .schema import create_schema

            create_schema(self.node_url, list(TABLES.values()), SCHEMA_VERSION)
        if self.upgrade:
            self._ensure_identity()

    def _ensure_identity(self) -> None:
        """Give the store its id once (stores made before ids get one at their next open)."""
        import uuid

        if self._read_identity():
            return  # every open but the first: a read, no write transaction
        meta = self.sa_table(META_TABLE)
        identity = uuid.uuid4().hex
        # Insert-if-missing: right to run again, even after a commit whose answer was lost.
        # An unreadable id stays as it is (never rewritten): no view is saved then.
        self.retrying(lambda conn: conn.execute(
            meta.insert().prefix_with("OR IGNORE" if self.is_sqlite else "IGNORE")
            .values(name=IDENTITY, value=identity)), write=True)
        self._read_identity()  # ours, or another process's made first

    def _read_identity(self) -> bool:
        """Read the store's id; False when there is no id row yet."""
        import sqlalchemy as sa

        meta = self.sa_table(META_TABLE)
        query = sa.select(meta.c.value).where(meta.c.name == IDENTITY)
        row = self.retrying(lambda conn: conn.execute(query).first())
        if row is None:
            return False
        self._keep_identity(row.value)
        return True

    def _keep_identity(self, value: Any) -> None:
        """The store's id as read: None (and named) when the row holds none."""
        self.identity = meta_rows.identity(value)
        if self.identity is None:
            self._unreadable_meta(IDENTITY)

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
        return explain(self.node_url, exc)

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
        A node lost before the block runs (connecting, taking the locks) is skipped for the
        next; a failure that running the block again would cure raises RetryTransaction
        (``retrying`` does run it again).
        """
        import sqlalchemy as sa

        self.open()
        with self._lock:
            if self._conn is not None:
                if locks and not self._conn.info.get("minicloud_locks"):
                    raise RuntimeError("a lock must be a transaction's first statement")
                yield self._conn
                return
            conn, tx = self._begin(write, locks)
            # Kept aside: asking a lost connection for it would try to connect again.
            info = conn.info
            self._conn = conn
            try:
                try:
                    yield conn
                except BaseException:
                    _quietly(tx.rollback)
                    raise
                with signals.deferred():
                    try:
                        self._commit(tx)
                    except sa.exc.SQLAlchemyError as exc:
                        if tx.is_active:
                            _quietly(tx.rollback)
                        raise self._failed(exc, committing=True) from None
                # Tokens written by this transaction are the store's only once committed.
                self.tokens.update(info.get("minicloud_tokens", {}))
            except sa.exc.SQLAlchemyError as exc:
                raise self._failed(exc) from None
            finally:
                self._conn = None
                info.pop("minicloud_write", None)
                info.pop("minicloud_locks", None)
                info.pop("minicloud_tokens", None)
                _quietly(conn.close)
        signals.stepped()

    def _commit(self, tx: Any) -> None:
        """A method of its own: a test loses its answer here (a commit whose outcome is
        unknown to the client)."""
        tx.commit()

    def _begin(self, write: bool, locks: tuple[str, ...]) -> tuple[Any, Any]:
        """A connection with a transaction begun and ``locks`` taken, on the node in use or,
        when it is lost, the next one that answers (nothing has run yet: no word needed).
        Once a transaction has begun in this session, a node lost is looked for again a few
        rounds, with a pause (one URL through a proxy: the proxy takes a moment to notice)."""
        import sqlalchemy as sa

        rounds = ATTEMPTS if self._began else 1
        total = len(self._urls) * rounds
        tried = 0
        while tried < total:
            tried += 1
            if tried > 1 and (tried - 1) % len(self._urls) == 0:
                time.sleep(self.backoff.pause((tried - 1) // len(self._urls)))
            if self._node_lost:
                self._switch_node()
            conn = None
            info: dict[str, Any] = {}
            try:
                conn = self.engine.connect()
                info = conn.info
                info["minicloud_write"] = write or bool(locks)
                tx = conn.begin()
                info["minicloud_locks"] = {name: self._take(conn, name) for name in locks}
                self._began = True
                return conn, tx
            except sa.exc.SQLAlchemyError as exc:
                info.pop("minicloud_write", None)
                info.pop("minicloud_locks", None)
                if conn is not None:
                    _quietly(conn.invalidate if classify(exc) == LOST else conn.close)
                failure = self._failed(exc, started=False)
                if error_code(exc) in DROPPED:
                    # Something listens there (a proxy whose node is gone, a node starting):
                    # looked for again, even at a first transaction.
                    total = len(self._urls) * ATTEMPTS
                if classify(exc) == LOST and tried < total:
                    log.info("%s: going on with the next node", failure)
                    continue
                raise failure from None
        raise AssertionError("unreachable")  # the loop returns or raises

    def _failed(self, exc: BaseException, committing: bool = False,
                started: bool = True) -> StoreError:
        """The one-line error for a failed transaction: RetryTransaction when running it
        again may cure it (the node in use is then left for the next when it was lost)."""
        reason = classify(exc)
        text = self.explain(exc)
        if reason is None:
            return StoreError(text)
        where = describe_url(self.node_url)
        if reason == LOST:
            self._node_lost = True
            if committing:
                return RetryTransaction(UNKNOWN, (
                    f"store {where}: connection lost while committing: the change may or may "
                    "not be saved; refresh, look, then try again"))
            if started:
                return RetryTransaction(LOST, (
                    f"store {where}: connection lost during a transaction: nothing of it was "
                    "saved; try again"), started=True)
        return RetryTransaction(reason, text, started=started)

    def _switch_node(self) -> None:
        """Leave a lost node: the next one (or, with one URL, a new connection through it:
        a proxy sends it to a node that works)."""
        if self.engine is not None:
            self.engine.dispose()
        self._node = (self._node + 1) % len(self._urls)
        self._node_lost = False
        self.engine = self._make_engine()

    def retrying(self, body: Callable[[Any], T], *, write: bool = False,
                 locks: tuple[str, ...] = (), verify: Callable[[Any], bool] | None = None,
                 attempts: int = ATTEMPTS, rerun_unknown: bool = True) -> T:
        """``body(conn)`` in one transaction, run again as a whole (a few times, with a random
        pause) when it fails in a way that may pass the next time; its result.  See the
        module's docstring for the contract of ``body`` and ``verify``.  ``rerun_unknown``
        False: a commit whose answer was lost (and that ``verify`` does not find) is not run
        again but raised, in one line (a simulated cloud's call: it then failed, as a real
        cloud's call whose answer was lost)."""
        if self._conn is not None:  # part of an open transaction: that one runs again
            with self.transaction(write=write, locks=locks) as conn:
                return body(conn)
        failure: RetryTransaction | None = None
        for attempt in range(1, attempts + 1):
            if failure is not None:
                time.sleep(self.backoff.pause(attempt - 1))
            ran: list[T] = []  # the body's result, once it returned
            try:
                with self.transaction(write=write, locks=locks) as conn:
                    ran.append(body(conn))
                return ran[0]
            except RetryTransaction as err:
                failure = err
            if failure.reason == UNKNOWN and ran and verify is not None \
                    and self._verified(verify):
                log.info("store: the lost commit had happened (verified)")
                return ran[0]
            if failure.reason == UNKNOWN and not rerun_unknown:
                raise failure
            if failure.started and failure.reason in (LOST, UNKNOWN) and (write or locks):
                if attempt < attempts:
                    self.notify(NODE_LOST)
            log.info("store transaction, attempt %s of %s: %s", attempt, attempts, failure)
        assert failure is not None
        if failure.reason == CONFLICT:
            raise StoreError(f"store {describe_url(self.node_url)}: busy: {attempts} attempts "
                             "collided with other sessions' writes; nothing was changed, try "
                             "again") from None
        raise failure

    def _verified(self, verify: Callable[[Any], bool]) -> bool:
        """Did a commit whose answer was lost happen?  Asked on a fresh connection (another
        node's, when the node went); a question that fails counts as "not known": no."""
        try:
            return bool(self.retrying(verify))
        except StoreError as err:
            log.info("store: could not verify a lost commit: %s", err)
            return False

    def _take(self, conn: Any, name: str) -> int:
        """Lock row ``lock/NAME`` (made when missing) for this transaction; its generation.

        On a Galera node the lock is also written (``held/NAME``, a new value): a locking read
        is local to its node, and only a write makes two holders on two nodes collide."""
        import uuid

        import sqlalchemy as sa

        meta = self.sa_table(META_TABLE)
        key = lock_row(name)
        query = sa.select(meta.c.value).where(meta.c.name == key)
        if not self.is_sqlite:
            query = query.with_for_update()
        # The row is locked first, and made only when missing: on InnoDB an INSERT IGNORE
        # that finds the row takes a shared lock on it, and two transactions that both hold
        # one and then ask for the exclusive lock deadlock.
        value = conn.execute(query).scalar()
        if value is None:
            conn.execute(meta.insert().prefix_with("OR IGNORE" if self.is_sqlite else "IGNORE")
                         .values(name=key, value="0"))
            value = conn.execute(query).scalar()
        if conn.info.get("galera"):
            conn.execute(sa.text(f"INSERT INTO {META_TABLE} (name, value) VALUES (:n, :v) "
                                 "ON DUPLICATE KEY UPDATE value = VALUES(value)"),
                         {"n": f"held/{name}", "v": uuid.uuid4().hex})
        generation = meta_rows.number(value)
        if generation is None:
            generation = self._past_every_generation(conn)
            log.warning("lock row %s held no generation number; set past every earlier "
                        "one: %d", row_name(key), generation)
            conn.execute(meta.update().where(meta.c.name == key)
                         .values(value=str(generation)))
        return generation

    def _past_every_generation(self, conn: Any) -> int:
        """A generation for a lock row that held no number (damaged): none a session may
        hold, so that every session re-reads what the lock covers.  Sessions hold the counts
        they read before the damage (small numbers) or nothing (the damage was unreadable):
        the store's clock in microseconds is past both, and past any earlier such setting.
        Read on ``conn``, the transaction taking the lock (no transaction is open yet)."""
        import sqlalchemy as sa

        if self.is_sqlite:
            now = time.time()
        else:
            now = float(conn.execute(sa.text("SELECT UNIX_TIMESTAMP(NOW(6))")).scalar())
        return int(now * 1_000_000)

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
        conn.execute(meta.update().where(meta.c.name == lock_row(name))
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
        query = sa.select(meta.c.name, meta.c.value).where(
            meta.c.name.like(lock_row("%")) | meta.c.name.like(f"{TOKEN_PREFIX}%")
            | (meta.c.name == IDENTITY))
        rows = self.retrying(lambda conn: conn.execute(query).fetchall())
        return self._generations(rows)

    def _generations(self, rows: Iterable[Any]) -> dict[str, int]:
        """The locks' generations among meta rows (the store's id and the tokens are kept
        aside: the tokens read replace those known, as one picture of the store).  A row
        that holds no number, id or token is named as unreadable: a lock's generation is then
        unknown (see _unknown_generation), a token stands for nothing."""
        found: dict[str, int] = {}
        tokens: dict[str, str] = {}
        for name, value in rows:
            if name == IDENTITY:
                self._keep_identity(value)
            elif name.startswith(TOKEN_PREFIX):
                token = meta_rows.token(value)
                if token is None:
                    self._unreadable_meta(name)
                else:
                    tokens[name[len(TOKEN_PREFIX):]] = token
            else:
                generation = meta_rows.number(value)
                if generation is None:
                    self._unreadable_meta(name)
                    generation = self._unknown_generation
                found[name[len(lock_row("")):]] = generation
        self.tokens = tokens
        return found

    def _unreadable_meta(self, name: str) -> None:
        log.warning("unreadable meta row %s", row_name(name))
        if row_name(name) not in self._skipped:
            self._skipped.append(row_name(name))

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
        query = sa.select(meta.c.value).where(meta.c.name == name)
        return self.retrying(lambda conn: conn.execute(query).scalar())  # type: ignore[no-any-return]

    def set_meta(self, name: str, value: str | None) -> None:
        """Write (or, with None, delete) a row of the meta table, in the current transaction
        or one of its own."""
        meta = self.sa_table(META_TABLE)

        def body(conn: Any) -> None:  # delete, then insert: right to run again
            conn.execute(meta.delete().where(meta.c.name == name))
            if value is not None:
                conn.execute(meta.insert().values(name=name, value=value))

        self.retrying(body, write=True)

    def now(self) -> float:
        """The store's clock (leases are timed by it, not by each machine's)."""
        import sqlalchemy as sa

        if self.is_sqlite:
            return time.time()
        return self.retrying(lambda conn: float(
            conn.execute(sa.text("SELECT UNIX_TIMESTAMP(NOW(6))")).scalar()))

    def _absent(self) -> bool:
        """An SQLite store whose file does not exist yet: it holds nothing, and a read-only
        command (the first ``topology`` of a new home) need not create it; the first write
        does."""
        path = self.url.sqlite_path
        return bool(path) and not os.path.exists(path)

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
        # A read: run again on another node, without a word, when its node goes.
        return self.retrying(lambda conn: ({kind: self.load(kind) for kind in kinds},
                                           self.generations()))

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
        def body(conn: Any) -> tuple[list[Record], dict[str, int]]:
            table = self.kind(query.kind)
            if query.key is not None:
                found = table.get(record_key(query.cloud or "", query.key))
                return ([found] if found else []), self.generations()
            return (table.rows(query.cloud, query.name, query.contains),
                    self.generations())

        return self.retrying(body)  # a read: run again elsewhere, without a word

    def empty_all(self) -> None:
        """Delete every row of MiniCloud's tables (Destroy).  The tables stay: other sessions
        may hold them open; the next start is a first start.  Other tables of the database
        are not MiniCloud's (on MySQL, the Stub clouds' location is the store's database)."""
        names = list(TABLES.values())
        existing = self.table_names()

        def body(conn: Any) -> None:  # emptying and a bump: right to run again
            for name in names:
                if name in existing:
                    self.table(name).delete_all()
            # Every session sees the change at its next write (its clouds are gone).
            self.bump(conn, STORE_LOCK)

        self.retrying(body, write=True, locks=(STORE_LOCK,))

    def _dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        self.engine = None

    def close(self) -> None:
        with self._lock:
            self._dispose()


def _quietly(action: Callable[[], Any]) -> None:
    """A rollback or close on a connection that may be gone already: its failure changes
    nothing (the server rolls back a transaction whose connection went)."""
    with suppress(Exception):
        action()


def _on_connect(dbapi_conn: Any, record: Any) -> None:
    """Once per new MySQL/MariaDB connection: is it a Galera node?  Then its reads are made
    causal, and a node that is not ready (outside the primary component, still joining) is
    refused as a lost one, so that the store goes on with another."""
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("SHOW VARIABLES LIKE 'wsrep_on'")
        row = cursor.fetchone()
        galera = bool(row) and str(row[1]).upper() == "ON"
        if galera:
            cursor.execute("SHOW STATUS LIKE 'wsrep_ready'")
            ready = cursor.fetchone()
            if not ready or str(ready[1]).upper() != "ON":
                # The driver's own error class (DB-API's extension on the connection), which
                # SQLAlchemy wraps as it wraps the server's answer of the same number.
                raise dbapi_conn.OperationalError(
                    1047, "WSREP has not yet prepared node for application use")
            cursor.execute(f"SET SESSION wsrep_sync_wait = {CAUSAL_READS}")
    finally:
        cursor.close()
    record.info["galera"] = galera
