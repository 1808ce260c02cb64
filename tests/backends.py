"""The store backends every persistence test runs on: SQLite always, MySQL when given.

The MySQL cases need ``MINICLOUD_TEST_MYSQL_URL`` (``scripts/mysql-test-server.sh start DIR``
prints it) and start from an empty database: every table is dropped first.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MYSQL_ENV = "MINICLOUD_TEST_MYSQL_URL"
MYSQL_URL = os.environ.get(MYSQL_ENV, "")
NO_MYSQL = f"{MYSQL_ENV} is not set (scripts/mysql-test-server.sh start DIR prints it)"
needs_mysql = [pytest.mark.mysql, pytest.mark.skipif(not MYSQL_URL, reason=NO_MYSQL)]
# Parameters of a fixture that runs once per backend; the ids name it.
BACKENDS = ["sqlite", pytest.param("mysql", marks=needs_mysql)]


def drop_all_tables(url: str) -> None:
    """Give a test a clean MySQL database (created when missing)."""
    import sqlalchemy

    parsed = sqlalchemy.engine.make_url(url)
    server = sqlalchemy.create_engine(parsed.set(database=""))
    try:
        with server.connect() as conn:
            conn.execute(sqlalchemy.text(f"CREATE DATABASE IF NOT EXISTS `{parsed.database}` "
                                         "CHARACTER SET utf8mb4"))
            conn.commit()
    finally:
        server.dispose()
    engine = sqlalchemy.create_engine(url)
    try:
        meta = sqlalchemy.MetaData()
        meta.reflect(bind=engine)
        meta.drop_all(bind=engine)
    finally:
        engine.dispose()


_TEMPLATE: list[Path] = []


def seed_sqlite(path: Path) -> None:
    """An empty store of the current schema at ``path``, copied from one made once per test
    session: making the schema (through dataset) costs more than most tests.  Making it is
    tested where it matters (tests/state/test_store.py, the first-start walks)."""
    import shutil
    import tempfile

    from minicloud.drivers.stub.driver import TABLES as STUB_TABLES
    from minicloud.state.store import Store

    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="minicloud-template-"))
        Store(f"sqlite:///{folder}/minicloud.db", STUB_TABLES.values()).open().close()
        _TEMPLATE.append(folder / "minicloud.db")
    shutil.copyfile(_TEMPLATE[0], path)


def backend_url(backend: str, tmp_path: Path) -> str:
    """An empty SQLite store in tmp_path, or the emptied MySQL test database."""
    if backend == "sqlite":
        seed_sqlite(tmp_path / "minicloud.db")
        return f"sqlite:///{tmp_path}/minicloud.db"
    drop_all_tables(MYSQL_URL)
    return MYSQL_URL
