"""The store backends every persistence test runs on: SQLite always, MySQL when given, a
MariaDB Galera cluster when given.

The MySQL cases need ``MINICLOUD_TEST_MYSQL_URL`` (``scripts/mysql-test-server.sh start DIR``
prints it) and start from an empty database: every table is dropped first.  The Galera cases
need ``MINICLOUD_GALERA_URLS`` (``scripts/galera-test-cluster.sh start DIR`` prints it with
``MINICLOUD_GALERA_PROXY_URL`` and ``MINICLOUD_GALERA_DIR``); they kill, cut off and restart
nodes, so they hold the cluster one test at a time (``Cluster.held``), and leave every node
Synced.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.volume import FULL, shared

MYSQL_ENV = "MINICLOUD_TEST_MYSQL_URL"


def intent_row(key: str, **extra: Any) -> dict[str, Any]:
    """The data of a valid intent row stored under ``key`` ("CLOUD/ID"), with ``extra`` fields
    (a newer MiniCloud's, as far as the row checks go): for tests that write raw rows into the
    intents table, which every read checks against the Intent's shape."""
    from minicloud.model.codec import to_dict
    from minicloud.model.objects import Intent

    cloud, ident = key.split("/", 1)
    data = to_dict(Intent(cloud, ident, ident))
    data.pop("version", None)
    return {**data, **extra}


def worker_url(url: str, worker: str) -> str:
    """``url`` with a database of the pytest-xdist worker's own (``minicloud_test`` ->
    ``minicloud_test_gw1``): workers drop and create tables at will, so they never share one.
    The test account may create ``minicloud_test%`` databases (scripts/mysql-test-server.sh)."""
    if not url or not worker:
        return url
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(
        hide_password=False)


# Under pytest-xdist each worker has its own database; processes the tests start inherit it.
MYSQL_URL = worker_url(os.environ.get(MYSQL_ENV, ""), os.environ.get("PYTEST_XDIST_WORKER", ""))
if MYSQL_URL:
    os.environ[MYSQL_ENV] = MYSQL_URL
T = TypeVar("T")
NO_MYSQL = f"{MYSQL_ENV} is not set (scripts/mysql-test-server.sh start DIR prints it)"
needs_mysql = [pytest.mark.mysql, pytest.mark.skipif(not MYSQL_URL, reason=NO_MYSQL)]
# Parameters of a fixture that runs once per backend; the ids name it.
BACKENDS = ["sqlite", pytest.param("mysql", marks=needs_mysql)]


def turn_of(points: Iterable[T], db_url: str, signal: str, signals: Sequence[str]) -> list[T]:
    """This case's turn along a kill walk that the store backends here (SQLite, and MariaDB
    when it is set) and the ``signals`` share: each point is interrupted once, by one
    (backend, signal) pair after the other; every pair still lands at every kind of step.
    By default (a small volume, sampled by the caller) a case takes every point."""
    if not FULL:
        return list(points)
    pairs = [(b, s) for b in ("sqlite", "mysql") if b == "sqlite" or MYSQL_URL
             for s in signals]
    backend = "sqlite" if db_url.startswith("sqlite") else "mysql"
    return shared(points, pairs, (backend, signal))


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
    """An empty store of the current schema at ``path``, and beside it the default location
    of its Stub clouds, empty too, copied from ones made once per test session: making the
    schemas (the store's through dataset) costs more than most tests.  Making them is tested
    where it matters (tests/state/test_store.py, tests/drivers/test_stub.py, the first-start
    walks)."""
    import tempfile

    from minicloud.drivers.pool import LOCATION_SUFFIX
    from minicloud.drivers.stub import legacy
    from minicloud.drivers.stub.location import Location
    from minicloud.state.store import Store

    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="minicloud-template-"))
        store = f"sqlite:///{folder}/minicloud.db"
        Store(store).open().close()
        location = Location(f"sqlite:///{folder}/minicloud{LOCATION_SUFFIX}")
        legacy.take_over(location, store)  # made, and marked: nothing to move here
        location.close()
        _TEMPLATE.extend([folder / "minicloud.db", folder / f"minicloud{LOCATION_SUFFIX}"])
    shutil.copyfile(_TEMPLATE[0], path)
    shutil.copyfile(_TEMPLATE[1], path.with_name(f"{path.stem}{LOCATION_SUFFIX}"))


def seeded_url(path: Path) -> str:
    """The URL of the store at ``path``; made empty (a copy of the template: see seed_sqlite)
    when there is none yet."""
    if not path.exists():
        seed_sqlite(path)
    return f"sqlite:///{path}"


_DEMO: list[Path] = []


def seed_demo_sqlite(path: Path) -> None:
    """A store holding the README's demo deployment at ``path`` (and whatever the demo's
    clouds keep beside the store), copied from one built once per test session through
    ``build_demo``: building it costs about ten times what most tests do.  Building it is
    tested where it matters (tests/test_demo.py, the end-to-end tests)."""
    import tempfile

    from minicloud.app import MiniCloud
    from minicloud.config import Config
    from minicloud.managers.demo import build_demo

    if not _DEMO:
        folder = Path(tempfile.mkdtemp(prefix="minicloud-demo-"))
        seed_sqlite(folder / "minicloud.db")
        app = MiniCloud(Config(home=folder / "home", db_url=f"sqlite:///{folder}/minicloud.db"),
                        notify=lambda text: None).open()
        try:
            assert build_demo(app) is True
        finally:
            app.close()
        _DEMO.append(folder)
    for item in _DEMO[0].iterdir():
        if item.is_file():
            shutil.copyfile(item, path.parent / item.name.replace("minicloud", path.stem, 1))


# The template database of each server (host:port) this process seeded from.
_MYSQL_TEMPLATE: dict[str, str] = {}


def seed_mysql(url: str) -> None:
    """An empty store of the current schema in ``url``'s database, as seed_sqlite makes one:
    its tables copied (CREATE TABLE ... LIKE, inside the server) from a database made once
    per test process through the store, several times cheaper than dropping everything and
    making the schema again.  Tests of making the schema drop the tables themselves."""
    from sqlalchemy.engine import make_url

    from minicloud.drivers.stub.location import Location
    from minicloud.state.store import Store

    parsed = make_url(url)
    template = parsed.set(database=f"{parsed.database}_template")
    server = f"{parsed.host}:{parsed.port}"
    if server not in _MYSQL_TEMPLATE:
        drop_all_tables(url)
        Store(url).open().close()
        # The Stub clouds' default location on a MySQL store is the store's database: its
        # tables are made once here too (DDL costs more than copying them).
        Location(url).open().close()
        _mysql_copy(url, template.database or "")
        _MYSQL_TEMPLATE[server] = template.render_as_string(hide_password=False)
    _mysql_copy(_MYSQL_TEMPLATE[server], parsed.database or "")


def backend_url(backend: str, tmp_path: Path) -> str:
    """An empty store of the current schema: a SQLite file in tmp_path, or the MySQL test
    database."""
    if backend == "sqlite":
        seed_sqlite(tmp_path / "minicloud.db")
        return f"sqlite:///{tmp_path}/minicloud.db"
    seed_mysql(MYSQL_URL)
    return MYSQL_URL


# -- a starting point made once, copied for every point of a walk -------------------------------

def _mysql_copy(source_url: str, target_db: str) -> None:
    """Every table of ``source_url``'s database, with its rows, into ``target_db`` (emptied
    first): a copy inside the server, much cheaper than making the schema again."""
    import sqlalchemy

    parsed = sqlalchemy.engine.make_url(source_url)
    source = parsed.database
    engine = sqlalchemy.create_engine(source_url)
    tables = sqlalchemy.text("SELECT table_name FROM information_schema.tables "
                             "WHERE table_schema = :db")
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f"CREATE DATABASE IF NOT EXISTS `{target_db}` "
                                         "CHARACTER SET utf8mb4"))
            for table in conn.execute(tables, {"db": target_db}).scalars().all():
                conn.execute(sqlalchemy.text(f"DROP TABLE `{target_db}`.`{table}`"))
            for table in conn.execute(tables, {"db": source}).scalars().all():
                conn.execute(sqlalchemy.text(
                    f"CREATE TABLE `{target_db}`.`{table}` LIKE `{source}`.`{table}`"))
                conn.execute(sqlalchemy.text(
                    f"INSERT INTO `{target_db}`.`{table}` SELECT * FROM `{source}`.`{table}`"))
    finally:
        engine.dispose()


class StartingPoint:
    """A home and a store built once (``build(home, url)``), then copied for each point of a
    walk: building a cloud and seeding it costs more than most walk points.  On SQLite the
    point's folder (home and store folder) is copied whole; on MySQL the tables are copied
    inside the server, from a database kept aside for the purpose."""

    def __init__(self, db_url: str, tmp_path: Path) -> None:
        self.db_url = db_url
        self.tmp_path = tmp_path
        self.sqlite = db_url.startswith("sqlite")

    def _place(self, folder: Path) -> tuple[Path, str]:
        home = folder / "home"
        home.mkdir(parents=True)
        if self.sqlite:
            (folder / "store").mkdir()
            return home, f"sqlite:///{folder}/store/minicloud.db"
        return home, self.db_url

    def build(self, build: Callable[[Path, str], T]) -> T:
        folder = self.tmp_path / "base"
        home, url = self._place(folder)
        if self.sqlite:
            seed_sqlite(folder / "store" / "minicloud.db")
        else:
            seed_mysql(url)
        result = build(home, url)
        if not self.sqlite:
            _mysql_copy(url, self._aside())
        return result

    def _aside(self) -> str:
        from sqlalchemy.engine import make_url

        return f"{make_url(self.db_url).database}_base"

    def copy(self, name: str) -> tuple[Path, str]:
        """A fresh copy of the starting point: its home and store URL."""
        folder = self.tmp_path / name
        shutil.copytree(self.tmp_path / "base", folder)
        if self.sqlite:
            return folder / "home", f"sqlite:///{folder}/store/minicloud.db"
        from sqlalchemy.engine import make_url

        aside = make_url(self.db_url).set(database=self._aside())
        _mysql_copy(aside.render_as_string(hide_password=False),
                    make_url(self.db_url).database)
        return folder / "home", self.db_url


# -- a MariaDB Galera cluster (scripts/galera-test-cluster.sh) -----------------------------------

GALERA_ENV = "MINICLOUD_GALERA_URLS"
NO_GALERA = f"{GALERA_ENV} is not set (scripts/galera-test-cluster.sh start DIR prints it)"
needs_galera = [pytest.mark.galera, pytest.mark.skipif(not os.environ.get(GALERA_ENV),
                                                      reason=NO_GALERA)]


def make_url_port(url: str) -> int:
    from sqlalchemy.engine import make_url

    return int(make_url(url).port or 3306)


def on_server(url: str, server_url: str) -> str:
    """``url``'s database (and account) on the server of ``server_url``: the same store
    through another node of a cluster."""
    from sqlalchemy.engine import make_url

    server = make_url(server_url)
    return make_url(url).set(host=server.host, port=server.port).render_as_string(
        hide_password=False)


class Cluster:
    """The three nodes and the proxy of the test cluster, each URL with a database of this
    pytest-xdist worker's own."""

    SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "galera-test-cluster.sh"

    def __init__(self) -> None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        self.urls = [worker_url(u, worker) for u in os.environ.get(GALERA_ENV, "").split()]
        self.proxy_url = worker_url(os.environ.get("MINICLOUD_GALERA_PROXY_URL", ""), worker)
        self.dir = os.environ.get("MINICLOUD_GALERA_DIR", "")

    def node(self, n: int) -> str:
        """Node ``n``'s URL (1 to 3)."""
        return self.urls[n - 1]

    def number(self, conn: object) -> int:
        """Which node (1 to 3) a connection is on: the one a proxy chose."""
        import sqlalchemy

        port = conn.execute(sqlalchemy.text("SELECT @@port")).scalar()  # type: ignore[attr-defined]
        return [make_url_port(url) for url in self.urls].index(int(port)) + 1

    def _run(self, action: str, n: int) -> None:
        import subprocess

        done = subprocess.run(["bash", str(self.SCRIPT), action, self.dir, str(n)],
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, (action, n, done.stderr)

    def kill(self, n: int) -> None:
        self._run("kill", n)

    def restart(self, n: int) -> None:
        """Node ``n`` started again (when it is not running), back when Synced."""
        self._run("restart", n)

    def isolate(self, n: int) -> None:
        self._run("isolate", n)

    def rejoin(self, n: int) -> None:
        self._run("rejoin", n)

    def heal(self) -> None:
        """Every node running, in the group and Synced (after a test that broke some)."""
        for n in (1, 2, 3):
            if self._alive(n):
                self.rejoin(n)  # let back in if it was cut off; waits until Synced
            else:
                self.restart(n)

    def _alive(self, n: int) -> bool:
        pid = (Path(self.dir) / f"node{n}" / "mariadbd.pid").read_text().strip()
        try:
            os.kill(int(pid), 0)
        except (OSError, ValueError):
            return False
        return True

    @contextmanager
    def held(self) -> Iterator[Cluster]:
        """The cluster for this test alone (other workers wait), healed afterwards."""
        import fcntl

        with open(Path(self.dir) / "tests.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self
            finally:
                self.heal()
                fcntl.flock(lock, fcntl.LOCK_UN)

    def tables(self, n: int, database: str) -> dict[str, list[tuple[object, ...]]]:
        """Every row of every table of ``database`` on node ``n``, in key order (read
        causally: after everything the cluster committed before)."""
        import sqlalchemy

        engine = sqlalchemy.create_engine(on_server(self.urls[0], self.node(n)))
        try:
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text("SET SESSION wsrep_sync_wait = 1"))
                names = conn.execute(sqlalchemy.text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = :db ORDER BY table_name"), {"db": database}).scalars()
                out = {}
                for name in list(names):
                    rows = conn.execute(sqlalchemy.text(
                        f"SELECT * FROM `{database}`.`{name}` ORDER BY 1")).fetchall()
                    out[name] = [tuple(row) for row in rows]
                return out
        finally:
            engine.dispose()

    def assert_same_everywhere(self, database: str) -> dict[str, list[tuple[object, ...]]]:
        """The three nodes hold the same rows, table by table; those rows."""
        first = self.tables(1, database)
        for n in (2, 3):
            theirs = self.tables(n, database)
            assert theirs.keys() == first.keys(), (n, sorted(theirs), sorted(first))
            for name in first:
                assert theirs[name] == first[name], (f"node {n} differs from node 1 in {name}")
        return first


# -- where the two processes of a race write --------------------------------------------------

# The same store URL (SQLite, one MySQL server), or two different nodes of one Galera cluster.
RACE_BACKENDS = [*BACKENDS, pytest.param("galera", marks=needs_galera)]


class RacePlaces:
    """The store a race starts from (``url``), how the two processes reach a copy of it
    (``places(url)``: the same URL twice, or on a cluster that store on node 1 and on node 2),
    and ``check()``: after a round, on a cluster, the three nodes hold the same rows, table
    by table (nothing lost, duplicated or left behind on one of them)."""

    def __init__(self, url: str, cluster: Cluster | None = None, backend: str = "sqlite"
                 ) -> None:
        self.url = url
        self.cluster = cluster
        self.backend = backend

    def turn(self, rounds: Iterable[T]) -> list[T]:
        """This backend's rounds: at full volume the race backends here take turns through
        them (each round, with its delay, raced once on one backend or another); by default
        all of them."""
        rounds = list(rounds)
        if not FULL:
            return rounds
        present = ["sqlite", *(["mysql"] if MYSQL_URL else []),
                   *(["galera"] if os.environ.get(GALERA_ENV) else [])]
        return shared(rounds, present, self.backend)

    def places(self, url: str) -> tuple[str, str]:
        if self.cluster is None:
            return url, url
        return on_server(url, self.cluster.node(1)), on_server(url, self.cluster.node(2))

    def check(self) -> None:
        if self.cluster is not None:
            from sqlalchemy.engine import make_url

            self.cluster.assert_same_everywhere(make_url(self.url).database or "")


@contextmanager
def race_places(backend: str, tmp_path: Path) -> Iterator[RacePlaces]:
    """The store for a race on ``backend`` (one of RACE_BACKENDS); a cluster is held for the
    whole test (other workers wait) and healed afterwards."""
    if backend != "galera":
        yield RacePlaces(backend_url(backend, tmp_path), backend=backend)
        return
    with Cluster().held() as cluster:
        seed_mysql(cluster.node(1))
        yield RacePlaces(cluster.node(1), cluster, backend="galera")
