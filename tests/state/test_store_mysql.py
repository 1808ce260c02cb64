"""The store on MySQL/MariaDB (and the same cases on SQLite where they apply).

The MySQL cases run when ``MINICLOUD_TEST_MYSQL_URL`` is set (``scripts/mysql-test-server.sh
start DIR`` prints it; CI sets it); otherwise they are skipped with that reason.  Each MySQL case
starts on an empty database: every table of it is dropped first.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy

from minicloud.app import MiniCloud
from minicloud.config import Config, load_config
from minicloud.model.errors import StoreError
from minicloud.model.kinds import TABLES
from minicloud.model.objects import Cloud, Network, Subnet
from minicloud.state.dburl import StoreURL, describe_url
from minicloud.state.store import SCHEMA_VERSION, Store
from tests.backends import BACKENDS, MYSQL_URL, NO_MYSQL, backend_url, drop_all_tables

REPO = Path(__file__).resolve().parents[2]


# -- helpers ----------------------------------------------------------------------------------

def url_with(url: str, *, user: str | None = None, password: str | None = None,
             database: str | None = None, port: int | None = None,
             drop_password: bool = False) -> str:
    parts = urlsplit(url)
    user = parts.username if user is None else user
    password = parts.password if password is None else password
    host = parts.hostname or "127.0.0.1"
    port = parts.port if port is None else port
    netloc = user or ""
    if password and not drop_password:
        netloc += f":{password}"
    netloc += f"@{host}" + (f":{port}" if port else "")
    path = parts.path if database is None else f"/{database}"
    return urlunsplit(parts._replace(netloc=netloc, path=path))


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_app(url: str, home: Path) -> MiniCloud:
    return MiniCloud(Config(home=home, db_url=url)).open()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL per backend: an SQLite file in tmp_path, or the emptied test database."""
    return backend_url(request.param, tmp_path)


# -- basics on both backends --------------------------------------------------------------------

def test_open_creates_every_table_and_round_trips(store_url: str) -> None:
    store = Store(store_url).open()
    try:
        assert set(TABLES.values()) <= store.table_names()
        net = {"cloud": "c1", "id": "n1", "name": "ñet-" + "x" * 200,
               "cidrs": ["10.0.0.0/24"], "n": 1}
        table = store.kind("network")
        assert table.put("c1/n1", "c1", net) == 1
        assert table.get("c1/n1") == (net, 1)
        assert table.put("c1/n1", "c1", {**net, "n": 2}, expected=1) == 2
        assert table.rows("c1") == [({**net, "n": 2}, 2)]
        assert table.rows("other") == []
        assert store.schema_version() == SCHEMA_VERSION
    finally:
        store.close()
    # A second open of the same store changes nothing.
    again = Store(store_url).open()
    try:
        assert again.kind("network").get("c1/n1")[1] == 2
    finally:
        again.close()


# -- schema migration ---------------------------------------------------------------------------

def write_old_store(url: str) -> None:
    """Tables as MiniCloud wrote them before row versions: key, cloud, data; no version.
    (The tables of the store the fixture made are dropped first: those are current.)"""
    engine = sqlalchemy.create_engine(url)
    current = sqlalchemy.MetaData()
    current.reflect(bind=engine)
    current.drop_all(bind=engine)
    meta = sqlalchemy.MetaData()
    tables = {
        name: sqlalchemy.Table(
            name, meta,
            sqlalchemy.Column("key", sqlalchemy.String(255), primary_key=True),
            sqlalchemy.Column("cloud", sqlalchemy.String(64), index=True),
            sqlalchemy.Column("data", sqlalchemy.Text),
        )
        for name in ("clouds", "networks")
    }
    cloud = {"name": "old", "type": "stub", "location": "Ghent", "settings": {},
             "reachable": True}
    nets = [{"cloud": "old", "id": f"n{i}", "name": f"net{i}", "owned": True,
             "subnets": [{"id": f"s{i}", "name": "", "cidr": f"10.{i}.0.0/24",
                          "gateway_ip": None}], "external": False}
            for i in range(30)]
    try:
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(tables["clouds"].insert(),
                         [{"key": "old/old", "cloud": "old", "data": json.dumps(cloud)}])
            conn.execute(tables["networks"].insert(),
                         [{"key": f"old/{n['id']}", "cloud": "old", "data": json.dumps(n)}
                          for n in nets])
    finally:
        engine.dispose()


def test_store_without_version_column_is_migrated_without_loss(store_url: str,
                                                                tmp_path: Path) -> None:
    write_old_store(store_url)
    store = Store(store_url).open()
    try:
        inspector = sqlalchemy.inspect(store.engine)
        for table in ("clouds", "networks"):
            assert "version" in {c["name"] for c in inspector.get_columns(table)}
        rows = store.kind("network").rows("old")
        assert len(rows) == 30
        assert sorted(d["name"] for d, _ in rows) == sorted(f"net{i}" for i in range(30))
        assert store.kind("cloud").get("old/old")[0]["location"] == "Ghent"
    finally:
        store.close()

    # The migrated objects load, and can be changed and deleted through the normal write path.
    app = make_app(store_url, tmp_path)
    try:
        assert app.clouds.get("old").location == "Ghent"
        assert len(app.inventory.cache.all("network", "old")) == 30
        assert app.clouds.update("old", "Antwerp").location == "Antwerp"
        net = app.inventory.cache.get("network", "old", "n0")
        with app.inventory.write() as tx:
            tx.delete(net)
    finally:
        app.close()
    again = make_app(store_url, tmp_path)
    try:
        assert again.clouds.get("old").location == "Antwerp"
        assert len(again.inventory.cache.all("network", "old")) == 29
    finally:
        again.close()


# -- MINICLOUD_DB_PASSWORD ------------------------------------------------------------------------

def test_password_variable_fills_a_url_without_password(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MINICLOUD_CONFIG", raising=False)
    monkeypatch.setenv("MINICLOUD_HOME", str(tmp_path))
    monkeypatch.setenv("MINICLOUD_DB_URL",
                       "mysql+pymysql://mc@db.example:3306/minicloud?charset=utf8mb4")
    monkeypatch.setenv("MINICLOUD_DB_PASSWORD", "p@ss/w:rd")
    url = load_config().db_url.rendered()
    assert urlsplit(url).password == "p%40ss%2Fw%3Ard"
    assert sqlalchemy.engine.make_url(url).password == "p@ss/w:rd"
    assert url.endswith("@db.example:3306/minicloud?charset=utf8mb4")
    # A URL that has a password keeps it; SQLite URLs are left alone.
    own = StoreURL.of("mysql+pymysql://mc:own@h/db").with_password("other")
    assert own.rendered() == "mysql+pymysql://mc:own@h/db"
    sqlite = StoreURL.of("sqlite:////tmp/x.db")
    assert sqlite.with_password("other") == sqlite


@pytest.mark.mysql
@pytest.mark.skipif(not MYSQL_URL, reason=NO_MYSQL)
def test_password_variable_opens_the_mysql_store(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    drop_all_tables(MYSQL_URL)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MINICLOUD_CONFIG", raising=False)
    monkeypatch.setenv("MINICLOUD_HOME", str(tmp_path))
    monkeypatch.setenv("MINICLOUD_DB_URL", url_with(MYSQL_URL, drop_password=True))
    monkeypatch.setenv("MINICLOUD_DB_PASSWORD", urlsplit(MYSQL_URL).password or "")
    config = load_config()
    store = Store(config.db_url).open()
    try:
        assert "clouds" in store.table_names()
    finally:
        store.close()


# -- connection errors ------------------------------------------------------------------------

SECRET = "Sup3r-s3cret-pw"


def assert_one_line_without_secrets(message: str, *secrets_: str) -> None:
    assert "\n" not in message
    assert "Traceback" not in message
    for secret in secrets_:
        if secret:
            assert secret not in message


def test_unreachable_server_is_one_line_naming_host_port_database() -> None:
    port = closed_port()
    url = f"mysql+pymysql://minicloud:{SECRET}@127.0.0.1:{port}/minicloud?charset=utf8mb4"
    with pytest.raises(StoreError) as err:
        Store(url).open()
    message = str(err.value)
    assert f"127.0.0.1:{port}/minicloud" in message
    assert "unreachable" in message
    assert_one_line_without_secrets(message, SECRET)


@pytest.mark.parametrize("password_in", ["url", "variable"])
def test_cli_with_unreachable_server_exits_2_with_one_line(tmp_path: Path,
                                                           password_in: str) -> None:
    port = closed_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MINICLOUD_") or k == "MINICLOUD_TEST_MYSQL_URL"}
    env["MINICLOUD_HOME"] = str(tmp_path / "home")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if password_in == "url":
        env["MINICLOUD_DB_URL"] = (f"mysql+pymysql://minicloud:{SECRET}@127.0.0.1:{port}"
                                   "/minicloud?charset=utf8mb4")
    else:
        env["MINICLOUD_DB_URL"] = (f"mysql+pymysql://minicloud@127.0.0.1:{port}"
                                   "/minicloud?charset=utf8mb4")
        env["MINICLOUD_DB_PASSWORD"] = SECRET
    proc = subprocess.run([sys.executable, "-m", "minicloud", "topology"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"127.0.0.1:{port}/minicloud" in lines[0]
    assert "unreachable" in lines[0]
    assert "Traceback" not in proc.stderr
    assert SECRET not in proc.stderr
    log = tmp_path / "home" / "minicloud.log"
    if log.exists():
        assert SECRET not in log.read_text(encoding="utf-8", errors="replace")


@pytest.mark.mysql
@pytest.mark.skipif(not MYSQL_URL, reason=NO_MYSQL)
def test_wrong_password_says_access_denied() -> None:
    real = urlsplit(MYSQL_URL).password or ""
    url = url_with(MYSQL_URL, password=SECRET)
    with pytest.raises(StoreError) as err:
        Store(url).open()
    message = str(err.value)
    assert describe_url(MYSQL_URL) in message
    assert "access denied" in message
    assert_one_line_without_secrets(message, SECRET, real)


def nocreate_url(database: str) -> str:
    """The script's second account: same password, no right to create databases."""
    url = url_with(MYSQL_URL, user="minicloud_nocreate", database=database)
    engine = sqlalchemy.create_engine(url_with(url, database=""))
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.OperationalError:
        pytest.skip("no minicloud_nocreate account on this server "
                    "(scripts/mysql-test-server.sh creates it)")
    finally:
        engine.dispose()
    return url


@pytest.mark.mysql
@pytest.mark.skipif(not MYSQL_URL, reason=NO_MYSQL)
def test_missing_database_the_account_may_not_create() -> None:
    # minicloud_nocreate may read minicloud_missing (so the server says "unknown database")
    # but not create it.
    url = nocreate_url("minicloud_missing")
    with pytest.raises(StoreError) as err:
        Store(url).open()
    message = str(err.value)
    assert "127.0.0.1:" in message and "/minicloud_missing" in message
    assert describe_url(url) in message
    assert "does not exist" in message
    assert "CREATE DATABASE `minicloud_missing`" in message
    assert_one_line_without_secrets(message, urlsplit(MYSQL_URL).password or "")


@pytest.mark.mysql
@pytest.mark.skipif(not MYSQL_URL, reason=NO_MYSQL)
def test_database_the_account_has_no_rights_on() -> None:
    # Without any right on the database the server answers 1044 (access denied to database).
    url = nocreate_url("minicloud_forbidden")
    with pytest.raises(StoreError) as err:
        Store(url).open()
    message = str(err.value)
    assert describe_url(url) in message
    assert "denied" in message.lower()
    assert_one_line_without_secrets(message, urlsplit(MYSQL_URL).password or "")


@pytest.mark.mysql
@pytest.mark.skipif(not MYSQL_URL, reason=NO_MYSQL)
def test_missing_database_is_created_when_the_account_may(tmp_path: Path) -> None:
    name = f"minicloud_test_auto_{secrets.token_hex(4)}"
    url = url_with(MYSQL_URL, database=name)
    admin = sqlalchemy.create_engine(url_with(MYSQL_URL, database=""))
    try:
        app = make_app(url, tmp_path)
        try:
            with app.inventory.write() as tx:
                tx.put(Cloud("fresh", "stub", "Leuven"))
        finally:
            app.close()
        with admin.connect() as conn:
            charset = conn.execute(sqlalchemy.text(
                "SELECT default_character_set_name FROM information_schema.schemata "
                "WHERE schema_name = :n"), {"n": name}).scalar()
        assert charset == "utf8mb4"
        again = make_app(url, tmp_path)
        try:
            assert again.clouds.get("fresh").location == "Leuven"
        finally:
            again.close()
    finally:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.mark.mysql
@pytest.mark.skipif(not MYSQL_URL, reason=NO_MYSQL)
def test_over_long_values_are_refused_before_mysql_sees_them(tmp_path: Path) -> None:
    drop_all_tables(MYSQL_URL)
    store = Store(MYSQL_URL).open()
    try:
        with pytest.raises(StoreError, match="too long"):
            store.kind("network").put("c/" + "k" * 300, "c", {})
        with pytest.raises(StoreError, match="too long"):
            store.kind("network").put("c/k", "c" * 65, {})
        # Long JSON data is fine (TEXT); unicode survives utf8mb4.
        data = {"cloud": "c", "id": "k", "name": "réseau-🌐",
                "subnets": [Subnet("s", "", "10.0.0.0/24").__dict__] * 50}
        store.kind("network").put("c/k", "c", data)
        assert store.kind("network").get("c/k")[0] == data
    finally:
        store.close()
    app = make_app(MYSQL_URL, tmp_path)
    try:
        with app.inventory.write() as tx:
            tx.put(Network(cloud="c", id="n1", name="réseau-🌐"))
        app.inventory.reload()
        assert app.inventory.cache.get("network", "c", "n1").name == "réseau-🌐"
    finally:
        app.close()


# -- a server that goes away mid-session ----------------------------------------------------------

SCRIPT = REPO / "scripts" / "mysql-test-server.sh"


def server_script(action: str, folder: str, port: int) -> str:
    env = {**os.environ, "MINICLOUD_TEST_MYSQL_PORT": str(port)}
    proc = subprocess.run(["bash", str(SCRIPT), action, folder], env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.mysql
@pytest.mark.skipif(not MYSQL_URL, reason=NO_MYSQL)
def test_server_that_goes_away_and_comes_back(tmp_path: Path) -> None:
    """A private second server: stopped under an open MiniCloud, then started again."""
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="mc-gone-", dir="/tmp")  # short: a unix socket path
    port = closed_port()
    try:
        out = server_script("start", folder, port)
        url = out.strip().split("=", 1)[1].strip("'")
        password = urlsplit(url).password or ""
        app = make_app(url, tmp_path)
        try:
            with app.inventory.write() as tx:
                tx.put(Cloud("c1", "stub", "before"))
            server_script("stop", folder, port)
            # Writes fail with one line naming the server; the cache is left as it was.
            with pytest.raises(StoreError) as err:
                app.clouds.update("c1", "while away")
            message = str(err.value)
            assert f"127.0.0.1:{port}/minicloud_test" in message
            assert "unreachable" in message
            assert_one_line_without_secrets(message, password)
            assert app.clouds.get("c1").location == "before"
            # Back again (same data folder, same password reset): the same MiniCloud goes on.
            server_script("start", folder, port)
            assert app.clouds.update("c1", "after").location == "after"
            app.inventory.reload()
            assert app.clouds.get("c1").location == "after"
        finally:
            app.close()
    finally:
        server_script("stop", folder, port)
        shutil.rmtree(folder, ignore_errors=True)
