"""The store: tables, versioned records, transactions, restarts, URLs, schema migration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy

from minicloud.config import Config
from minicloud.model.errors import StaleError, StoreError
from minicloud.model.kinds import TABLES
from minicloud.secrets import redact
from minicloud.state.dburl import StoreURL, describe_url
from minicloud.state.store import (
    META_TABLE,
    SCHEMA_VERSION,
    Query,
    Store,
    record_key,
)


def fits(key: str, **fields: object) -> dict[str, object]:
    """Data that fits every resource kind's shape for ``key`` ("cloud/id": its name is the
    id), with ``fields`` beside it: what these tests check is the table, not the kinds."""
    cloud, ident = key.split("/", 1)
    return {"cloud": cloud, "id": ident, "name": ident, **fields}


@pytest.fixture
def store(db_url: str):
    s = Store(db_url).open()
    yield s
    s.close()


def test_tables_created(store: Store, db_url: str) -> None:
    engine = sqlalchemy.create_engine(db_url)
    try:
        inspector = sqlalchemy.inspect(engine)
        names = set(inspector.get_table_names())
        assert set(TABLES.values()) | {META_TABLE} <= names
        for table in TABLES.values():
            columns = {c["name"] for c in inspector.get_columns(table)}
            assert columns == {"key", "cloud", "name", "data", "version"}, table
            indexed = {tuple(i["column_names"]) for i in inspector.get_indexes(table)}
            assert {("cloud",), ("name",)} <= indexed, table
    finally:
        engine.dispose()


def test_put_get_delete(store: Store) -> None:
    table = store.kind("network")
    key = record_key("Lab", "net-1")
    assert key == "Lab/net-1"
    assert table.get(key) is None
    data = {"cloud": "Lab", "id": "net-1", "name": "n", "nested": [{"cidr": "10.0.0.0/24"}],
            "text": "é✓"}
    assert table.put(key, "Lab", data) == 1
    assert table.get(key) == (data, 1)
    assert table.rows() == [(data, 1)]
    assert table.rows("Lab") == [(data, 1)]
    assert table.rows("Other") == []
    table.delete(key)
    assert table.get(key) is None
    assert table.rows() == []


def test_version_increments(store: Store) -> None:
    table = store.kind("router")
    assert table.put("c/r", "c", fits("c/r", v=1)) == 1
    assert table.put("c/r", "c", fits("c/r", v=2)) == 2
    assert table.put("c/r", "c", fits("c/r", v=3), expected=2) == 3
    assert table.put("c/r", "c", fits("c/r", v=4), expected=3) == 4
    assert table.get("c/r") == (fits("c/r", v=4), 4)
    assert table.put("c/new", "c", fits("c/new", v=1), expected=0) == 1


def test_stale_expected_version_raises_and_writes_nothing(store: Store) -> None:
    table = store.kind("router")
    table.put("c/r", "c", fits("c/r", v=1))
    table.put("c/r", "c", fits("c/r", v=2))
    with pytest.raises(StaleError):
        table.put("c/r", "c", fits("c/r", v="late"), expected=1)
    assert table.get("c/r") == (fits("c/r", v=2), 2)
    with pytest.raises(StaleError):  # "create" of a record that exists meanwhile
        table.put("c/r", "c", fits("c/r", v="late"), expected=0)
    assert table.get("c/r") == (fits("c/r", v=2), 2)
    with pytest.raises(StaleError):
        table.delete("c/r", expected=1)
    assert table.get("c/r") == (fits("c/r", v=2), 2)
    table.delete("c/r", expected=2)
    assert table.get("c/r") is None


def test_stale_write_inside_a_transaction_writes_nothing(store: Store) -> None:
    table = store.kind("network")
    table.put("c/a", "c", fits("c/a", v=1))
    with pytest.raises(StaleError), store.transaction():
        table.put("c/b", "c", fits("c/b", v=1), expected=0)
        table.put("c/a", "c", fits("c/a", v="late"), expected=7)
    assert table.get("c/b") is None
    assert table.get("c/a") == (fits("c/a", v=1), 1)


def test_transaction_rollback_on_exception(store: Store) -> None:
    networks, routers = store.kind("network"), store.kind("router")
    with pytest.raises(RuntimeError), store.transaction():
        networks.put("c/n", "c", fits("c/n"))
        routers.put("c/r", "c", fits("c/r"))
        raise RuntimeError("boom")
    assert networks.get("c/n") is None
    assert routers.get("c/r") is None
    with store.transaction():
        networks.put("c/n", "c", fits("c/n"))
        routers.put("c/r", "c", fits("c/r"))
    assert networks.get("c/n") == (fits("c/n"), 1)
    assert routers.get("c/r") == (fits("c/r"), 1)


def test_delete_cloud_removes_only_that_cloud(store: Store) -> None:
    table = store.kind("instance")
    table.put("a/1", "a", fits("a/1", x=1))
    table.put("b/1", "b", fits("b/1", x=2))
    table.delete_cloud("a")
    assert table.rows() == [(fits("b/1", x=2), 1)]


def test_put_many(store: Store) -> None:
    table = store.kind("image")
    table.put_many((f"c/{i}", "c", fits(f"c/{i}", i=i)) for i in range(5))
    assert sorted(d["i"] for d, _ in table.rows()) == list(range(5))


def test_over_long_keys_are_refused(store: Store) -> None:
    with pytest.raises(StoreError):
        store.kind("network").put("c/" + "x" * 300, "c", {})
    with pytest.raises(StoreError):
        store.kind("network").put("c/x", "c" * 65, {})


def test_restart_sees_data(db_url: str) -> None:
    first = Store(db_url).open()
    lab = {"name": "Lab", "type": "stub"}
    first.kind("cloud").put("Lab/Lab", "Lab", lab)
    first.close()
    second = Store(db_url).open()
    try:
        assert second.kind("cloud").get("Lab/Lab") == (lab, 1)
        assert second.load("cloud") == [(lab, 1)]
    finally:
        second.close()


def test_empty_all_gives_a_first_start(db_url: str) -> None:
    store = Store(db_url).open()
    store.kind("cloud").put("Lab/Lab", "Lab", {"name": "Lab"})
    store.empty_all()
    again = Store(db_url).open()
    try:
        assert again.load("cloud") == []
    finally:
        again.close()


def test_a_store_has_one_id_for_its_life_and_every_reader_sees_it(db_url: str) -> None:
    first = Store(db_url).open()
    made = first.identity
    assert made and made.isalnum()
    first.kind("cloud").put("Lab/Lab", "Lab", {"name": "Lab"})
    first.empty_all()  # Destroy keeps the store (and its generations): the same id
    first.close()
    again = Store(db_url).open()
    try:
        assert again.identity == made
    finally:
        again.close()
    reader = Store(db_url)  # not opened: SQLite is read without SQLAlchemy
    reader.read(Query("cloud"))
    assert reader.identity == made


def test_an_older_store_gets_its_id_at_its_next_open_for_writing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/mc.db"
    Store(url).open().close()
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:  # as a MiniCloud before ids left it
        conn.execute(sqlalchemy.text(f"DELETE FROM {META_TABLE} WHERE name = 'store_id'"))
    engine.dispose()
    readonly = Store(url)
    readonly.upgrade = False  # drift: changes nothing, not even this
    readonly.open().close()
    assert readonly.identity is None
    store = Store(url).open()
    assert store.identity and store.identity.isalnum()
    store.close()


def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/deep/er/minicloud.db").open()
    store.close()
    assert (tmp_path / "deep/er/minicloud.db").is_file()


def test_unopenable_sqlite_file_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError) as err:
        Store(f"sqlite:///{blocker}/minicloud.db").open()
    assert "store" in str(err.value)


# -- URLs never show the password --------------------------------------------------------------

SECRET = "s3cr3t-P@ss"
URL = "mysql+pymysql://mini:s3cr3t-P%40ss@db.example.org:3307/minicloud?charset=utf8mb4"


def test_urls_are_masked_by_the_one_redaction() -> None:
    masked = redact(URL)
    assert "s3cr3t" not in masked
    assert masked == "mysql+pymysql://mini:***@db.example.org:3307/minicloud?charset=utf8mb4"
    plain = "mysql+pymysql://mini@db/minicloud"
    assert redact(plain) == plain
    assert redact("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_describe_url() -> None:
    assert describe_url(URL) == "db.example.org:3307/minicloud"
    assert "s3cr3t" not in describe_url(URL)
    assert describe_url("mysql+pymysql://u:pw@dbhost/mc") == "dbhost:3306/mc"
    assert describe_url("sqlite:////tmp/x/minicloud.db") == "/tmp/x/minicloud.db"


def test_with_password() -> None:
    url = StoreURL.of("mysql+pymysql://mini@db:3307/mc?charset=utf8mb4").with_password(SECRET)
    assert url.rendered() == "mysql+pymysql://mini:s3cr3t-P%40ss@db:3307/mc?charset=utf8mb4"
    assert url.sa().password == SECRET
    assert SECRET not in repr(url) and SECRET not in str(url)
    # A URL's own password wins.
    assert StoreURL.of(URL).with_password("other").sa() == sqlalchemy.engine.make_url(URL)
    sqlite = StoreURL.of("sqlite:////tmp/x.db")
    assert sqlite.with_password(SECRET) == sqlite
    plain = StoreURL.of("mysql+pymysql://mini@db/mc")
    assert plain.with_password(None).rendered() == "mysql+pymysql://mini@db/mc"


def test_unreachable_server_message_has_no_password() -> None:
    url = "mysql+pymysql://mini:hunter2secret@127.0.0.1:1/mc?charset=utf8mb4&connect_timeout=2"
    with pytest.raises(StoreError) as err:
        Store(url).open()
    text = str(err.value)
    assert "hunter2secret" not in text
    assert "127.0.0.1:1/mc" in text
    assert "unreachable" in text


@pytest.mark.parametrize("url", [
    "mysql+pymysql//mini:topsecret@db/mc",  # a typo: no "://"
    "mysql+pymysql://mini:topsecret@db:notaport/mc",  # a port that is not a number
    "mysq+pymysql://mini:topsecret@db/mc",  # an unknown dialect
])
def test_malformed_urls_are_store_errors_without_the_password(url: str) -> None:
    with pytest.raises(StoreError) as err:
        Store(url).open()
    assert "topsecret" not in str(err.value)


def test_describe_url_of_an_unparsable_url_has_no_password() -> None:
    assert "topsecret" not in describe_url("mysql+pymysql//mini:topsecret@db/mc")


def test_explain_masks_urls_in_driver_messages() -> None:
    store = Store(URL)
    text = store.explain(RuntimeError(f"cannot use {URL}"))
    assert "s3cr3t" not in text
    assert text.startswith("store db.example.org:3307/minicloud:")


# -- migration from the schema without row versions --------------------------------------------

def _old_schema(url: str) -> None:
    """What a store written before row versions looks like: key, cloud, data; no version.
    (The tables of the store the fixture made are dropped first: those are current.)"""
    engine = sqlalchemy.create_engine(url)
    current = sqlalchemy.MetaData()
    current.reflect(bind=engine)
    current.drop_all(bind=engine)
    meta = sqlalchemy.MetaData()
    clouds = sqlalchemy.Table(
        "clouds", meta,
        sqlalchemy.Column("key", sqlalchemy.String(255), primary_key=True),
        sqlalchemy.Column("cloud", sqlalchemy.String(64), index=True),
        sqlalchemy.Column("data", sqlalchemy.Text),
    )
    clusters = sqlalchemy.Table(
        "clusters", meta,
        sqlalchemy.Column("key", sqlalchemy.String(255), primary_key=True),
        sqlalchemy.Column("cloud", sqlalchemy.String(64), index=True),
        sqlalchemy.Column("data", sqlalchemy.Text),
    )
    meta.create_all(engine)
    cloud = {"name": "Old", "type": "stub", "location": "attic", "settings": {},
             "reachable": True}
    with engine.begin() as conn:
        conn.execute(clouds.insert().values(key="Old/Old", cloud="Old", data=json.dumps(cloud)))
        for name in ("A", "B"):
            conn.execute(clusters.insert().values(
                key=f"Old/{name}", cloud="Old", data=json.dumps({"cloud": "Old", "name": name})))
    engine.dispose()


def test_old_schema_is_migrated_without_loss(db_url: str) -> None:
    _old_schema(db_url)
    store = Store(db_url).open()
    try:
        engine = sqlalchemy.create_engine(db_url)
        columns = {c["name"] for c in sqlalchemy.inspect(engine).get_columns("clouds")}
        engine.dispose()
        assert "version" in columns
        rows = store.load("cloud")
        assert [data["location"] for data, _ in rows] == ["attic"]
        assert sorted(data["name"] for data, _ in store.load("cluster")) == ["A", "B"]
        # every other table exists too
        assert set(TABLES.values()) <= store.table_names()
    finally:
        store.close()


def test_migrated_records_can_be_updated(tmp_path: Path, db_url: str) -> None:
    """After the migration MiniCloud works on the old records as on its own."""
    from minicloud.app import MiniCloud

    _old_schema(db_url)
    app = MiniCloud(Config(home=tmp_path, db_url=db_url)).open()
    try:
        assert [c.name for c in app.clouds.all()] == ["Old"]
        assert [c.name for c in app.clusters.all("Old")] == ["A", "B"]
        app.clouds.update("Old", "cellar")
        app.clusters.remove("Old", "A")
        assert app.clouds.get("Old").location == "cellar"
    finally:
        app.close()
    again = MiniCloud(Config(home=tmp_path, db_url=db_url)).open()
    try:
        assert again.clouds.get("Old").location == "cellar"
        assert [c.name for c in again.clusters.all("Old")] == ["B"]
    finally:
        again.close()


def _as_schema_1(url: str) -> None:
    """What a MiniCloud of schema 1 left: no name column nor its indexes, JSON with spaces."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in TABLES.values():
                for column in ("cloud", "name"):
                    conn.execute(sqlalchemy.text(f"DROP INDEX ix_{table}_{column}"
                                                 + ("" if url.startswith("sqlite")
                                                    else f" ON {table}")))
                rows = conn.execute(sqlalchemy.text(f"SELECT `key`, data FROM {table}"))
                for key, data in rows.fetchall():
                    conn.execute(sqlalchemy.text(f"UPDATE {table} SET data = :d WHERE `key` = :k"),
                                 {"d": json.dumps(json.loads(data), sort_keys=True), "k": key})
                conn.execute(sqlalchemy.text(f"ALTER TABLE {table} DROP COLUMN name"))
            conn.execute(sqlalchemy.text(f"UPDATE {META_TABLE} SET value = '1' "
                                         "WHERE name = 'schema'"))
    finally:
        engine.dispose()


def test_a_store_of_schema_1_is_migrated_at_its_next_open(tmp_path: Path, db_url: str) -> None:
    from minicloud.app import MiniCloud

    app = MiniCloud(Config(home=tmp_path, db_url=db_url)).open()
    app.clouds.add("Lab", "stub")
    app.networks.create("Lab", "n1", "10.1.0.0/24")
    app.close()
    _as_schema_1(db_url)
    again = MiniCloud(Config(home=tmp_path, db_url=db_url))  # rows read by name and key
    assert again.networks.find("network", "n1", "Lab").cidrs == ["10.1.0.0/24"]
    again.instances.create("Lab", "vm", "cirros", "m1.tiny", "n1", fixed_ip="10.1.0.9")
    again.close()
    engine = sqlalchemy.create_engine(db_url)
    try:
        inspector = sqlalchemy.inspect(engine)
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text("SELECT name, data FROM networks")).fetchall()
            schema = conn.execute(sqlalchemy.text(
                f"SELECT value FROM {META_TABLE} WHERE name = 'schema'")).scalar()
        assert schema == str(SCHEMA_VERSION)
        assert {name for name, _ in rows} == {"public", "n1"}
        assert all(", " not in data and ": " not in data for _, data in rows)  # compact
        for table in TABLES.values():
            indexed = {tuple(i["column_names"]) for i in inspector.get_indexes(table)}
            assert {("cloud",), ("name",)} <= indexed, table
    finally:
        engine.dispose()
