"""The demo deployment (DESIGN.md section 4b): built once, and exactly the reference tree."""

from __future__ import annotations

from minicloud.managers.demo import CLOUD, build_demo
from minicloud.render.topology import render_text
from tests.reference import REFERENCE_TREE

# DESIGN.md section 4, byte for byte.
REFERENCE = REFERENCE_TREE


def tree(app) -> str:
    return render_text(app.inventory.cache.deployment())


def test_demo_builds_the_reference_tree(app) -> None:
    assert build_demo(app) is True
    assert tree(app) == REFERENCE


def test_demo_survives_a_restart(demo_app, reopen) -> None:
    assert tree(reopen(demo_app)) == REFERENCE


def test_second_call_changes_nothing(demo_app, snapshot_state) -> None:
    before = snapshot_state(demo_app)
    assert build_demo(demo_app) is False
    assert snapshot_state(demo_app) == before
    assert tree(demo_app) == REFERENCE


def test_demo_is_not_built_over_other_clouds(app) -> None:
    app.clouds.add("Mine", "stub")
    assert build_demo(app) is False
    assert [c.name for c in app.clouds.all()] == ["Mine"]


def test_demo_objects(demo_app, fresh_driver) -> None:
    cloud = demo_app.clouds.get(CLOUD)
    assert (cloud.type, cloud.location) == ("stub", "trystack.org")
    snap = fresh_driver(demo_app, CLOUD).snapshot()
    nets = {n.name: n for n in snap.networks}
    external = nets["external"]
    assert external.external and not external.owned
    assert [(s.name, s.cidr) for s in external.subnets] == [("trystack", "8.21.28.0/24")]
    assert nets["LondonNet"].owned and nets["AntwerpNet"].owned
    (router,) = snap.routers
    assert router.name == "LondonGateway" and router.owned
    assert router.gateway_network_id == external.id
    assert router.interface_network_ids == [nets["LondonNet"].id]
    servers = {s.name: s for s in snap.instances}
    assert {n: (s.image, s.flavor, s.cluster, s.private_ip, s.security_groups, s.status)
            for n, s in servers.items()} == {
        "Bourla": ("cirros", "m1.tiny", "Antwerp", "10.10.1.12", ["default"], "ACTIVE"),
        "Tower": ("cirros", "m1.tiny", "London", "10.10.2.5", ["public_ssh"], "ACTIVE"),
        "Ben": ("cirros", "m1.tiny", "London", "10.10.2.6", ["default"], "ACTIVE"),
    }
    (fip,) = snap.public_ips
    assert (fip.name, fip.instance_id, fip.owned) == ("8.21.28.30", servers["Tower"].id, True)
    groups = {g.name: g for g in snap.security_groups}
    assert set(groups) == {"default", "public_ssh"}
    assert groups["public_ssh"].owned and not groups["default"].owned
