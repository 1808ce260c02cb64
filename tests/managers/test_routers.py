"""Routers: create with a gateway, gateway changes, removal."""

from __future__ import annotations

import pytest

from minicloud.model.errors import InUseError, NotFoundError, ValidationError
from minicloud.model.objects import NAME_RULE

CLOUD = "Lab"


def test_create(cloud_app, fresh_driver, reopen) -> None:
    plain = cloud_app.routers.create(CLOUD, "r1")
    gw = cloud_app.routers.create(CLOUD, "r2", gateway="public")
    public = cloud_app.routers.find("network", "public")
    assert plain.gateway_network_id is None and plain.owned
    assert gw.gateway_network_id == public.id
    cloud = {r.name: r for r in fresh_driver(cloud_app).list_routers()}
    assert cloud["r2"].gateway_network_id == public.id and cloud["r1"].owned
    assert [r.name for r in reopen(cloud_app).routers.all()] == ["r1", "r2"]
    assert [n.name for n in cloud_app.routers.external_networks(CLOUD)] == ["public"]


def test_create_refusals(cloud_app, fresh_driver) -> None:
    cloud_app.routers.create(CLOUD, "r1")
    with pytest.raises(ValidationError, match="exists already"):
        cloud_app.routers.create(CLOUD, "r1")
    with pytest.raises(ValidationError) as err:
        cloud_app.routers.create(CLOUD, "r 2")
    assert NAME_RULE in str(err.value)
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    with pytest.raises(ValidationError, match="not an external network; external networks: "
                                              "public"):
        cloud_app.routers.create(CLOUD, "r2", gateway="n1")
    with pytest.raises(NotFoundError):
        cloud_app.routers.create(CLOUD, "r2", gateway="nope")
    assert [r.name for r in fresh_driver(cloud_app).list_routers()] == ["r1"]


def test_set_and_clear_gateway(cloud_app, fresh_driver, reopen) -> None:
    router = cloud_app.routers.create(CLOUD, "r1")
    router = cloud_app.routers.set_gateway(router, "public")
    assert router.gateway_network_id is not None
    with pytest.raises(ValidationError, match="already"):
        cloud_app.routers.set_gateway(router, "public")
    assert cloud_app.inventory.cache.all("change") == []  # its own router: nothing to record
    assert reopen(cloud_app).routers.all()[0].gateway_network_id == router.gateway_network_id
    router = cloud_app.routers.clear_gateway(router)
    assert router.gateway_network_id is None
    assert fresh_driver(cloud_app).list_routers()[0].gateway_network_id is None
    with pytest.raises(ValidationError, match="no gateway"):
        cloud_app.routers.clear_gateway(router)


def test_second_gateway_refused(cloud_app) -> None:
    cloud_app.driver(CLOUD).seed_network("ext2", "198.51.100.0/24", external=True)
    cloud_app.sync.refresh()
    router = cloud_app.routers.create(CLOUD, "r1", gateway="public")
    with pytest.raises(ValidationError, match="clear it first"):
        cloud_app.routers.set_gateway(router, "ext2")


def test_gateway_on_a_foreign_router_is_recorded(cloud_app, reopen) -> None:
    cloud_app.driver(CLOUD).seed_router("corp")
    cloud_app.sync.refresh()
    corp = cloud_app.routers.find("router", "corp")
    assert not corp.owned
    cloud_app.routers.set_gateway(corp, "public")
    (change,) = reopen(cloud_app).inventory.cache.all("change")
    assert (change.name, change.target_id) == ("gateway", corp.id)
    cloud_app.routers.clear_gateway(cloud_app.routers.find("router", "corp"))
    assert cloud_app.inventory.cache.all("change") == []
    assert reopen(cloud_app).inventory.cache.all("change") == []


def test_clear_gateway_refused_while_public_ips_use_it(cloud_app) -> None:
    cloud_app.routers.create(CLOUD, "r1", gateway="public")
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24", router="r1")
    vm = cloud_app.instances.create(CLOUD, "vm", "cirros", "m1.tiny", "n1")
    cloud_app.access.assign_public_ip(vm)
    with pytest.raises(InUseError, match="vm"):
        cloud_app.routers.clear_gateway(cloud_app.routers.find("router", "r1"))
    with pytest.raises(InUseError, match="vm"):
        cloud_app.routers.remove(cloud_app.routers.find("router", "r1"))


def test_remove(cloud_app, fresh_driver, reopen) -> None:
    cloud_app.routers.create(CLOUD, "r1", gateway="public")
    a = cloud_app.networks.create(CLOUD, "a", "10.1.0.0/24", router="r1")
    cloud_app.networks.create(CLOUD, "b", "10.2.0.0/24", router="r1")
    cloud_app.routers.remove(cloud_app.routers.find("router", "r1"))
    assert fresh_driver(cloud_app).list_routers() == []
    assert reopen(cloud_app).routers.all() == []
    assert {n.name for n in cloud_app.networks.all()} == {"public", "a", "b"}
    cloud_app.networks.remove(a)  # no longer attached anywhere


def test_remove_foreign_router_refused(cloud_app, fresh_driver) -> None:
    cloud_app.driver(CLOUD).seed_router("corp")
    cloud_app.sync.refresh()
    with pytest.raises(ValidationError, match="did not create router corp"):
        cloud_app.routers.remove(cloud_app.routers.find("router", "corp"))
    assert [r.name for r in fresh_driver(cloud_app).list_routers()] == ["corp"]
