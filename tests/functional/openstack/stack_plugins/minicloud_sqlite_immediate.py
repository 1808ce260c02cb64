"""SQLite for several OpenStack processes at once, without ``database is locked``.

oslo.db opens every SQLite transaction with a plain (deferred) ``BEGIN``: a transaction that
reads first and writes later cannot take the write lock once another connection wrote in the
meantime, and SQLite then fails it at once with ``database is locked`` instead of waiting
(seen in nova-conductor under two concurrent server builds, even with WAL and one worker).
``BEGIN IMMEDIATE`` takes the write lock up front, so transactions queue behind each other
(for up to ``busy_timeout``) instead of failing.  A test stack of a few servers does not
notice the lost read concurrency.

up.sh loads this module in every process of the stack's venv through a ``.pth`` file.
"""

BUSY_TIMEOUT_MS = 60_000


def install() -> None:
    try:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        from sqlalchemy.pool import Pool
    except ImportError:  # not a venv with SQLAlchemy: nothing to do
        return

    @event.listens_for(Pool, "connect")
    def _busy_timeout(dbapi_connection, _record):
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    @event.listens_for(Engine, "before_cursor_execute", retval=True)
    def _immediate(conn, _cursor, statement, parameters, _context, _many):
        if statement == "BEGIN" and conn.dialect.name == "sqlite":
            return "BEGIN IMMEDIATE", parameters
        return statement, parameters


install()
