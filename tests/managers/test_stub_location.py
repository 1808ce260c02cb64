"""A Stub cloud is a cloud at a location (DESIGN.md section 4c): its state lives in a database
its ``state`` setting names (by default a file beside an SQLite store, the store's database on
MySQL), survives a restart, is shared by everyone on that cloud, stays when MiniCloud forgets
the cloud, and a store of an older MiniCloud (its Stub clouds in ``stub_*`` tables of the
store) keeps its deployment."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.drivers.stub import legacy
from minicloud.drivers.stub import location as stub_location
from minicloud.drivers.stub.location import Location
from minicloud.model.kinds import TABLES
from minicloud.model.objects import Cloud
from minicloud.render.topology import render_text
from tests.backends import needs_mysql, seed_demo_sqlite
from tests.consistency import open_app
from tests.reference import AFTER_RESET_TREE, REFERENCE_TREE

LEGACY_DUMP = Path(__file__).resolve().parents[1] / "data" / "legacy-demo-store.sql"


def tree(app: MiniCloud) -> str:
    return render_text(app.inventory.cache.deployment())


def names(app: MiniCloud, cloud: str, kind: str = "networks") -> list[str]:
    """What the cloud holds, read through a driver of its own (not the app's cache)."""
    driver = app.make_driver_for(app.clouds.get(cloud))
    try:
        return sorted(o.name for o in getattr(driver.snapshot(), kind))
    finally:
        driver.close()


def tables_of(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


# -- where it lives ----------------------------------------------------------------------------

def test_by_default_beside_the_store_and_never_in_it(app: MiniCloud, db_url: str,
                                                     tmp_path: Path, reopen: Any) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("an SQLite store's default location is a file beside it")
    app.clouds.add("Lab", "stub")
    app.networks.create("Lab", "n1", "10.1.0.0/24")
    beside = tmp_path / "minicloud-stub.db"
    assert set(stub_location.TABLES.values()) <= tables_of(beside)
    assert not {t for t in tables_of(tmp_path / "minicloud.db") if t.startswith("stub_")}
    # The store keeps the setting as given (empty), not where the folder is today.
    assert reopen(app).clouds.get("Lab").settings.get("state", "") == ""
    assert names(reopen(app), "Lab") == ["n1", "public"]


def test_where_the_setting_says(app: MiniCloud, db_url: str, tmp_path: Path,
                                reopen: Any) -> None:
    elsewhere = tmp_path / "elsewhere" / "far.db"
    assert run_command(app, ["clouds", "add", "Far", "--type", "stub", "--state",
                             str(elsewhere)]) == 0
    assert run_command(app, ["clouds", "add", "Near", "--type", "stub", "--state",
                             "near.db"]) == 0
    app.networks.create("Far", "n1", "10.1.0.0/24")
    again = reopen(app)
    assert again.clouds.get("Near").settings["state"] == "near.db"  # relative, as given
    assert names(again, "Far") == ["n1", "public"] and names(again, "Near") == ["public"]
    assert set(stub_location.TABLES.values()) <= tables_of(elsewhere)
    # Relative: from the store's folder (from the data folder on MySQL).
    folder = tmp_path if db_url.startswith("sqlite") else app.config.home
    assert set(stub_location.TABLES.values()) <= tables_of(folder / "near.db")
    location = Location(f"sqlite:///{elsewhere}")
    try:
        with location.transaction("Far") as tx:
            assert sorted(d["name"] for d, _ in tx.rows("network")) == ["n1", "public"]
    finally:
        location.close()


def test_a_location_setting_with_a_password_is_refused(app: MiniCloud,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    assert run_command(app, ["clouds", "add", "Far", "--type", "stub", "--state",
                             "mysql+pymysql://u:hunter2@db/stubs"]) == 2
    err = capsys.readouterr().err
    assert "no password" in err and "hunter2" not in err
    assert app.clouds.all() == []


def test_a_location_that_cannot_be_opened_records_nothing(app: MiniCloud, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    (tmp_path / "afile").write_text("a file, not a folder")
    bad = str(tmp_path / "afile" / "far.db")
    assert run_command(app, ["clouds", "add", "Far", "--type", "stub", "--state", bad]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"minicloud: cloud Far: open its location failed: Stub location {bad}: "
                   f"cannot make its folder {tmp_path / 'afile'}: File exists"]
    assert app.clouds.all() == [] and app.inventory.cache.all("intent") == []
    app.clouds.add("Far", "stub")  # nothing was left pending: the name is free
    assert [c.name for c in app.clouds.all()] == ["Far"]


def test_a_cloud_whose_location_is_gone_is_forgotten_all_the_same(
        app: MiniCloud, tmp_path: Path, reopen: Any) -> None:
    app.clouds.add("Far", "stub", settings={"state": "far.db"})
    folder = tmp_path if app.config.db_url.is_sqlite else app.config.home
    (folder / "far.db").unlink()
    (folder / "far.db").mkdir()  # cannot be opened any more
    again = reopen(app)
    assert again.clouds.remove("Far") == "cloud Far forgotten; its resources stay in the cloud"
    assert reopen(again).clouds.all() == []


# -- a cloud, shared and lasting -----------------------------------------------------------------

def test_it_survives_a_restart_and_two_apps_share_it(app: MiniCloud, reopen: Any) -> None:
    app.clouds.add("Lab", "stub")
    other = reopen(app)  # another operator on the same store
    theirs = other.driver("Lab")  # that session's own driver, with a connection of its own
    app.networks.create("Lab", "mine", "10.1.0.0/24")
    assert "mine" in {n.name for n in theirs.list_networks()}  # seen at its next call
    other.networks.create("Lab", "yours", "10.2.0.0/24")
    assert "yours" in {n.name for n in app.driver("Lab").list_networks()}
    app.close()
    assert names(reopen(other), "Lab") == ["mine", "public", "yours"]  # after a restart


def test_a_copied_home_uses_its_own_copy(tmp_path: Path) -> None:
    original = tmp_path / "original"
    original.mkdir()
    seed_demo_sqlite(original / "minicloud.db")
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    moved = open_app(copy, f"sqlite:///{copy}/minicloud.db")
    try:
        moved.instances.remove(moved.instances.find("instance", "Ben", "TryStack"))
        assert "Ben" not in names(moved, "TryStack", "instances")
    finally:
        moved.close()
    first = open_app(original, f"sqlite:///{original}/minicloud.db")
    try:
        assert first.sync.refresh() == []
        assert names(first, "TryStack", "instances") == ["Ben", "Bourla", "Tower"]
        assert tree(first) == REFERENCE_TREE
    finally:
        first.close()


def test_a_cloud_found_without_its_start_is_completed(app: MiniCloud) -> None:
    """Issue 23, failure 2: a Stub cloud left with some rows but without its external network
    and default group (a remove that raced a create) was added again as it was, and
    ``instances create`` then failed: no security group named 'default'."""
    ghost = app.make_driver_for(Cloud("Edge", "stub"))
    ghost.seed_network("en2", "10.5.0.0/24")
    ghost.close()
    app.clouds.add("Edge", "stub")
    assert [(n.name, n.external) for n in app.networks.all("Edge")] == [("en2", False),
                                                                        ("public", True)]
    vm = app.instances.create("Edge", "vm", "cirros", "m1.tiny", "en2")
    assert vm.security_groups == ["default"]


def test_destroy_then_add_again_gives_a_whole_cloud(cloud_app: MiniCloud, reopen: Any) -> None:
    """Destroy is Reset then forget: what stays in the Stub cloud is what it had before
    MiniCloud, its external network and default group, and adding it again finds them."""
    cloud_app.routers.create("Lab", "r1", gateway="public")
    cloud_app.networks.create("Lab", "n1", "10.1.0.0/24", router="r1")
    vm = cloud_app.instances.create("Lab", "vm", "cirros", "m1.tiny", "n1",
                                    security_group="public_ssh")
    cloud_app.access.assign_public_ip(vm)
    assert cloud_app.resetter.destroy().failures == []
    again = reopen(cloud_app)
    assert again.clouds.all() == []
    again.clouds.add("Lab", "stub")
    assert [(n.name, n.external, n.owned) for n in again.networks.all("Lab")] == [
        ("public", True, False)]
    assert [g.name for g in again.inventory.cache.all("security_group", "Lab")] == ["default"]
    assert again.routers.all() == [] and again.instances.all() == []
    again.networks.create("Lab", "n1", "10.1.0.0/24")
    assert again.instances.create("Lab", "vm", "cirros", "m1.tiny", "n1").security_groups == [
        "default"]


# -- a store of an older MiniCloud ---------------------------------------------------------------

def legacy_store(folder: Path) -> Path:
    """The README's demo as MiniCloud stored it before its Stub clouds had a location of
    their own (tests/data/legacy-demo-store.sql: sqlite3's dump of a store built by
    ``minicloud --demo`` at commit 886298c, its Stub cloud in ``stub_*`` tables)."""
    path = folder / "minicloud.db"
    conn = sqlite3.connect(path)
    try:
        conn.executescript(LEGACY_DUMP.read_text())
    finally:
        conn.close()
    return path


def stub_rows(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return sum(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                   for table in stub_location.TABLES.values())
    finally:
        conn.close()


def test_an_old_store_keeps_its_demo_after_upgrading(tmp_path: Path, notices: list[str]
                                                     ) -> None:
    store = legacy_store(tmp_path)
    assert stub_rows(store) == 10  # 3 networks, a router, 3 servers, a public IP, 2 groups
    app = open_app(tmp_path, f"sqlite:///{store}", notices.append)
    try:
        assert tree(app) == REFERENCE_TREE
        assert app.sync.refresh() == []  # the first use moves the cloud to its location
        assert tree(app) == REFERENCE_TREE
        assert not any("changes made outside" in n or "dropped" in n for n in notices)
        assert stub_rows(store) == 0 and stub_rows(tmp_path / "minicloud-stub.db") == 10
        app.instances.stop(app.instances.find("instance", "Ben", "TryStack"))
        assert app.resetter.reset().failures == []
        assert tree(app) == AFTER_RESET_TREE
    finally:
        app.close()
    again = open_app(tmp_path, f"sqlite:///{store}")
    try:
        assert again.sync.refresh() == [] and tree(again) == AFTER_RESET_TREE
    finally:
        again.close()


def test_a_move_cut_short_is_finished_and_never_copies_twice(tmp_path: Path) -> None:
    store = legacy_store(tmp_path)
    url = f"sqlite:///{tmp_path}/minicloud-stub.db"
    Location(url).open().close()  # the location's schema made

    class Killed(BaseException):
        pass

    def kill() -> None:
        raise Killed  # right after the copy's commit, before the store's rows are deleted

    stub_location.after_step.append(kill)
    try:
        with pytest.raises(Killed):
            legacy.take_over(Location(url), f"sqlite:///{store}")
    finally:
        stub_location.after_step.remove(kill)
    assert stub_rows(store) == 10 and stub_rows(tmp_path / "minicloud-stub.db") == 10
    # Meanwhile the cloud changes at its location: the store's old copy must not come back.
    location = Location(url)
    try:
        with location.transaction("TryStack") as tx:
            (data, version), = [r for r in tx.rows("network") if r[0]["name"] == "AntwerpNet"]
            tx.delete("network", data["id"], version)
    finally:
        location.close()
    app = open_app(tmp_path, f"sqlite:///{store}")
    try:
        assert app.sync.refresh() == []  # the move finished: the store's rows deleted
        assert "AntwerpNet" not in names(app, "TryStack")
    finally:
        app.close()
    assert stub_rows(store) == 0 and stub_rows(tmp_path / "minicloud-stub.db") == 9


@pytest.mark.parametrize("db_url", [pytest.param("mysql", marks=needs_mysql)], indirect=True)
def test_an_old_mysql_store_reads_its_tables_where_they_are(demo_app: MiniCloud,
                                                            db_url: str) -> None:
    """On MySQL the Stub's tables were in the store's database, which is its default
    location now: a store without the location's own meta table works as it is."""
    import sqlalchemy

    demo_app.close()
    engine = sqlalchemy.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f"DROP TABLE {stub_location.META}"))
    finally:
        engine.dispose()
    app = open_app(demo_app.config.home, db_url)
    try:
        assert app.sync.refresh() == [] and tree(app) == REFERENCE_TREE
        assert names(app, "TryStack", "instances") == ["Ben", "Bourla", "Tower"]
    finally:
        app.close()
    assert set(TABLES.values()).isdisjoint(stub_location.TABLES.values())


class _Lost(Exception):
    """A MySQL client's answer when the server went away under it (CR_SERVER_LOST)."""


def test_a_node_lost_after_opening_is_looked_for_again(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Through a proxy (one URL), a node killed just before a call is refused at the call's
    first statement until the proxy notices: the call is tried again after a pause, as the
    store's transactions are; a location never opened where nothing listens says so at
    once."""
    import sqlalchemy as sa

    location = Location(f"sqlite:///{tmp_path}/stub.db").open()
    real, failures, pauses = Location._begin, [2], []

    def lost_then_back(self: Location, cloud: str) -> Any:
        if failures[0]:
            failures[0] -= 1
            raise sa.exc.OperationalError("BEGIN", {}, _Lost(2013, "Lost connection"))
        return real(self, cloud)

    monkeypatch.setattr(Location, "_begin", lost_then_back)
    monkeypatch.setattr(stub_location.time, "sleep", pauses.append)
    with location.transaction("Lab"):
        pass
    assert failures == [0] and pauses == list(stub_location.NODE_PAUSES[:2])
    location.close()

    def lost(self: Location) -> Any:  # nothing listens there (CR_CONN_HOST_ERROR)
        raise sa.exc.OperationalError("SELECT", {}, _Lost(2003, "Can't connect"))

    monkeypatch.setattr(Location, "_schema_version", lost)
    pauses.clear()
    with pytest.raises(stub_location.LocationError, match="server unreachable"):
        Location(f"sqlite:///{tmp_path}/other.db").open()
    assert pauses == []
