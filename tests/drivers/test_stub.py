"""What only the Stub driver does: persistence, fault injection, address choice, seeds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from minicloud.drivers import create_driver
from minicloud.drivers.base import ServerSpec
from minicloud.drivers.stub import driver as stub
from minicloud.drivers.stub.driver import StubDriver
from minicloud.model.errors import ConfigError, DriverError
from minicloud.model.objects import Cloud, State
from minicloud.state.store import Store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url).open()
    yield s
    s.close()


def on(store: Store, name: str = "S", **settings: str) -> StubDriver:
    """A driver on the Stub cloud ``name`` (its state as it is: nothing is set up)."""
    driver = create_driver(Cloud(name, "stub", settings=dict(settings)), None, store)
    assert isinstance(driver, StubDriver)
    return driver


def make(store: Store, name: str = "S", **settings: str) -> StubDriver:
    driver = on(store, name, **settings)
    driver.setup()
    return driver


def spec(network_id: str, name: str = "vm", **kw) -> ServerSpec:
    return ServerSpec(name, "image-cirros", "flavor-m1.tiny", network_id, **kw)


def test_setup_defaults_and_settings(store: Store) -> None:
    (net,) = make(store).list_networks()
    assert (net.name, net.cidrs, net.external, net.owned) == ("public", ["203.0.113.0/24"],
                                                            True, False)
    other = make(store, "T", external_network="ext", external_cidr="8.21.28.0/24",
                 external_subnet="trystack")
    (net,) = other.list_networks()
    assert (net.name, net.cidrs, net.subnets[0].name) == ("ext", ["8.21.28.0/24"], "trystack")
    assert [(g.name, g.owned, g.rules) for g in other.list_security_groups()] == [
        ("default", False, [])]


def test_setup_twice_changes_nothing(store: Store) -> None:
    driver = make(store)
    before = driver.snapshot()
    driver.setup()
    assert make(store).snapshot() == before


def test_state_survives_a_new_driver(store: Store, db_url: str) -> None:
    driver = make(store)
    net = driver.create_network("n", "10.0.0.0/24")
    server = driver.create_server(spec(net.id))
    again = on(store)
    assert {n.name for n in again.list_networks()} == {"public", "n"}
    assert again.get_server(server.id).status == "ACTIVE"
    reopened = Store(db_url).open()  # a restart
    try:
        third = on(reopened)
        assert {s.id for s in third.list_servers()} == {server.id}
    finally:
        reopened.close()


def test_clouds_on_one_store_are_separate(store: Store) -> None:
    a, b = make(store, "A"), make(store, "B")
    a.create_network("only-a", "10.0.0.0/24")
    assert "only-a" not in {n.name for n in b.list_networks()}


def test_build_becomes_active(store: Store) -> None:
    driver = make(store)
    net = driver.create_network("n", "10.0.0.0/24")
    server = driver.create_server(spec(net.id))
    assert server.status == "BUILD"
    assert driver.list_servers()[0].status == "ACTIVE"
    assert driver.wait_server(server.id, "ACTIVE", 5).status == "ACTIVE"


def test_fault_every_call(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    driver = make(store)
    monkeypatch.setenv("MINICLOUD_STUB_FAIL", "list_networks, create_router")
    for _ in range(2):
        with pytest.raises(DriverError) as err:
            driver.list_networks()
        assert "cloud S:" in str(err.value) and "injected fault" in str(err.value)
    with pytest.raises(DriverError):
        driver.create_router("r")
    assert driver.list_routers() == []  # the failed call changed nothing
    monkeypatch.delenv("MINICLOUD_STUB_FAIL")
    assert driver.list_networks()


def test_fault_nth_call(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    driver = make(store)
    stub.reset_fault_counters()
    monkeypatch.setenv("MINICLOUD_STUB_FAIL", "create_network:2")
    driver.create_network("a", "10.1.0.0/24")
    with pytest.raises(DriverError):
        driver.create_network("b", "10.2.0.0/24")
    driver.create_network("c", "10.3.0.0/24")
    assert sorted(n.name for n in driver.list_networks()) == ["a", "c", "public"]
    assert stub._calls["create_network"] == 3
    stub.reset_fault_counters()
    assert stub._calls["create_network"] == 0
    driver.create_network("d", "10.4.0.0/24")
    with pytest.raises(DriverError):
        driver.create_network("e", "10.5.0.0/24")  # counting started again


@pytest.mark.parametrize(("value", "words"), [
    ("create_netwrok", "no Stub call is named 'create_netwrok'"),
    ("create_network:0", "'create_network:0': N in call:N must be a whole number from 1"),
    ("create_network:two", "N in call:N must be a whole number from 1"),
    ("create_network:", "N in call:N must be a whole number from 1"),
])
def test_bad_fault_plan_is_refused_in_one_line(store: Store, monkeypatch: pytest.MonkeyPatch,
                                               value: str, words: str) -> None:
    driver = make(store)
    monkeypatch.setenv("MINICLOUD_STUB_FAIL", value)
    with pytest.raises(ConfigError) as err:
        driver.create_network("a", "10.1.0.0/24")
    assert words in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError):
        on(store)  # a new driver says it before its first call
    monkeypatch.delenv("MINICLOUD_STUB_FAIL")
    assert [n.name for n in driver.list_networks()] == ["public"]  # nothing was made


@pytest.mark.parametrize("call", ["setup", "forget", "list_images", "list_flavors",
                                  "availability_zones"])
def test_every_stub_call_can_be_faulted(store: Store, monkeypatch: pytest.MonkeyPatch,
                                        call: str) -> None:
    driver = on(store, "F")
    if call != "setup":
        driver.setup()
    monkeypatch.setenv("MINICLOUD_STUB_FAIL", call)
    with pytest.raises(DriverError, match="injected fault"):
        getattr(driver, call)()
    monkeypatch.delenv("MINICLOUD_STUB_FAIL")
    getattr(driver, call)()


def test_every_driver_call_of_the_stub_is_faultable() -> None:
    from minicloud.drivers.base import Driver
    from minicloud.drivers.stub.state import FAULTABLE

    calls = {name for name, value in vars(Driver).items()
             if callable(value) and not name.startswith("_")}
    # Not calls of the cloud's API: local helpers of the base class.
    local = {"setting", "secret_setting", "secret", "state", "error", "close", "snapshot",
             "poll", "wait_server"}
    assert calls - local - FAULTABLE == set()


def test_bad_fault_plan_in_a_one_shot_command_exits_2(store: Store, tmp_path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from minicloud.cli.main import main

    if not store.is_sqlite:
        pytest.skip("the command runs on its own SQLite home")
    for name in ("MINICLOUD_CONFIG", "MINICLOUD_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MINICLOUD_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINICLOUD_STUB_FAIL", "create_server:x")
    assert main(["clouds", "add", "--type", "stub", "Lab"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minicloud: MINICLOUD_STUB_FAIL: 'create_server:x': N in call:N")
    assert len(err.splitlines()) == 1
    monkeypatch.delenv("MINICLOUD_STUB_FAIL")
    assert main(["topology"]) == 0
    assert capsys.readouterr().out == ("Nothing to show yet: add a cloud with "
                                        "'minicloud clouds add NAME --type TYPE'.\n")


def test_lowest_free_ip_after_the_gateway(store: Store) -> None:
    driver = make(store)
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
        store: Store, address: str, reason: str, words: str) -> None:
    driver = make(store)
    net = driver.create_network("n", "10.0.0.0/24")
    driver.create_server(spec(net.id, "b", fixed_ip="10.0.0.9"))
    with pytest.raises(DriverError) as err:
        driver.create_server(spec(net.id, "c", fixed_ip=address))
    assert err.value.reason == reason and words in str(err.value)
    assert sorted(s.name for s in driver.list_servers()) == ["b"]


def test_public_ip_addresses(store: Store) -> None:
    driver = make(store)
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


def test_seeds_are_not_owned(store: Store) -> None:
    driver = make(store)
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


def test_forget_drops_the_state(store: Store) -> None:
    driver = make(store)
    keep = make(store, "Other")
    driver.create_network("n", "10.0.0.0/24")
    driver.forget()
    fresh = on(store)
    assert fresh.list_networks() == [] and fresh.list_security_groups() == []
    assert driver.list_networks() == []
    assert [n.name for n in keep.list_networks()] == ["public"]
    fresh.setup()
    assert [n.name for n in fresh.list_networks()] == ["public"]


def test_conflicts(store: Store) -> None:
    driver = make(store)
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


def test_state_is_in_its_own_tables(store: Store) -> None:
    make(store).create_network("n", "10.0.0.0/24")
    assert set(stub.TABLES.values()) <= store.table_names()
    assert store.load("network") == []  # never in MiniCloud's own tables


def _raw_status(store: Store, server_id: str) -> str:
    row = store.table(stub.TABLES["instance"]).get(f"S/{server_id}")
    assert row is not None
    return row[0]["status"]


def test_its_own_statuses_are_stored_and_mapped(store: Store) -> None:
    driver = make(store)
    assert set(StubDriver.status_map.values()) <= {State.BUILD, State.ACTIVE, State.SHUTOFF}
    assert all(word.islower() for word in StubDriver.status_map)  # visibly its own words
    net = driver.create_network("n", "10.0.0.0/24")
    server = driver.create_server(spec(net.id))
    assert (server.status, _raw_status(store, server.id)) == (State.BUILD, "building")
    assert driver.get_server(server.id).status == State.ACTIVE
    assert _raw_status(store, server.id) == "running"
    assert driver.stop_server(server.id).status == State.SHUTOFF
    assert _raw_status(store, server.id) == "stopped"
    assert driver.list_servers()[0].status == State.SHUTOFF
    assert driver.snapshot().instances[0].status == State.SHUTOFF
    assert driver.start_server(server.id).status == State.ACTIVE
    assert driver.reboot_server(server.id).status == State.ACTIVE
    row = store.table(stub.TABLES["instance"]).get(f"S/{server.id}")
    assert row is not None
    assert stub.as_seen("instance", row[0]).status == State.ACTIVE


def test_rows_from_before_its_own_statuses_still_read(store: Store) -> None:
    driver = make(store)
    net = driver.create_network("n", "10.0.0.0/24")
    building = driver.create_server(spec(net.id, "a"))
    stopped = driver.create_server(spec(net.id, "b"))
    table = store.table(stub.TABLES["instance"])
    for server, legacy in ((building, "BUILD"), (stopped, "SHUTOFF")):
        data, _ = table.get(f"S/{server.id}") or ({}, 0)
        table.put(f"S/{server.id}", "S", dict(data, status=legacy))
    again = on(store)
    assert {s.name: s.status for s in again.list_servers()} == {"a": State.ACTIVE,
                                                                "b": State.SHUTOFF}
    assert again.get_server(building.id).status == State.ACTIVE
    assert _raw_status(store, building.id) == "running"
    assert stub.as_seen("instance", table.get(f"S/{stopped.id}")[0]).status == State.SHUTOFF


def test_an_unknown_status_passes_through_upper_cased(store: Store) -> None:
    driver = make(store)
    net = driver.create_network("n", "10.0.0.0/24")
    server = driver.create_server(spec(net.id))
    table = store.table(stub.TABLES["instance"])
    data, _ = table.get(f"S/{server.id}") or ({}, 0)
    table.put(f"S/{server.id}", "S", dict(data, status="paused"))
    assert on(store).get_server(server.id).status == "PAUSED"


def test_declarations() -> None:
    assert not StubDriver.features.hosts and not StubDriver.features.zones
    assert StubDriver.features.keypairs and StubDriver.features.routers
    assert StubDriver.state_tables == tuple(stub.TABLES.values())
    assert [(s.name, s.flag) for s in StubDriver.settings] == [
        ("external_network", "--external-network"), ("external_cidr", "--external-cidr"),
        ("external_subnet", "--external-subnet")]


def test_only_create_driver_adds_its_tables(tmp_path) -> None:
    fresh = Store(f"sqlite:///{tmp_path}/fresh.db").open()
    try:
        assert not set(stub.TABLES.values()) & fresh.table_names()
        make(fresh)
        assert set(stub.TABLES.values()) <= fresh.table_names()
    finally:
        fresh.close()



def test_a_network_whose_interface_fails_is_not_kept(store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    driver = make(store)
    router = driver.create_router("r")
    monkeypatch.setenv("MINICLOUD_STUB_FAIL", "add_router_interface")
    with pytest.raises(DriverError, match="injected fault"):
        driver.create_network("born", "10.6.0.0/24", router.id)
    monkeypatch.delenv("MINICLOUD_STUB_FAIL")
    assert "born" not in {n.name for n in driver.list_networks()}
    assert driver.list_routers()[0].interface_network_ids == []
