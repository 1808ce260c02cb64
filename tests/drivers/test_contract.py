"""ONE contract every driver honours, run against every driver in ``DRIVERS``.

Each entry is a factory: ``factory(folder)`` (a folder of the test's own, where a driver may
keep its cloud) is a context manager yielding ``(driver, ports)`` for a cloud that has images
cirros and ubuntu, flavors m1.tiny/m1.small/m1.medium, a ``default`` security group, one
external network ``public`` (203.0.113.0/24) and no servers;
``ports()`` lists the cloud's ports as the cloud holds them (drivers list no ports: this is the
test's own view).  Adding a driver is one line in ``DRIVERS`` (OpenStack runs against
tests/drivers/fake_openstack.py, openstacksdk's real HTTP stack served by requests_mock).

A factory may carry ``variants`` (id -> factory): the suite then runs once per variant (the
CloudStack fake: two API generations, a root admin and a regular user), still from one line.

A case that needs a capability says so with ``needs(driver, "routers")``: the suite skips it
from the driver's declared ``features`` as its account was granted them at login
(``driver.granted``), never from the driver's name.  Where a capability
changes how a step is done rather than whether (``attach_network``, ``detach_network``), the
case does it the way the managers do for that declaration (:func:`routed_network`,
:func:`unrouted_delete`).  A case that clears a gateway needs ``clear_gateway``; a driver that
declares it false is held to refusing the clear in one line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import fields, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

import pytest
import requests

from minicloud.drivers import DRIVERS as REGISTRY
from minicloud.drivers import create_driver, driver_class
from minicloud.drivers.base import Driver, Features, ServerSpec, Setting
from minicloud.drivers.stub.location import Location
from minicloud.model.codec import from_dict
from minicloud.model.errors import CONFLICT, NOT_FOUND, ConfigError, DriverError
from minicloud.model.kinds import KINDS
from minicloud.model.objects import (
    KEYPAIR_PREFIX,
    Cloud,
    Instance,
    Port,
    Router,
    SecurityRule,
    State,
)
from tests.drivers.fake_cloudstack import contract_factory as cloudstack_contract
from tests.drivers.fake_openstack import fake_openstack_driver

Ports = Callable[[], list[Port]]
Factory = Callable[[Path], AbstractContextManager[tuple[Driver, Ports]]]
STATES = {value for name, value in vars(State).items() if name.isupper()}
FEATURES = {f.name for f in fields(Features)}


def stub_ports(url: str, cloud: str) -> list[Port]:
    """The Stub cloud's ports, read at its location: a server's NICs and a router's
    interfaces (which hold their network's gateway address)."""
    location = Location(url)
    try:
        with location.transaction(cloud) as tx:
            servers = [from_dict(Instance, d) for d, _ in tx.rows("instance")]
            routers = [from_dict(Router, d) for d, _ in tx.rows("router")]
            gateways = {d["id"]: d["subnets"][0]["gateway_ip"]
                        for d, _ in tx.rows("network") if d["subnets"]}
    finally:
        location.close()
    ports = [Port(nic.port_id or "", nic.network_id, server.id, "compute:nova",
                  [nic.ip] if nic.ip else []) for server in servers for nic in server.nics]
    ports += [Port(f"{router.id}-{net}", net, router.id, "network:router_interface",
                   [gateways.get(net, "")]) for router in routers
              for net in router.interface_network_ids]
    return ports


@contextmanager
def stub_driver(folder: Path) -> Iterator[tuple[Driver, Ports]]:
    url = f"sqlite:///{folder}/contract-stub.db"
    driver = create_driver(Cloud("Contract", "stub", "here", settings={"state": url}), None)
    driver.setup()
    try:
        yield driver, lambda: stub_ports(url, driver.cloud.name)
    finally:
        driver.close()


@contextmanager
def openstack_driver(folder: Path) -> Iterator[tuple[Driver, Ports]]:
    with fake_openstack_driver() as (driver, fake):
        yield driver, fake.model_ports


DRIVERS: dict[str, Factory] = {
    "stub": stub_driver,
    "openstack": openstack_driver,
    "cloudstack": cloudstack_contract,
}


def variants() -> dict[str, Factory]:
    """Every factory to run the suite with: a driver's own, or each of its ``variants``."""
    found: dict[str, Factory] = {}
    for name, factory in DRIVERS.items():
        own: dict[str, Factory] = getattr(factory, "variants", {})
        found.update({f"{name}-{v}": f for v, f in own.items()} if own else {name: factory})
    return found


VARIANTS = variants()


@pytest.fixture(params=list(VARIANTS), ids=list(VARIANTS))
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Driver, Ports]]:
    with VARIANTS[request.param](tmp_path) as pair:
        yield pair


@pytest.fixture
def driver(subject: tuple[Driver, Ports]) -> Driver:
    return subject[0]


@pytest.fixture
def ports(subject: tuple[Driver, Ports]) -> Ports:
    return subject[1]


def needs(driver: Driver, *features: str) -> None:
    """Skip the calling case unless the driver declares every one of ``features``."""
    granted = getattr(driver, "granted", driver.features)
    for feature in features:
        assert feature in FEATURES, f"no such feature {feature!r}: one of {sorted(FEATURES)}"
        if not getattr(driver.features, feature):
            pytest.skip(f"{driver.type_name} declares no {feature}")
        if not getattr(granted, feature):
            pytest.skip(f"{driver.type_name} grants this account no {feature}")


# -- helpers -----------------------------------------------------------------------------------

def by_name(objs: list[Any]) -> dict[str, Any]:
    return {o.name: o for o in objs}


def public(driver: Driver) -> Any:
    return by_name(driver.list_networks())["public"]


def spec(driver: Driver, name: str, network_id: str, **kw: Any) -> ServerSpec:
    image = by_name(driver.list_images())["cirros"]
    flavor = by_name(driver.list_flavors())["m1.tiny"]
    return ServerSpec(name, image.id, flavor.id, network_id, **kw)


def routed_network(driver: Driver, name: str, cidr: str, router: Router) -> Any:
    """A new network on ``router``, made the way the managers make it: created then attached
    where the type attaches existing networks, else born on the router."""
    if driver.features.attach_network:
        net = driver.create_network(name, cidr)
        driver.add_router_interface(router.id, net.id)
        return net
    return driver.create_network(name, cidr, router.id)


def unrouted_delete(driver: Driver, router: Router, net: Any) -> None:
    """Delete a network on ``router`` the way the managers do: detached first where the type
    can detach, else deleted (which takes it off)."""
    if driver.features.detach_network:
        driver.remove_router_interface(router.id, net.id)
    driver.delete_network(net.id)


def routed_server(driver: Driver, prefix: str, cidr: str) -> tuple[Any, Any, Any, Any]:
    """An ACTIVE server on a network attached to a router whose gateway is ``public``."""
    needs(driver, "routers")
    ext = public(driver)
    router = driver.create_router(f"{prefix}router", ext.id)
    net = routed_network(driver, f"{prefix}net", cidr, router)
    server = driver.wait_server(driver.create_server(spec(driver, f"{prefix}vm", net.id)).id,
                                "ACTIVE", 60)
    return ext, net, router, server


def reach(driver: Driver, server: Any, status: str) -> Any:
    return server if server.status == status else driver.wait_server(server.id, status, 60)


def assert_driver_error(driver: Driver, call: Callable[[], Any]) -> DriverError:
    with pytest.raises(DriverError) as err:
        call()
    assert driver.cloud.name in str(err.value)
    assert err.value.cloud == driver.cloud.name
    return err.value


MISSING = "00000000-0000-0000-0000-000000000000"


# -- the starting point ------------------------------------------------------------------------

def test_catalogue(driver: Driver) -> None:
    assert {"cirros", "ubuntu"} <= set(by_name(driver.list_images()))
    assert {"m1.tiny", "m1.small", "m1.medium"} <= set(by_name(driver.list_flavors()))
    for obj in driver.list_images() + driver.list_flavors():
        assert obj.cloud == driver.cloud.name and obj.id


def test_pre_existing_objects_are_not_owned(driver: Driver) -> None:
    net = public(driver)
    assert net.external and not net.owned
    # Its address ranges as they are, or none where the account may not see them; never
    # wrong ones.
    assert net.cidrs == (["203.0.113.0/24"] if driver.granted.public_ranges else [])
    default = by_name(driver.list_security_groups())["default"]
    assert not default.owned
    assert driver.list_servers() == []


# -- what a driver declares --------------------------------------------------------------------

def test_declarations(driver: Driver) -> None:
    cls = type(driver)
    assert driver_class(cls.type_name) is cls and cls.type_name in REGISTRY
    assert isinstance(cls.features, Features)
    assert set(cls.status_map.values()) <= STATES, "status_map must map onto State values"
    names = [s.name for s in cls.settings]
    flags = [s.flag for s in cls.settings if s.flag is not None]
    assert len(set(names)) == len(names) and len(set(flags)) == len(flags)
    for setting in cls.settings:
        assert isinstance(setting, Setting)
        assert setting.prompt and setting.help and "\n" not in setting.help, setting.name
        if setting.flag is not None:
            assert setting.flag.startswith("--"), setting.name
        if setting.secret:
            assert setting.flag is None, f"secret {setting.name} must not be a flag"


def test_native_statuses_map_to_states(driver: Driver) -> None:
    for native, state in driver.status_map.items():
        assert driver.state(native) == state
    assert driver.state("no-such-status") == "NO-SUCH-STATUS"  # shown, not hidden
    assert driver.state("") == State.UNKNOWN


def test_every_status_reported_is_a_state(driver: Driver) -> None:
    net = driver.create_network("tnet", "10.38.0.0/24")
    seen = [driver.create_server(spec(driver, "tvm", net.id))]
    server = seen[0]
    seen.append(driver.wait_server(server.id, State.ACTIVE, 60))
    seen += driver.list_servers() + driver.snapshot().instances
    stopped = reach(driver, driver.stop_server(server.id), State.SHUTOFF)
    seen += [stopped, driver.get_server(server.id), *driver.list_servers()]
    assert stopped.status == State.SHUTOFF
    started = reach(driver, driver.start_server(server.id), State.ACTIVE)
    assert started.status == State.ACTIVE
    seen += [started, driver.reboot_server(server.id), *driver.list_servers()]
    assert {s.status for s in seen} <= STATES, {s.status for s in seen}
    driver.delete_server(server.id)
    driver.delete_network(net.id)


def test_zones(driver: Driver) -> None:
    needs(driver, "zones")
    zones = driver.availability_zones()
    assert zones and all(isinstance(z, str) and z for z in zones)
    net = driver.create_network("znet", "10.39.0.0/24")
    server = driver.create_server(spec(driver, "zvm", net.id, availability_zone=zones[0]))
    assert driver.wait_server(server.id, State.ACTIVE, 60).status == State.ACTIVE
    driver.delete_server(server.id)
    driver.delete_network(net.id)


def test_needs_skips_from_the_declared_features(driver: Driver) -> None:
    def declaring(feature: str, value: bool) -> Any:
        return SimpleNamespace(type_name="any",
                               features=replace(driver.features, **{feature: value}))

    for feature in FEATURES:
        with pytest.raises(pytest.skip.Exception, match=f"declares no {feature}"):
            needs(declaring(feature, False), feature)
        needs(declaring(feature, True), feature)  # no skip
    with pytest.raises(AssertionError, match="no such feature"):
        needs(driver, "teleport")


# -- networks and routers ----------------------------------------------------------------------

def test_networks(driver: Driver) -> None:
    net = driver.create_network("cnet", "10.31.0.0/24")
    assert (net.name, net.owned, net.external, net.cloud) == ("cnet", True, False,
                                                            driver.cloud.name)
    assert [(s.name, s.cidr) for s in net.subnets] == [("cnet-subnet", "10.31.0.0/24")]
    listed = by_name(driver.list_networks())["cnet"]
    assert listed.id == net.id and listed.owned and listed.cidrs == ["10.31.0.0/24"]
    driver.delete_network(net.id)
    assert "cnet" not in by_name(driver.list_networks())
    assert_driver_error(driver, lambda: driver.delete_network(net.id))


def test_routers_gateway_set_and_cleared(driver: Driver) -> None:
    needs(driver, "routers", "clear_gateway")
    ext = public(driver)
    router = driver.create_router("crouter")
    assert (router.name, router.owned, router.gateway_network_id) == ("crouter", True, None)
    with_gw = driver.create_router("crouter2", ext.id)
    assert with_gw.gateway_network_id == ext.id
    assert driver.set_router_gateway(router.id, ext.id).gateway_network_id == ext.id
    assert by_name(driver.list_routers())["crouter"].gateway_network_id == ext.id
    assert driver.clear_router_gateway(router.id).gateway_network_id is None
    assert by_name(driver.list_routers())["crouter"].gateway_network_id is None
    driver.delete_router(router.id)
    driver.delete_router(with_gw.id)
    assert set(by_name(driver.list_routers())) == set()


def test_a_gateway_that_cannot_be_cleared_says_so_in_one_line(driver: Driver) -> None:
    needs(driver, "routers")
    if driver.features.clear_gateway:
        pytest.skip(f"{driver.type_name} clears gateways")
    ext = public(driver)
    router = driver.create_router("grouter", ext.id)
    assert router.gateway_network_id == ext.id
    err = assert_driver_error(driver, lambda: driver.clear_router_gateway(router.id))
    assert "\n" not in str(err), str(err)
    assert by_name(driver.list_routers())["grouter"].gateway_network_id == ext.id
    driver.delete_router(router.id)


def test_routers_interfaces(driver: Driver, ports: Ports) -> None:
    needs(driver, "routers", "attach_network")
    net = driver.create_network("rnet", "10.32.0.0/24")
    router = driver.create_router("crouter")
    assert driver.add_router_interface(router.id, net.id).interface_network_ids == [net.id]
    assert by_name(driver.list_routers())["crouter"].interface_network_ids == [net.id]
    interfaces = [p for p in ports() if p.device_id == router.id]
    assert [p.network_id for p in interfaces] == [net.id]
    assert driver.remove_router_interface(router.id, net.id).interface_network_ids == []
    assert by_name(driver.list_routers())["crouter"].interface_network_ids == []
    driver.delete_router(router.id)
    assert set(by_name(driver.list_routers())) == set()
    assert_driver_error(driver, lambda: driver.delete_router(router.id))
    driver.delete_network(net.id)


def test_a_network_born_on_a_router(driver: Driver) -> None:
    needs(driver, "routers")
    router = driver.create_router("brouter", public(driver).id)
    net = driver.create_network("bnet", "10.40.0.0/24", router.id)
    assert (net.name, net.owned, net.cidrs) == ("bnet", True, ["10.40.0.0/24"])
    assert by_name(driver.list_routers())["brouter"].interface_network_ids == [net.id]
    unrouted_delete(driver, router, net)
    assert "bnet" not in by_name(driver.list_networks())
    assert by_name(driver.list_routers())["brouter"].interface_network_ids == []
    driver.delete_router(router.id)


def test_a_network_born_on_a_missing_router_is_not_kept(driver: Driver) -> None:
    needs(driver, "routers")
    assert_driver_error(driver, lambda: driver.create_network("lost", "10.41.0.0/24", MISSING))
    assert "lost" not in by_name(driver.list_networks())


def test_a_network_that_cannot_leave_its_router_says_so(driver: Driver) -> None:
    needs(driver, "routers")
    if driver.features.detach_network:
        pytest.skip(f"{driver.type_name} detaches networks")
    router = driver.create_router("drouter", public(driver).id)
    net = driver.create_network("dnet", "10.42.0.0/24", router.id)
    assert_driver_error(driver, lambda: driver.remove_router_interface(router.id, net.id))
    assert by_name(driver.list_routers())["drouter"].interface_network_ids == [net.id]
    driver.delete_network(net.id)
    driver.delete_router(router.id)


# -- servers -----------------------------------------------------------------------------------

def test_a_requested_private_ip_is_given_or_refused_never_replaced(driver: Driver) -> None:
    """Neutron's answer on every type: in use is a conflict, outside the subnet is invalid;
    no server is left behind and no other address is given instead."""
    net = driver.create_network("inet", "10.34.0.0/24")
    first = driver.create_server(spec(driver, "held", net.id, fixed_ip="10.34.0.20"))
    for address, reason in (("10.34.0.20", "conflict"), ("10.99.0.5", "refused as invalid"),
                            ("10.34.0.0", "refused as invalid"),
                            ("10.34.0.255", "refused as invalid")):
        with pytest.raises(DriverError) as refused:
            driver.create_server(spec(driver, "again", net.id, fixed_ip=address))
        assert refused.value.reason == reason, (address, str(refused.value))
    assert [s.name for s in driver.list_servers() if s.name in ("held", "again")] == ["held"]
    driver.delete_server(first.id)
    driver.delete_network(net.id)


def test_server_life_cycle(driver: Driver, ports: Ports) -> None:
    net = driver.create_network("snet", "10.33.0.0/24")
    server = driver.create_server(spec(driver, "cvm", net.id, fixed_ip="10.33.0.20"))
    assert server.name == "cvm" and server.owned
    server = driver.wait_server(server.id, "ACTIVE", 60)
    assert server.status == "ACTIVE"
    assert server.private_ip == "10.33.0.20"
    assert server.nics[0].network_id == net.id
    assert (server.image, server.flavor) == ("cirros", "m1.tiny")
    assert "default" in server.security_groups
    listed = by_name(driver.list_servers())["cvm"]
    assert listed.id == server.id and listed.owned and listed.private_ip == "10.33.0.20"
    assert driver.get_server(server.id).id == server.id
    nics = [p for p in ports() if p.device_id == server.id]
    assert [(p.network_id, p.fixed_ips) for p in nics] == [(net.id, ["10.33.0.20"])]
    assert reach(driver, driver.stop_server(server.id), "SHUTOFF").status == "SHUTOFF"
    assert reach(driver, driver.start_server(server.id), "ACTIVE").status == "ACTIVE"
    assert reach(driver, driver.reboot_server(server.id), "ACTIVE").status == "ACTIVE"
    driver.delete_server(server.id)
    assert "cvm" not in by_name(driver.list_servers())
    assert_driver_error(driver, lambda: driver.delete_server(server.id))
    assert_driver_error(driver, lambda: driver.get_server(server.id))
    driver.delete_network(net.id)


def test_server_cluster_is_reported(driver: Driver) -> None:
    net = driver.create_network("knet", "10.34.0.0/24")
    server = driver.create_server(spec(driver, "kvm", net.id, cluster="London"))
    driver.wait_server(server.id, "ACTIVE", 60)
    assert by_name(driver.list_servers())["kvm"].cluster == "London"
    driver.delete_server(server.id)


def test_missing_server_is_a_driver_error(driver: Driver) -> None:
    for call in (driver.delete_server, driver.start_server, driver.stop_server,
                 driver.reboot_server):
        assert_driver_error(driver, lambda c=call: c(MISSING))


# -- two sessions on one cloud ------------------------------------------------------------------

def another_session(driver: Driver) -> Driver:
    """A second driver on the cloud, sharing nothing with ``driver``: another operator's
    session, built from the same settings and secrets (a Stub's are its location)."""
    other = type(driver)(driver.cloud, driver._secrets)
    other.poll_interval = driver.poll_interval
    return other


def test_two_sessions_see_each_other_and_conflict_as_the_cloud_says(driver: Driver) -> None:
    """What one session makes, the other sees at its next call; what conflicts with the
    other's change fails as Neutron and Nova say it, never overwriting it: an address the
    other holds is in use (409), what the other removed is gone (404), and a network the
    other's server is on is refused and stays."""
    other = another_session(driver)
    try:
        net = driver.create_network("wnet", "10.43.0.0/24")
        assert "wnet" in by_name(other.list_networks())
        server = other.wait_server(
            other.create_server(spec(other, "wvm", net.id, fixed_ip="10.43.0.20")).id,
            State.ACTIVE, 60)
        assert by_name(driver.list_servers())["wvm"].private_ip == "10.43.0.20"
        taken = assert_driver_error(driver, lambda: driver.create_server(
            spec(driver, "wvm2", net.id, fixed_ip="10.43.0.20")))
        assert taken.reason == CONFLICT, str(taken)
        # In use: refused (CloudStack says so as a server error, 530), and nothing went.
        assert_driver_error(driver, lambda: driver.delete_network(net.id))
        assert "wvm" in by_name(other.list_servers()) and "wnet" in by_name(
            other.list_networks())
        driver.delete_server(server.id)
        gone = assert_driver_error(other, lambda: other.stop_server(server.id))
        assert gone.reason == NOT_FOUND, str(gone)
        other.delete_network(net.id)
        gone = assert_driver_error(driver, lambda: driver.delete_network(net.id))
        assert gone.reason == NOT_FOUND, str(gone)
        assert "wnet" not in by_name(driver.list_networks())
    finally:
        other.close()


# -- security groups ---------------------------------------------------------------------------

def test_security_groups(driver: Driver) -> None:
    needs(driver, "security_groups")
    group = driver.create_security_group("cgroup", "contract")
    assert (group.name, group.owned) == ("cgroup", True)
    rule = SecurityRule("ingress", "tcp", 22, 22, "IPv4", "0.0.0.0/0")
    once = driver.add_security_group_rule(group.id, rule)
    twice = driver.add_security_group_rule(group.id, rule)  # already there: success
    assert once.allows_ssh() and twice.allows_ssh()
    listed = by_name(driver.list_security_groups())["cgroup"]
    matching = [r for r in listed.rules if (r.direction, r.protocol, r.port_min, r.port_max,
                                            r.ethertype) == ("ingress", "tcp", 22, 22, "IPv4")]
    assert len(matching) == 1
    net = driver.create_network("gnet", "10.35.0.0/24")
    server = driver.wait_server(driver.create_server(spec(driver, "gvm", net.id)).id, "ACTIVE",
                                60)
    updated = driver.add_server_security_group(server.id, group.id)
    assert "cgroup" in updated.security_groups
    assert "cgroup" in by_name(driver.list_servers())["gvm"].security_groups
    assert "cgroup" not in driver.remove_server_security_group(server.id,
                                                               group.id).security_groups
    assert "cgroup" not in by_name(driver.list_servers())["gvm"].security_groups
    driver.delete_server(server.id)
    driver.delete_security_group(group.id)
    assert "cgroup" not in by_name(driver.list_security_groups())
    assert_driver_error(driver, lambda: driver.delete_security_group(group.id))


# -- public IPs --------------------------------------------------------------------------------

def test_public_ips(driver: Driver) -> None:
    needs(driver, "public_ips")
    ext, net, router, server = routed_server(driver, "f", "10.36.0.0/24")
    if driver.granted.public_ip_by_address:
        fip = driver.allocate_public_ip(ext.id, "203.0.113.50", router.id)
        assert fip.name == "203.0.113.50"
        for address, reason in (("203.0.113.50", "conflict"),
                                ("9.9.9.9", "refused as invalid")):
            # Given as asked or refused, never another address.
            with pytest.raises(DriverError) as refused:
                driver.allocate_public_ip(ext.id, address, router.id)
            assert refused.value.reason == reason, (address, str(refused.value))
    else:
        # Refused in one line before any address is taken: never another address.
        err = assert_driver_error(
            driver, lambda: driver.allocate_public_ip(ext.id, "203.0.113.50", router.id))
        assert err.reason == "refused as invalid" and "\n" not in str(err)
        assert driver.list_public_ips() == []
        fip = driver.allocate_public_ip(ext.id, None, router.id)
    assert (fip.address, fip.owned, fip.instance_id, fip.network_id) == (
        fip.name, True, None, ext.id)
    # Held for the router it was allocated for, or for none (any router of ext may use it),
    # and so it stays through association, disassociation and a fresh listing.
    assert fip.router_id in (None, router.id)
    assert [f.name for f in driver.list_public_ips()] == [fip.name]
    bound = driver.associate_public_ip(fip.id, server.id)
    assert bound.instance_id == server.id and bound.fixed_ip == server.private_ip
    assert by_name(driver.list_public_ips())[fip.name].instance_id == server.id
    free = driver.disassociate_public_ip(fip.id)
    assert free.instance_id is None and free.router_id == fip.router_id
    listed = by_name(driver.list_public_ips())[fip.name]
    assert listed.instance_id is None and listed.router_id == fip.router_id
    driver.release_public_ip(fip.id)
    assert fip.name not in by_name(driver.list_public_ips())
    assert_driver_error(driver, lambda: driver.release_public_ip(fip.id))
    driver.delete_server(server.id)
    unrouted_delete(driver, router, net)
    driver.delete_router(router.id)


# -- key pairs ---------------------------------------------------------------------------------

def test_keypairs(driver: Driver) -> None:
    needs(driver, "keypairs")
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ5dGVzYnl0ZXNieXRlc2J5dGVzYnl0ZXNieXRlcw x"
    mine = driver.create_keypair(f"{KEYPAIR_PREFIX}contract", key)
    theirs = driver.create_keypair("someone-else", key)
    assert mine.owned and not theirs.owned
    assert mine.name == mine.id == f"{KEYPAIR_PREFIX}contract"
    listed = by_name(driver.list_keypairs())
    assert listed[f"{KEYPAIR_PREFIX}contract"].owned and not listed["someone-else"].owned
    driver.delete_keypair(mine.name)
    driver.delete_keypair(theirs.name)
    assert not {mine.name, theirs.name} & set(by_name(driver.list_keypairs()))
    assert_driver_error(driver, lambda: driver.delete_keypair(mine.name))


# -- a full sync -------------------------------------------------------------------------------

def test_snapshot_contains_everything(driver: Driver) -> None:
    needs(driver, "public_ips", "security_groups", "keypairs")
    ext, net, router, server = routed_server(driver, "a", "10.37.0.0/24")
    fip = driver.allocate_public_ip(ext.id, router_id=router.id)
    driver.associate_public_ip(fip.id, server.id)
    group = driver.create_security_group("agroup")
    pair = driver.create_keypair(f"{KEYPAIR_PREFIX}a", "ssh-ed25519 AAAA a")
    snap = driver.snapshot()
    assert {"public", "anet"} <= set(by_name(snap.networks))
    assert by_name(snap.routers)["arouter"].interface_network_ids == [net.id]
    assert by_name(snap.instances)["avm"].id == server.id
    assert by_name(snap.public_ips)[fip.name].instance_id == server.id
    assert {"default", "agroup"} <= set(by_name(snap.security_groups))
    assert snap.keypairs == []  # listed only when needed, never in a sync
    assert by_name(driver.list_keypairs())[pair.name].owned
    assert {"cirros", "ubuntu"} <= set(by_name(snap.images))
    assert {"m1.tiny", "m1.small", "m1.medium"} <= set(by_name(snap.flavors))
    owned = {o.name: o.owned for o in snap.resources() if o.kind not in ("image", "flavor")}
    assert owned["public"] is False and owned["default"] is False
    for name in ("anet", "arouter", "avm", fip.name, "agroup"):
        assert owned[name] is True, name
    assert group.id in {g.id for g in snap.security_groups}
    for obj in snap.resources():
        assert obj.cloud == driver.cloud.name
    assert {i.status for i in snap.instances} <= STATES


# -- what every driver says and how it waits ---------------------------------------------------

# A request's query (a signed CloudStack request carries its API key, expiry and signature
# there) or a signature's value.
QUERY = re.compile(r"\?[\w.-]+=|signature=", re.IGNORECASE)


def assert_says_no_secret(driver: Driver, text: str) -> None:
    """One line, and nothing of the request it came from: no value of a setting marked
    secret, no signature, no query string."""
    assert "\n" not in text, text
    for setting in type(driver).settings:
        value = driver.secret(setting.name) if setting.secret else None
        assert not value or value not in text, f"{setting.name} in {text!r}"
    assert not QUERY.search(text), text


def test_errors_say_no_secret_signature_or_query(driver: Driver) -> None:
    calls = [lambda: driver.delete_server(MISSING), lambda: driver.get_server(MISSING),
             lambda: driver.start_server(MISSING), lambda: driver.delete_network(MISSING),
             lambda: driver.release_public_ip(MISSING),
             lambda: driver.delete_keypair(f"{KEYPAIR_PREFIX}missing")]
    for call in calls:
        assert_says_no_secret(driver, str(assert_driver_error(driver, call)))


def test_an_unreachable_cloud_is_one_line_without_its_request(driver: Driver) -> None:
    """Every request fails as a dead server makes it fail, the whole request (with its
    signed query) in the transport's message: the driver says "unreachable" in one line
    and repeats none of it."""
    sent: list[str] = []

    def refuse(session: Any, request: Any, **kw: Any) -> Any:
        sent.append(request.url)
        raise requests.exceptions.ConnectionError(
            "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: "
            f"{request.path_url} (Caused by NewConnectionError('<urllib3.connection."
            "HTTPConnection object at 0x7f00>: Failed to establish a new connection: [Errno "
            "111] Connection refused'))", request=request)

    errors = []
    # Patched here, not by monkeypatch: undone before the fake's own requests_mock patch
    # of the same method is (a later undo would put a stopped mock back).
    with patch.object(requests.Session, "send", refuse):
        for call in (driver.list_servers, driver.list_networks, driver.list_security_groups):
            try:
                call()
            except DriverError as err:
                errors.append(err)
    if not sent:
        pytest.skip(f"{driver.type_name} makes no HTTP requests")
    assert errors and {e.reason for e in errors} == {"unreachable"}, errors
    for err in errors:
        assert_says_no_secret(driver, str(err))
        assert "cannot reach " in str(err), str(err)


def test_a_slow_answer_is_waited_for_out_loud(driver: Driver) -> None:
    """While a request has no answer, a line every heartbeat says what is waited for."""
    send = requests.Session.send
    sent: list[str] = []

    def slow(session: Any, request: Any, **kw: Any) -> Any:
        sent.append(request.url)
        if len(sent) == 1:  # the first answer is slow
            time.sleep(0.25)
        return send(session, request, **kw)

    said: list[str] = []
    driver.progress, driver.heartbeat = said.append, 0.1
    try:
        with patch.object(requests.Session, "send", slow):  # see the case above: not monkeypatch
            driver.list_servers()
    finally:
        driver.progress = None
    if not sent:
        pytest.skip(f"{driver.type_name} makes no HTTP requests")
    assert any(line.startswith(f"list servers on cloud {driver.cloud.name}: no answer yet, ")
               for line in said), said


def test_a_cloud_added_without_its_settings_is_told_which(driver: Driver) -> None:
    cls = type(driver)
    needed = [s.flag for s in cls.settings
              if s.flag and not (s.optional or s.default or s.secret or s.alone)]
    if not needed:
        pytest.skip(f"{cls.type_name} needs no setting")
    with pytest.raises(ConfigError) as err:
        cls.check_complete({})
    assert "\n" not in str(err.value)
    assert all(flag in str(err.value) for flag in needed), (needed, str(err.value))


def test_name_rules_are_declared_in_the_types_own_words(driver: Driver) -> None:
    cls = type(driver)
    for kind, rule in cls.name_rules.items():
        assert kind in KINDS, kind
        re.compile(rule.pattern)
        assert rule.words and "\n" not in rule.words
        assert cls.check_name(kind, "a1") == "a1"  # a name every cloud takes
