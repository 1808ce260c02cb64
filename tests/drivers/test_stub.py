"""What only the Stub driver does: its location, address choice, seeds, its own statuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from minicloud.drivers import create_driver
from minicloud.drivers.base import ServerSpec
from minicloud.drivers.stub import driver as stub
from minicloud.drivers.stub import location as stub_location
from minicloud.drivers.stub.driver import StubDriver
from minicloud.drivers.stub.location import Location, LocationError
from minicloud.model.errors import CONFLICT, NOT_FOUND, ConfigError, DriverError
from minicloud.model.objects import Cloud, State
from tests.backends import MYSQL_URL, needs_mysql, seed_mysql
from tests.faults import Faults


@pytest.fixture
def where(db_url: str, tmp_path: Path) -> str:
    """A Stub location: a file of its own beside an SQLite store, the store's database on
    MySQL (as the driver pool resolves an empty ``state`` setting)."""
    return f"sqlite:///{tmp_path}/stub.db" if db_url.startswith("sqlite") else db_url


def on(where: str, name: str = "S", **settings: str) -> StubDriver:
    """A driver on the Stub cloud ``name`` (its state as it is: nothing is set up)."""
    driver = create_driver(Cloud(name, "stub", settings={"state": where, **settings}), None)
    assert isinstance(driver, StubDriver)
    return driver


def make(where: str, name: str = "S", **settings: str) -> StubDriver:
    driver = on(where, name, **settings)
    driver.setup()
    return driver


def spec(network_id: str, name: str = "vm", **kw) -> ServerSpec:
    return ServerSpec(name, "image-cirros", "flavor-m1.tiny", network_id, **kw)


def test_setup_defaults_and_settings(where: str) -> None:
    (net,) = make(where).list_networks()
    assert (net.name, net.cidrs, net.external, net.owned) == ("public", ["203.0.113.0/24"],
                                                            True, False)
    other = make(where, "T", external_network="ext", external_cidr="8.21.28.0/24",
                 external_subnet="trystack")
    (net,) = other.list_networks()
    assert (net.name, net.cidrs, net.subnets[0].name) == ("ext", ["8.21.28.0/24"], "trystack")
    assert [(g.name, g.owned, g.rules) for g in other.list_security_groups()] == [
        ("default", False, [])]


def test_setup_twice_changes_nothing(where: str) -> None:
    driver = make(where)
    before = driver.snapshot()
    driver.setup()
    assert make(where).snapshot() == before


def test_state_survives_a_new_driver(where: str) -> None:
    driver = make(where)
    net = driver.create_network("n", "10.0.0.0/24")
    server = driver.create_server(spec(net.id))
    driver.close()  # its connection goes; the cloud stays
    again = on(where)
    assert {n.name for n in again.list_networks()} == {"public", "n"}
    assert again.get_server(server.id).status == "ACTIVE"
    again.close()
    assert {s.id for s in on(where).list_servers()} == {server.id}


def test_two_drivers_share_the_cloud_at_their_next_call(where: str) -> None:
    first, second = make(where), on(where)
    net = first.create_network("n", "10.0.0.0/24")
    assert "n" in {n.name for n in second.list_networks()}
    second.delete_network(net.id)
    assert "n" not in {n.name for n in first.list_networks()}


def test_clouds_on_one_store_are_separate(where: str) -> None:
    a, b = make(where, "A"), make(where, "B")
    a.create_network("only-a", "10.0.0.0/24")
    assert "only-a" not in {n.name for n in b.list_networks()}


def test_build_becomes_active(where: str) -> None:
    driver = make(where)
    net = driver.create_network("n", "10.0.0.0/24")
    server = driver.create_server(spec(net.id))
    assert server.status == "BUILD"
    assert driver.list_servers()[0].status == "ACTIVE"
    assert driver.wait_server(server.id, "ACTIVE", 5).status == "ACTIVE"


def test_lowest_free_ip_after_the_gateway(where: str) -> None:
    driver = make(where)
    net = driver.create_network("n", "10.0.0.0/24")
    assert net.subnets[0].gateway_ip == "10.0.0.1"
    first = driver.create_server(spec(net.id, "a"))
    assert first.private_ip == "10.0.0.2"
    asked = driver.create_server(spec(net.id, "b", fixed_ip="10.0.0.9"))
    assert asked.private_ip == "10.0.0.9"
    assert driver.create_server(spec(net.id, "c")).private_ip == "10.0.0.3"
    driver.delete_server(first.id)
    assert driver.create_server(spec(net.id, "e")).private_ip == "10.0.0.2"


@pytest.mark.parametrize(("address", "reason", "words"), [
    ("10.0.0.9", "conflict", "in use by instance b"),
    ("10.0.0.1", "conflict", "in use by the subnet's gateway"),
    ("10.0.0.0", "refused as invalid", "not a host address of 10.0.0.0/24"),
    ("10.0.0.255", "refused as invalid", "not a host address"),
    ("10.9.9.9", "refused as invalid", "not a host address"),
    ("not-an-ip", "refused as invalid", "not an IP address"),
])
def test_a_requested_private_ip_is_refused_as_neutron_refuses_it(
        where: str, address: str, reason: str, words: str) -> None:
    driver = make(where)
    net = driver.create_network("n", "10.0.0.0/24")
    driver.create_server(spec(net.id, "b", fixed_ip="10.0.0.9"))
    with pytest.raises(DriverError) as err:
        driver.create_server(spec(net.id, "c", fixed_ip=address))
    assert err.value.reason == reason and words in str(err.value)
    assert sorted(s.name for s in driver.list_servers()) == ["b"]


def test_public_ip_addresses(where: str) -> None:
    driver = make(where)
    ext = driver.list_networks()[0]
    assert driver.allocate_public_ip(ext.id).name == "203.0.113.2"
    assert driver.allocate_public_ip(ext.id, "203.0.113.30").name == "203.0.113.30"
    with pytest.raises(DriverError, match="in use by public IP 203.0.113.30"):
        driver.allocate_public_ip(ext.id, "203.0.113.30")
    with pytest.raises(DriverError, match="not a host address"):
        driver.allocate_public_ip(ext.id, "9.9.9.9")
    assert driver.allocate_public_ip(ext.id).name == "203.0.113.3"
    net = driver.create_network("n", "10.0.0.0/24")
    with pytest.raises(DriverError):
        driver.allocate_public_ip(net.id)  # not external


def test_seeds_are_not_owned(where: str) -> None:
    driver = make(where)
    ext = driver.list_networks()[0]
    net = driver.seed_network("legacy", "10.9.0.0/24")
    router = driver.seed_router("corp", ext.id)
    server = driver.seed_server(spec(net.id, "theirs"))
    fip = driver.seed_public_ip(ext.id, "203.0.113.200")
    snap = driver.snapshot()
    for obj in (net, router, server, fip):
        assert not obj.owned
    assert not any(o.owned for o in snap.resources() if o.kind not in ("image", "flavor"))
    assert router.gateway_network_id == ext.id and fip.name == "203.0.113.200"


def test_forget_leaves_the_cloud_as_it_is(where: str) -> None:
    driver = make(where)
    driver.create_network("n", "10.0.0.0/24")
    before = driver.snapshot()
    driver.forget()
    fresh = on(where)
    assert fresh.snapshot() == before
    fresh.setup()  # added again: it finds what it has
    assert fresh.snapshot() == before


def test_setup_completes_a_cloud_that_lacks_its_start(where: str) -> None:
    """A cloud found at its location without its external network or default group (left
    half-made by an older MiniCloud) gets what it lacks, and keeps the rest."""
    driver = make(where)
    net = driver.create_network("n", "10.0.0.0/24")
    public = next(n for n in driver.list_networks() if n.external)
    driver.delete_network(public.id)
    driver.delete_security_group(driver.list_security_groups()[0].id)
    driver.setup()
    assert sorted((n.name, n.external) for n in driver.list_networks()) == [
        ("n", False), ("public", True)]
    assert [g.name for g in driver.list_security_groups()] == ["default"]
    assert net.id in {n.id for n in driver.list_networks()}


def test_a_stale_change_is_a_conflict_and_a_gone_row_not_found(where: str) -> None:
    """Each change is written against the version it read: a row changed meanwhile is a
    conflict (409), a row removed meanwhile is gone (404); nothing is overwritten."""
    driver = make(where)
    net = driver.create_network("n", "10.0.0.0/24")
    location = Location(where)
    try:
        with location.transaction("S") as tx:
            data, version = tx.get("network", net.id) or ({}, 0)
            tx.update("network", net.id, dict(data, name="renamed"), version)
            with pytest.raises(LocationError) as stale:
                tx.update("network", net.id, dict(data, name="stale"), version)
            assert stale.value.reason == CONFLICT
            with pytest.raises(LocationError) as twice:
                tx.insert("network", net.id, data)
            assert twice.value.reason == CONFLICT
            tx.delete("network", net.id, version + 1)
            with pytest.raises(LocationError) as gone:
                tx.delete("network", net.id, version + 1)
            assert gone.value.reason == NOT_FOUND
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    finally:
        location.close()
    assert [n.name for n in driver.list_networks() if n.id == net.id] == ["n"]  # rolled back


def test_conflicts(where: str) -> None:
    driver = make(where)
    ext = driver.list_networks()[0]
    net = driver.create_network("n", "10.0.0.0/24")
    router = driver.create_router("r", ext.id)
    driver.add_router_interface(router.id, net.id)
    with pytest.raises(DriverError, match="already attached"):
        driver.add_router_interface(router.id, net.id)
    with pytest.raises(DriverError, match="in use"):
        driver.delete_network(net.id)
    with pytest.raises(DriverError, match="interfaces"):
        driver.delete_router(router.id)
    with pytest.raises(DriverError, match="not an external"):
        driver.set_router_gateway(router.id, net.id)
    with pytest.raises(DriverError, match="gateway, not an interface"):
        driver.add_router_interface(router.id, ext.id)
    with pytest.raises(DriverError, match="name in use"):
        driver.create_security_group("default")
    with pytest.raises(DriverError, match="security group"):
        driver.create_server(spec(net.id, security_groups=["nope"]))
    with pytest.raises(DriverError, match="image or flavor"):
        driver.create_server(ServerSpec("x", "image-windows", "flavor-m1.tiny", net.id))
    isolated = driver.create_network("iso", "10.1.0.0/24")
    server = driver.create_server(spec(isolated.id))
    fip = driver.allocate_public_ip(ext.id)
    with pytest.raises(DriverError, match="no route"):
        driver.associate_public_ip(fip.id, server.id)


def _raw(where: str, server_id: str) -> dict:
    location = Location(where)
    try:
        with location.transaction("S") as tx:
            found = tx.get("instance", server_id)
    finally:
        location.close()
    assert found is not None
    return found[0]


def _raw_status(where: str, server_id: str) -> str:
    return _raw(where, server_id)["status"]


def _rewrite(where: str, server_id: str, **changes: str) -> None:
    """A server's row changed behind the driver's back (as an older MiniCloud wrote it)."""
    location = Location(where)
    try:
        with location.transaction("S") as tx:
            data, version = tx.get("instance", server_id) or ({}, 0)
            tx.update("instance", server_id, dict(data, **changes), version)
    finally:
        location.close()


def test_its_own_statuses_are_stored_and_mapped(where: str) -> None:
    driver = make(where)
    assert set(StubDriver.status_map.values()) <= {State.BUILD, State.ACTIVE, State.SHUTOFF}
    assert all(word.islower() for word in StubDriver.status_map)  # visibly its own words
    net = driver.create_network("n", "10.0.0.0/24")
    server = driver.create_server(spec(net.id))
    assert (server.status, _raw_status(where, server.id)) == (State.BUILD, "building")
    assert driver.get_server(server.id).status == State.ACTIVE
    assert _raw_status(where, server.id) == "running"
    assert driver.stop_server(server.id).status == State.SHUTOFF
    assert _raw_status(where, server.id) == "stopped"
    assert driver.list_servers()[0].status == State.SHUTOFF
    assert driver.snapshot().instances[0].status == State.SHUTOFF
    assert driver.start_server(server.id).status == State.ACTIVE
    assert driver.reboot_server(server.id).status == State.ACTIVE
    assert stub.as_seen("instance", _raw(where, server.id)).status == State.ACTIVE


def test_rows_from_before_its_own_statuses_still_read(where: str) -> None:
    driver = make(where)
    net = driver.create_network("n", "10.0.0.0/24")
    building = driver.create_server(spec(net.id, "a"))
    stopped = driver.create_server(spec(net.id, "b"))
    for server, legacy in ((building, "BUILD"), (stopped, "SHUTOFF")):
        _rewrite(where, server.id, status=legacy)
    again = on(where)
    assert {s.name: s.status for s in again.list_servers()} == {"a": State.ACTIVE,
                                                                "b": State.SHUTOFF}
    assert again.get_server(building.id).status == State.ACTIVE
    assert _raw_status(where, building.id) == "running"
    assert stub.as_seen("instance", _raw(where, stopped.id)).status == State.SHUTOFF


def test_an_unknown_status_passes_through_upper_cased(where: str) -> None:
    driver = make(where)
    net = driver.create_network("n", "10.0.0.0/24")
    server = driver.create_server(spec(net.id))
    _rewrite(where, server.id, status="paused")
    assert on(where).get_server(server.id).status == "PAUSED"


def test_declarations() -> None:
    assert not StubDriver.features.hosts and not StubDriver.features.zones
    assert StubDriver.features.keypairs and StubDriver.features.routers
    assert [(s.name, s.flag) for s in StubDriver.settings] == [
        ("external_network", "--external-network"), ("external_cidr", "--external-cidr"),
        ("external_subnet", "--external-subnet"), ("state", "--state")]
    state = StubDriver.settings[-1]
    assert state.location and state.optional and not state.default


def test_its_tables_are_made_at_the_first_use_of_a_location(tmp_path: Path) -> None:
    import sqlite3

    target = tmp_path / "deep" / "folder" / "stub.db"
    assert not target.exists()
    make(f"sqlite:///{target}").create_network("n", "10.0.0.0/24")
    tables = {row[0] for row in sqlite3.connect(target).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(stub_location.TABLES.values()) | {stub_location.META} <= tables


def test_a_driver_needs_its_location_resolved() -> None:
    with pytest.raises(ConfigError, match="no database URL"):
        create_driver(Cloud("S", "stub", settings={"state": "stub.db"}), None)
    with pytest.raises(ConfigError, match="none"):
        create_driver(Cloud("S", "stub"), None)


def test_a_location_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    driver = on(f"sqlite:///{tmp_path}/file/stub.db")
    with pytest.raises(DriverError) as err:
        driver.setup()
    text = str(err.value)
    assert text.startswith("cloud S: setup ") and "\n" not in text
    assert "Stub location" in text


@pytest.mark.parametrize(("value", "words"), [
    ("postgresql://u@h/db", "not postgresql://"),
    ("mysql+pymysql://u:pw@h/db", "no password"),
    ("sqlite://x.db", "three slashes"),
    ("mysql+pymysql://u@h/", "names its database"),
    ("a\nb", "printable"),
])
def test_a_bad_location_setting_is_refused(value: str, words: str) -> None:
    from minicloud.model.errors import ValidationError

    with pytest.raises(ValidationError, match=words):
        stub_location.check_location(value)
    assert stub_location.check_location(" rel/stub.db ") == "rel/stub.db"
    assert stub_location.check_location("") == ""


def test_a_network_whose_interface_fails_is_not_kept(where: str) -> None:
    driver = Faults({"add_router_interface": None}).wrap(make(where))
    router = driver.create_router("r")
    with pytest.raises(DriverError, match="injected fault"):
        driver.create_network("born", "10.6.0.0/24", router.id)
    assert "born" not in {n.name for n in driver.list_networks()}
    assert driver.list_routers()[0].interface_network_ids == []


@pytest.mark.parametrize("backend", [pytest.param("mysql", marks=needs_mysql)])
def test_a_node_that_does_not_answer_is_skipped_for_the_next(backend: str) -> None:
    # A MySQL store may name a cluster's nodes (space-separated URLs); its default Stub
    # location is the store's database through the same URLs: a node that does not answer
    # (here a port where no server listens) is left for the next before a call runs.
    from sqlalchemy.engine import make_url

    seed_mysql(MYSQL_URL)
    dead = make_url(MYSQL_URL).set(host="127.0.0.1", port=1).render_as_string(
        hide_password=False)
    driver = make(f"{dead} {MYSQL_URL}", "Nodes")
    try:
        net = driver.create_network("n1", "10.1.0.0/24")
        assert net.name in {n.name for n in on(MYSQL_URL, "Nodes").list_networks()}
    finally:
        driver.close()
    alone = on(dead, "Nodes")
    with pytest.raises(DriverError) as err:
        alone.list_networks()
    assert "unreachable" in str(err.value) and "\n" not in str(err.value)


def test_a_call_that_lost_to_a_concurrent_change_runs_again(
        where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deadlock or failed certification at the location (MySQL 1213, Galera) is the cloud's
    own business: the call runs again whole, as Neutron's and Nova's API servers retry theirs,
    and the caller sees one answer (found by a two-process race on MariaDB)."""
    from minicloud.drivers.stub import state as stub_state

    driver = make(where)
    real = Location.transaction
    lost = {"left": 2}

    def losing(self: Location, cloud: str):  # type: ignore[no-untyped-def]
        if lost["left"]:
            lost["left"] -= 1
            raise LocationError("failed", "Stub location x: busy (deadlock)", busy=True)
        return real(self, cloud)

    monkeypatch.setattr(Location, "transaction", losing)
    net = driver.create_network("n", "10.9.0.0/24")
    assert lost["left"] == 0
    assert [n.name for n in driver.list_networks() if n.id == net.id] == ["n"]  # made once
    lost["left"] = stub_state.BUSY_ATTEMPTS  # still losing after every attempt: one error
    with pytest.raises(DriverError, match="busy"):
        driver.create_network("m", "10.8.0.0/24")
    assert lost["left"] == 0
