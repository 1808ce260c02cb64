"""Instances: create, power actions, removal, public IPs and connect."""

from __future__ import annotations

import pytest

from minicloud.model.errors import NotFoundError, ValidationError
from minicloud.model.objects import NAME_RULE, SecurityRule

CLOUD = "Lab"


@pytest.fixture
def lab(cloud_app):
    """A routed network (r1 -> public) and an isolated one."""
    cloud_app.routers.create(CLOUD, "r1", gateway="public")
    cloud_app.networks.create(CLOUD, "routed", "10.1.0.0/24", router="r1")
    cloud_app.networks.create(CLOUD, "isolated", "10.2.0.0/24")
    cloud_app.clusters.add(CLOUD, "C")
    return cloud_app


def create(app, name: str, network: str = "routed", **kw):
    return app.instances.create(CLOUD, name, "cirros", "m1.tiny", network, **kw)


def test_create(lab, fresh_driver, reopen) -> None:
    vm = create(lab, "vm", cluster="C")
    assert (vm.status, vm.private_ip, vm.security_groups, vm.cluster, vm.owned) == (
        "ACTIVE", "10.1.0.2", ["default"], "C", True)
    assert create(lab, "vm2", fixed_ip="10.1.0.50").private_ip == "10.1.0.50"
    assert create(lab, "vm3").private_ip == "10.1.0.3"
    servers = {s.name: s for s in fresh_driver(lab).list_servers()}
    assert servers["vm"].cluster == "C" and servers["vm2"].private_ip == "10.1.0.50"
    assert [i.name for i in reopen(lab).instances.all()] == ["vm", "vm2", "vm3"]


def test_create_refusals(lab, fresh_driver) -> None:
    create(lab, "vm")
    with pytest.raises(ValidationError) as err:
        create(lab, "bad name")
    assert NAME_RULE in str(err.value)
    with pytest.raises(ValidationError, match="exists already"):
        create(lab, "vm")
    with pytest.raises(ValidationError, match="no cluster"):
        create(lab, "x", cluster="Nope")
    with pytest.raises(NotFoundError, match="image"):
        lab.instances.create(CLOUD, "x", "windows", "m1.tiny", "routed")
    with pytest.raises(NotFoundError, match="flavor"):
        lab.instances.create(CLOUD, "x", "cirros", "m9.huge", "routed")
    with pytest.raises(NotFoundError, match="network"):
        create(lab, "x", network="nope")
    with pytest.raises(ValidationError, match="external network"):
        create(lab, "x", network="public")
    with pytest.raises(ValidationError, match="not in routed"):
        create(lab, "x", fixed_ip="10.9.0.5")
    with pytest.raises(ValidationError, match="invalid IP address"):
        create(lab, "x", fixed_ip="10.1.0.999")
    with pytest.raises(NotFoundError, match="security group"):
        create(lab, "x", security_group="nope")
    assert [s.name for s in fresh_driver(lab).list_servers()] == ["vm"]


def ssh_groups(fresh_driver, app):
    return [g for g in fresh_driver(app).list_security_groups() if g.name == "public_ssh"]


def test_public_ssh_created_once_per_cloud(lab, fresh_driver) -> None:
    vm = create(lab, "vm", security_group="public_ssh")
    assert vm.security_groups == ["public_ssh"]
    create(lab, "vm2", security_group="public_ssh")
    (group,) = ssh_groups(fresh_driver, lab)
    assert group.owned
    assert sorted((r.direction, r.protocol, r.port_min, r.port_max, r.ethertype)
                  for r in group.rules) == [("ingress", "tcp", 22, 22, "IPv4"),
                                            ("ingress", "tcp", 22, 22, "IPv6")]
    lab.clouds.add("Other", "stub")
    lab.networks.create("Other", "n", "10.1.0.0/24")
    lab.instances.create("Other", "vm", "cirros", "m1.tiny", "n", security_group="public_ssh")
    other = [g for g in lab.make_driver_for(lab.clouds.get("Other")).list_security_groups()
             if g.name == "public_ssh"]
    assert len(other) == 1


def test_power_actions(lab, fresh_driver, reopen) -> None:
    vm = create(lab, "vm")
    with pytest.raises(ValidationError, match="running already"):
        lab.instances.start(vm)
    vm = lab.instances.stop(vm)
    assert vm.status == "SHUTOFF"
    assert fresh_driver(lab).list_servers()[0].status == "SHUTOFF"
    assert reopen(lab).instances.all()[0].status == "SHUTOFF"
    with pytest.raises(ValidationError, match="stopped already"):
        lab.instances.stop(vm)
    with pytest.raises(ValidationError, match="start it instead"):
        lab.instances.reboot(vm)
    vm = lab.instances.start(vm)
    assert vm.status == "ACTIVE"
    assert lab.instances.reboot(vm).status == "ACTIVE"


def test_remove_releases_an_allocated_ip(lab, fresh_driver, reopen) -> None:
    vm = create(lab, "vm")
    assert lab.access.assign_public_ip(vm).owned
    lab.instances.remove(lab.instances.all()[0])
    snap = fresh_driver(lab).snapshot()
    assert snap.instances == [] and snap.public_ips == []
    again = reopen(lab)
    assert again.instances.all() == [] and again.public_ips.public_ips() == []


def test_remove_gives_back_a_foreign_ip(lab, fresh_driver, reopen) -> None:
    external = lab.routers.find("network", "public")
    lab.driver(CLOUD).seed_public_ip(external.id, "203.0.113.99")
    lab.sync.refresh()
    vm = create(lab, "vm")
    fip = lab.access.assign_public_ip(vm)
    assert (fip.name, fip.owned) == ("203.0.113.99", False)
    assert [c.name for c in lab.inventory.cache.all("change")] == ["association"]
    lab.instances.remove(lab.instances.all()[0])
    (left,) = fresh_driver(lab).list_public_ips()
    assert (left.name, left.instance_id) == ("203.0.113.99", None)
    assert [(f.name, f.instance_id) for f in reopen(lab).public_ips.public_ips()] == [
        ("203.0.113.99", None)]
    assert lab.inventory.cache.all("change") == []


def test_remove_foreign_instance_refused(lab, fresh_driver) -> None:
    from minicloud.drivers.base import ServerSpec

    net = lab.routers.find("network", "isolated")
    lab.driver(CLOUD).seed_server(ServerSpec("theirs", "image-cirros", "flavor-m1.tiny", net.id))
    lab.sync.refresh()
    with pytest.raises(ValidationError, match="did not create instance theirs"):
        lab.instances.remove(lab.instances.all()[0])
    assert [s.name for s in fresh_driver(lab).list_servers()] == ["theirs"]


def test_connect_reuses_a_free_public_ip(lab, fresh_driver) -> None:
    first = create(lab, "first")
    fip = lab.access.assign_public_ip(first)
    lab.instances.remove(lab.instances.all()[0])  # releases it: allocate another free one
    external = lab.routers.find("network", "public")
    free = lab.driver(CLOUD).allocate_public_ip(external.id, "203.0.113.40")
    lab.sync.refresh()
    vm = create(lab, "vm")
    plan = lab.access.connect(vm)
    assert plan.address == "203.0.113.40" and fip.name != plan.address
    assert [f.id for f in fresh_driver(lab).list_public_ips()] == [free.id]  # none allocated
    assert plan.command == ["ssh", "cirros@203.0.113.40"]
    assert plan.user == "cirros" and plan.runnable is False


def test_connect_allocates_when_none_is_free(lab, fresh_driver, reopen) -> None:
    vm = create(lab, "vm")
    plan = lab.access.connect(vm)
    (fip,) = fresh_driver(lab).list_public_ips()
    assert fip.owned and fip.instance_id == vm.id and plan.address == fip.name
    assert [f.name for f in reopen(lab).public_ips.public_ips()] == [fip.name]
    again = lab.access.connect(lab.instances.all()[0])  # a second connect reuses it
    assert again.address == fip.name
    assert len(fresh_driver(lab).list_public_ips()) == 1


def test_connect_adds_public_ssh_only_when_needed(lab, fresh_driver) -> None:
    vm = create(lab, "vm")
    plan = lab.access.connect(vm)
    assert plan.instance.security_groups == ["default", "public_ssh"]
    assert fresh_driver(lab).list_servers()[0].security_groups == ["default", "public_ssh"]
    lab.access.connect(lab.instances.all()[0])
    assert len(ssh_groups(fresh_driver, lab)) == 1
    # a group that already lets TCP 22 in: nothing is added
    driver = lab.driver(CLOUD)
    web = driver.create_security_group("web")
    driver.add_security_group_rule(web.id, SecurityRule("ingress", "tcp", 20, 30))
    lab.sync.refresh()
    other = create(lab, "other", security_group="web")
    plan = lab.access.connect(other)
    assert plan.instance.security_groups == ["web"]
    assert {s.name: s.security_groups for s in fresh_driver(lab).list_servers()}["other"] == [
        "web"]


def test_connect_on_a_network_with_no_route_uses_the_private_ip(lab, fresh_driver) -> None:
    vm = create(lab, "vm", network="isolated")
    plan = lab.access.connect(vm)
    assert plan.address == vm.private_ip == "10.2.0.2"
    assert fresh_driver(lab).list_public_ips() == []
    assert lab.public_ips.public_ips() == []
    with pytest.raises(ValidationError, match="no network routed"):
        lab.access.assign_public_ip(vm)


def test_connect_uses_the_configured_ssh(lab) -> None:
    lab.config.ssh_command = ["myssh", "-v"]
    plan = lab.access.connect(create(lab, "vm", network="isolated"))
    assert plan.command == ["myssh", "-v", "cirros@10.2.0.2"]
    assert lab.access.connect(lab.instances.all()[0], user="root").command[-1] == \
        "root@10.2.0.2"


def test_assign_requested_address(lab) -> None:
    vm = create(lab, "vm")
    fip = lab.access.assign_public_ip(vm, "203.0.113.77")
    assert fip.name == "203.0.113.77"
    assert lab.access.assign_public_ip(lab.instances.all()[0]) == fip
    with pytest.raises(ValidationError, match="has public IP"):
        lab.access.assign_public_ip(lab.instances.all()[0], "203.0.113.78")


def test_security_groups_change_in_place_and_reset_gives_back_what_was_removed(
        lab, fresh_driver) -> None:
    """A group added and one removed keep the server; on a server MiniCloud did not create,
    Reset takes the added group off and gives the removed one back."""
    from minicloud.drivers.base import ServerSpec

    vm = create(lab, "vm")
    vm = lab.access.add_security_group(vm, "public_ssh")
    vm = lab.access.remove_security_group(vm, "default")
    assert vm.security_groups == ["public_ssh"]
    assert lab.access.remove_security_group(vm, "default") == vm  # not there: nothing
    assert {s.name: s.security_groups for s in fresh_driver(lab).list_servers()}["vm"] == [
        "public_ssh"]
    driver = lab.make_driver_for(lab.clouds.get(CLOUD))
    network = driver.seed_network("theirs", "10.50.0.0/24")
    server = driver.seed_server(ServerSpec("theirs", "image-cirros", "flavor-m1.tiny",
                                           network.id))
    driver.get_server(server.id)  # settles BUILD
    driver.close()
    lab.sync.refresh()
    theirs = lab.instances.find("instance", "theirs", CLOUD)
    theirs = lab.access.add_security_group(theirs, "public_ssh")
    theirs = lab.access.remove_security_group(theirs, "default")
    assert theirs.security_groups == ["public_ssh"]
    assert lab.resetter.reset().failures == []
    servers = {s.name: s for s in fresh_driver(lab).list_servers()}
    assert "vm" not in servers and servers["theirs"].security_groups == ["default"]
