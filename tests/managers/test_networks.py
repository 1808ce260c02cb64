"""Networks: the name rule, CIDR rules, router attachment, removal, public IPs."""

from __future__ import annotations

import pytest

from minicloud.managers.networks import parse_cidr
from minicloud.model.errors import InUseError, NotFoundError, ValidationError
from minicloud.model.objects import NAME_RULE

CLOUD = "Lab"


def cloud_networks(fresh_driver, app) -> dict:
    return {n.name: n for n in fresh_driver(app).list_networks()}


def test_create(cloud_app, fresh_driver, reopen) -> None:
    net = cloud_app.networks.create(CLOUD, "n1", " 10.1.0.0/24 ")
    assert (net.name, net.cidrs, net.owned, net.external) == ("n1", ["10.1.0.0/24"], True, False)
    assert net.subnets[0].name == "n1-subnet"
    assert "n1" in cloud_networks(fresh_driver, cloud_app)
    assert "n1" in {n.name for n in reopen(cloud_app).networks.all()}


@pytest.mark.parametrize("name", ["", "my net", ".n", "n" * 65, "n;drop"])
def test_name_rule(cloud_app, fresh_driver, name: str) -> None:
    with pytest.raises(ValidationError) as err:
        cloud_app.networks.create(CLOUD, name, "10.1.0.0/24")
    assert NAME_RULE in str(err.value)
    assert set(cloud_networks(fresh_driver, cloud_app)) == {"public"}


def test_duplicate_name(cloud_app) -> None:
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    with pytest.raises(ValidationError, match="exists already"):
        cloud_app.networks.create(CLOUD, "n1", "10.2.0.0/24")
    cloud_app.clouds.add("Other", "stub")
    assert cloud_app.networks.create("Other", "n1", "10.2.0.0/24").cloud == "Other"


@pytest.mark.parametrize("cidr, message", [
    ("garbage", "write an address and a prefix"),
    ("abc/24", "write an address and a prefix"),
    ("10.0.0.0/33", "write an address and a prefix"),
    ("10.0.0/24x", "write an address and a prefix"),
    ("10.0.0.0", "write an address and a prefix"),
    ("10.0.0.1/24", "has host bits set: did you mean 10.0.0.0/24?"),
    ("10.0.0.0/31", "too small"),
    ("10.0.0.0/32", "too small"),
    ("fd00::/127", "too small"),
])
def test_bad_cidrs(cloud_app, fresh_driver, cidr: str, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        cloud_app.networks.create(CLOUD, "n1", cidr)
    assert message in str(err.value)
    assert set(cloud_networks(fresh_driver, cloud_app)) == {"public"}


def test_good_cidrs() -> None:
    assert str(parse_cidr("10.0.0.0/30")) == "10.0.0.0/30"
    assert str(parse_cidr("fd00:1::/64")) == "fd00:1::/64"


def test_ipv6_network(cloud_app) -> None:
    net = cloud_app.networks.create(CLOUD, "v6", "fd00:1::/64")
    assert net.cidrs == ["fd00:1::/64"]


def test_overlap_refused_within_a_cloud_only(cloud_app) -> None:
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/16")
    with pytest.raises(ValidationError, match="overlaps n1"):
        cloud_app.networks.create(CLOUD, "n2", "10.1.2.0/24")
    with pytest.raises(ValidationError, match="overlaps n1"):
        cloud_app.networks.create(CLOUD, "n2", "10.0.0.0/8")
    with pytest.raises(ValidationError, match="overlaps public"):
        cloud_app.networks.create(CLOUD, "n2", "203.0.113.128/25")
    cloud_app.networks.create(CLOUD, "n2", "10.2.0.0/16")  # adjacent is fine
    cloud_app.clouds.add("Other", "stub")
    assert cloud_app.networks.create("Other", "n1", "10.1.0.0/16").cidrs == ["10.1.0.0/16"]


def test_create_on_a_router(cloud_app, fresh_driver) -> None:
    router = cloud_app.routers.create(CLOUD, "r1", gateway="public")
    net = cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24", router="r1")
    assert cloud_app.routers.find("router", "r1").interface_network_ids == [net.id]
    (r,) = fresh_driver(cloud_app).list_routers()
    assert r.id == router.id and r.interface_network_ids == [net.id]


def test_create_on_an_unknown_router_creates_nothing(cloud_app, fresh_driver) -> None:
    with pytest.raises(NotFoundError):
        cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24", router="nope")
    assert set(cloud_networks(fresh_driver, cloud_app)) == {"public"}
    assert {n.name for n in cloud_app.networks.all()} == {"public"}


def test_unknown_cloud(cloud_app) -> None:
    with pytest.raises(NotFoundError):
        cloud_app.networks.create("Nope", "n1", "10.1.0.0/24")


def test_attach_detach(cloud_app, reopen) -> None:
    router = cloud_app.routers.create(CLOUD, "r1")
    net = cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    router = cloud_app.networks.attach(net, router)
    assert router.interface_network_ids == [net.id]
    assert cloud_app.networks.routers_of(net) == [router]
    with pytest.raises(ValidationError, match="already"):
        cloud_app.networks.attach(net, router)
    public = cloud_app.routers.find("network", "public")
    with pytest.raises(ValidationError, match="external"):
        cloud_app.networks.attach(public, router)
    router = cloud_app.networks.detach(net, router)
    assert router.interface_network_ids == []
    with pytest.raises(ValidationError, match="not attached"):
        cloud_app.networks.detach(net, router)
    assert reopen(cloud_app).routers.find("router", "r1").interface_network_ids == []


def test_attach_across_clouds_refused(cloud_app) -> None:
    cloud_app.clouds.add("Other", "stub")
    router = cloud_app.routers.create("Other", "r1")
    net = cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    with pytest.raises(ValidationError, match="different clouds"):
        cloud_app.networks.attach(net, router)


def test_detach_refused_while_public_ips_use_it(cloud_app) -> None:
    router = cloud_app.routers.create(CLOUD, "r1", gateway="public")
    net = cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24", router="r1")
    vm = cloud_app.instances.create(CLOUD, "vm", "cirros", "m1.tiny", "n1")
    cloud_app.access.assign_public_ip(vm)
    with pytest.raises(InUseError, match="vm"):
        cloud_app.networks.detach(net, cloud_app.routers.find("router", "r1"))
    assert router.id


def test_remove(cloud_app, fresh_driver, reopen) -> None:
    net = cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    cloud_app.networks.remove(net)
    assert "n1" not in cloud_networks(fresh_driver, cloud_app)
    assert "n1" not in {n.name for n in reopen(cloud_app).networks.all()}


def test_remove_cascades_router_interfaces(cloud_app, fresh_driver, reopen) -> None:
    cloud_app.routers.create(CLOUD, "r1")
    cloud_app.routers.create(CLOUD, "r2")
    keep = cloud_app.networks.create(CLOUD, "keep", "10.2.0.0/24", router="r1")
    net = cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24", router="r1")
    cloud_app.networks.attach(net, cloud_app.routers.find("router", "r2"))
    cloud_app.networks.remove(cloud_app.routers.find("network", "n1"))
    for app in (cloud_app, reopen(cloud_app)):
        routers = {r.name: r for r in app.routers.all()}
        assert routers["r1"].interface_network_ids == [keep.id]
        assert routers["r2"].interface_network_ids == []
    routers = {r.name: r for r in fresh_driver(cloud_app).list_routers()}
    assert routers["r1"].interface_network_ids == [keep.id]
    assert routers["r2"].interface_network_ids == []


def test_remove_refusals(cloud_app, fresh_driver) -> None:
    public = cloud_app.routers.find("network", "public")
    with pytest.raises(ValidationError, match="did not create"):
        cloud_app.networks.remove(public)
    net = cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    cloud_app.instances.create(CLOUD, "vm", "cirros", "m1.tiny", "n1")
    with pytest.raises(InUseError, match="vm"):
        cloud_app.networks.remove(net)
    assert {"public", "n1"} == set(cloud_networks(fresh_driver, cloud_app))


def test_public_ips_list_and_release(cloud_app, fresh_driver) -> None:
    cloud_app.routers.create(CLOUD, "r1", gateway="public")
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24", router="r1")
    vm = cloud_app.instances.create(CLOUD, "vm", "cirros", "m1.tiny", "n1")
    fip = cloud_app.access.assign_public_ip(vm, "203.0.113.9")
    assert [f.name for f in cloud_app.public_ips.public_ips(CLOUD)] == ["203.0.113.9"]
    assert cloud_app.public_ips.find_public_ip("203.0.113.9") == fip
    with pytest.raises(NotFoundError):
        cloud_app.public_ips.find_public_ip("203.0.113.10")
    cloud_app.instances.remove(cloud_app.instances.all()[0])  # gives the IP back
    assert cloud_app.public_ips.public_ips() == []
    assert fresh_driver(cloud_app).list_public_ips() == []


def test_release_refuses_foreign_ips(cloud_app, fresh_driver) -> None:
    driver = cloud_app.driver(CLOUD)
    external = cloud_app.routers.find("network", "public")
    driver.seed_public_ip(external.id, "203.0.113.50")
    cloud_app.sync.refresh()
    fip = cloud_app.public_ips.find_public_ip("203.0.113.50")
    with pytest.raises(ValidationError, match="did not allocate"):
        cloud_app.public_ips.release(fip)
    assert [f.name for f in fresh_driver(cloud_app).list_public_ips()] == ["203.0.113.50"]
    # an IP MiniCloud allocated and that is free can be released
    mine = driver.allocate_public_ip(external.id)
    cloud_app.sync.refresh()
    cloud_app.public_ips.release(cloud_app.public_ips.find_public_ip(mine.name))
    assert [f.name for f in fresh_driver(cloud_app).list_public_ips()] == ["203.0.113.50"]
