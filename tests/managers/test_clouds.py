"""Clouds and clusters; refresh; reset and destroy (DESIGN.md section 3)."""

from __future__ import annotations

import pytest

from minicloud.drivers import DRIVERS
from minicloud.drivers.base import ServerSpec
from minicloud.model.errors import DriverError, InUseError, NotFoundError, ValidationError
from minicloud.model.objects import NAME_RULE, Cloud
from minicloud.render.topology import EMPTY, render_text
from tests.faults import Faults
from tests.reference import AFTER_RESET_TREE

CLOUD = "Lab"


# -- clouds ------------------------------------------------------------------------------------

def test_add_stub_cloud(app, reopen) -> None:
    cloud = app.clouds.add(CLOUD, "stub", "the lab")
    assert (cloud.name, cloud.type, cloud.location, cloud.reachable) == (CLOUD, "stub",
                                                                        "the lab", True)
    nets = app.networks.all(CLOUD)
    assert [(n.name, n.cidrs, n.external, n.owned) for n in nets] == [
        ("public", ["203.0.113.0/24"], True, False)]
    assert [(g.name, g.owned) for g in app.inventory.cache.all("security_group", CLOUD)] == [
        ("default", False)]
    assert [i.name for i in app.clouds.images(CLOUD)] == ["cirros", "ubuntu"]
    assert [f.name for f in app.clouds.flavors(CLOUD)] == ["m1.tiny", "m1.small", "m1.medium"]
    again = reopen(app)
    assert [c.name for c in again.clouds.all()] == [CLOUD]
    assert [n.name for n in again.networks.all()] == ["public"]


def test_add_with_external_network_settings(app) -> None:
    app.clouds.add(CLOUD, "stub", "", {"external_network": "ext", "external_cidr":
                                       "198.51.100.0/24", "external_subnet": "ext-sub"})
    (net,) = app.networks.all(CLOUD)
    assert (net.name, net.cidrs, net.subnets[0].name) == ("ext", ["198.51.100.0/24"],
                                                          "ext-sub")


@pytest.mark.parametrize("name", ["", "bad name", "-lead", "x" * 65, "a/b"])
def test_cloud_name_rule(app, name: str) -> None:
    with pytest.raises(ValidationError) as err:
        app.clouds.add(name, "stub")
    assert NAME_RULE in str(err.value)
    assert app.clouds.all() == []


def test_cloud_refusals(app) -> None:
    app.clouds.add(CLOUD, "stub")
    with pytest.raises(ValidationError, match="exists already"):
        app.clouds.add(CLOUD, "stub")
    with pytest.raises(ValidationError, match="unknown cloud type"):
        app.clouds.add("Other", "azure")
    with pytest.raises(ValidationError, match="too long"):
        app.clouds.add("Other", "stub", "x" * 256)
    with pytest.raises(NotFoundError):
        app.clouds.get("Nope")
    assert [c.name for c in app.clouds.all()] == [CLOUD]
    assert app.clouds.types() == sorted(DRIVERS)  # every registered type, by name


def test_update_location(cloud_app, reopen) -> None:
    assert cloud_app.clouds.update(CLOUD, "moved").location == "moved"
    assert reopen(cloud_app).clouds.get(CLOUD).location == "moved"
    with pytest.raises(ValidationError):
        cloud_app.clouds.update(CLOUD, "y" * 256)


def test_remove_cloud(cloud_app, reopen, fresh_driver) -> None:
    cloud_app.clusters.add(CLOUD, "C")
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    text = cloud_app.clouds.remove(CLOUD)
    assert text == f"cloud {CLOUD} forgotten; its resources stay in the cloud"
    assert cloud_app.clouds.all() == []
    again = reopen(cloud_app)
    assert again.clouds.all() == []
    for kind in ("network", "cluster", "security_group", "image"):
        assert again.inventory.cache.all(kind) == []
    # As for any cloud, what it holds stays where it is, and adding it again finds it.
    cloud = again.make_driver_for(Cloud(CLOUD, "stub"))
    assert sorted(n.name for n in cloud.list_networks()) == ["n1", "public"]
    again.clouds.add(CLOUD, "stub")
    assert [(n.name, n.owned) for n in again.networks.all(CLOUD)] == [("n1", True),
                                                                     ("public", False)]
    assert [g.name for g in again.inventory.cache.all("security_group", CLOUD)] == ["default"]


# -- clusters ----------------------------------------------------------------------------------

def test_clusters(cloud_app, reopen) -> None:
    cloud_app.clusters.add(CLOUD, "London")
    cloud_app.clusters.add(CLOUD, "Antwerp")
    assert [c.name for c in cloud_app.clusters.all(CLOUD)] == ["Antwerp", "London"]
    with pytest.raises(ValidationError, match="exists already"):
        cloud_app.clusters.add(CLOUD, "London")
    with pytest.raises(ValidationError) as err:
        cloud_app.clusters.add(CLOUD, "no spaces")
    assert NAME_RULE in str(err.value)
    with pytest.raises(NotFoundError):
        cloud_app.clusters.add("Nope", "X")
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    cloud_app.instances.create(CLOUD, "vm", "cirros", "m1.tiny", "n1", cluster="London")
    with pytest.raises(InUseError, match="vm"):
        cloud_app.clusters.remove(CLOUD, "London")
    cloud_app.clusters.remove(CLOUD, "Antwerp")
    with pytest.raises(NotFoundError):
        cloud_app.clusters.remove(CLOUD, "Antwerp")
    assert [c.name for c in reopen(cloud_app).clusters.all(CLOUD)] == ["London"]


# -- refresh -----------------------------------------------------------------------------------

def test_refresh_drops_what_was_deleted_behind_our_back(cloud_app, fresh_driver, notices,
                                                       reopen) -> None:
    net = cloud_app.networks.create(CLOUD, "gone", "10.1.0.0/24")
    fresh_driver(cloud_app).delete_network(net.id)
    notices.clear()
    assert cloud_app.sync.refresh() == []
    assert "gone" not in {n.name for n in cloud_app.networks.all()}
    assert "gone" not in {n.name for n in reopen(cloud_app).networks.all()}
    assert notices == [f"network gone is no longer in cloud {CLOUD}: dropped"]


def test_refresh_adopts_owned_objects_created_behind_our_back(cloud_app, fresh_driver,
                                                             notices, reopen) -> None:
    fresh_driver(cloud_app).create_network("stray", "10.2.0.0/24")
    notices.clear()
    assert cloud_app.sync.refresh(CLOUD) == []
    (stray,) = [n for n in cloud_app.networks.all() if n.name == "stray"]
    assert stray.owned
    assert "stray" in {n.name for n in reopen(cloud_app).networks.all()}
    assert notices == [f"network stray in cloud {CLOUD} was created by MiniCloud but not "
                       "recorded: adopted"]


def test_refresh_after_restart_sees_changes(cloud_app, fresh_driver, reopen, notices) -> None:
    net = cloud_app.networks.create(CLOUD, "gone", "10.1.0.0/24")
    fresh_driver(cloud_app).delete_network(net.id)
    again = reopen(cloud_app, notices.append)
    assert again.sync.refresh() == []
    assert "gone" not in {n.name for n in again.networks.all()}


def test_unreachable_cloud_keeps_its_last_known_state(cloud_app, reopen) -> None:
    cloud_app.networks.create(CLOUD, "n1", "10.1.0.0/24")
    with Faults({"list_networks": None}).installed(cloud_app):
        failures = cloud_app.sync.refresh()
        assert len(failures) == 1 and CLOUD in failures[0]
        assert "last known state" in failures[0]
        assert cloud_app.clouds.get(CLOUD).reachable is False
        assert reopen(cloud_app).clouds.get(CLOUD).reachable is False
        assert {n.name for n in cloud_app.networks.all()} == {"n1", "public"}
        assert "Cloud: Lab (the lab) (unreachable)" in render_text(
            cloud_app.inventory.cache.deployment())
    assert cloud_app.sync.refresh() == []
    assert cloud_app.clouds.get(CLOUD).reachable is True
    assert reopen(cloud_app).clouds.get(CLOUD).reachable is True
    assert {n.name for n in cloud_app.networks.all()} == {"n1", "public"}


def test_unreachable_at_first_use_in_a_session(cloud_app, reopen) -> None:
    again = reopen(cloud_app)
    with Faults({"list_networks": None}).installed(again):
        with pytest.raises(DriverError, match="list networks"):
            again.sync.use(CLOUD)
        assert again.clouds.get(CLOUD).reachable is False
    again.sync.use(CLOUD)
    assert again.clouds.get(CLOUD).reachable is True


def test_a_write_does_not_read_its_whole_cloud_first(cloud_app, reopen) -> None:
    again = reopen(cloud_app)
    lists = ("list_networks", "list_routers", "list_servers", "list_public_ips",
             "list_security_groups")
    with Faults(dict.fromkeys(lists)).installed(again):
        again.networks.create(CLOUD, "n1", "10.1.0.0/24")
    assert [n.name for n in reopen(cloud_app).networks.all(CLOUD)] == ["n1", "public"]


# -- reset -------------------------------------------------------------------------------------

def seeded_app(app):
    """A Stub cloud that held things before MiniCloud was pointed at it."""
    pre = app.make_driver_for(Cloud(CLOUD, "stub", "the lab"))
    pre.setup()
    external = next(n for n in pre.list_networks() if n.external)
    legacy = pre.seed_network("legacy", "10.50.0.0/24")
    pre.seed_router("corp")
    pre.seed_router("edge", external.id)
    pre.seed_server(ServerSpec("theirs", "image-cirros", "flavor-m1.tiny", legacy.id))
    pre.seed_public_ip(external.id, "203.0.113.77")
    app.clouds.add(CLOUD, "stub", "the lab")
    app.clusters.add(CLOUD, "C")
    return app


def make_changes(app) -> None:
    """Everything MiniCloud can do, to owned and to pre-existing things."""
    corp = app.routers.find("router", "corp", CLOUD)
    app.routers.set_gateway(corp, "public")
    app.networks.create(CLOUD, "mine", "10.60.0.0/24", router="corp")
    app.networks.create(CLOUD, "mine2", "10.61.0.0/24", router="edge")
    app.routers.create(CLOUD, "own", gateway="public")
    app.networks.create(CLOUD, "mine3", "10.62.0.0/24", router="own")
    web = app.instances.create(CLOUD, "web", "cirros", "m1.tiny", "mine", cluster="C")
    fip = app.access.assign_public_ip(web)
    assert fip.name == "203.0.113.77" and not fip.owned  # the pre-existing free IP, reused
    db = app.instances.create(CLOUD, "db", "cirros", "m1.tiny", "mine3",
                              security_group="public_ssh")
    assert app.access.assign_public_ip(db).owned  # none free: allocated
    app.access.connect(app.instances.create(CLOUD, "app", "ubuntu", "m1.small", "mine2"))
    # a key pair of MiniCloud's (Stub clouds get none on instance create): a sync does not
    # read key pairs (they cost a request and matter only to create and reset); reset lists them
    app.driver(CLOUD).create_keypair("minicloud-me", "ssh-ed25519 A")
    assert app.sync.refresh() == []
    assert app.inventory.cache.all("keypair", CLOUD) == []


def test_reset_undoes_only_what_minicloud_did(app, snapshot_state, fresh_driver,
                                              reopen) -> None:
    seeded_app(app)
    baseline = snapshot_state(app, versions=False)
    make_changes(app)
    assert snapshot_state(app, versions=False) != baseline
    report = app.resetter.reset()
    assert report.failures == []
    assert report.undone
    after = snapshot_state(app, versions=False)
    assert after == baseline
    snap = fresh_driver(app).snapshot()
    routers = {r.name: r for r in snap.routers}
    assert set(routers) == {"corp", "edge"}
    assert routers["corp"].gateway_network_id is None
    assert routers["corp"].interface_network_ids == []
    assert routers["edge"].gateway_network_id is not None  # its own gateway stays
    assert [s.name for s in snap.instances] == ["theirs"]
    assert [(f.name, f.instance_id) for f in snap.public_ips] == [("203.0.113.77", None)]
    assert {n.name for n in snap.networks} == {"public", "legacy"}
    assert {g.name for g in snap.security_groups} == {"default"}
    assert fresh_driver(app).list_keypairs() == []
    again = reopen(app)
    assert [c.name for c in again.clouds.all()] == [CLOUD]
    assert [c.name for c in again.clusters.all(CLOUD)] == ["C"]
    assert again.inventory.cache.all("change") == []


def test_reset_of_the_demo(demo_app, reopen) -> None:
    report = demo_app.resetter.reset()
    assert report.failures == []
    expected = AFTER_RESET_TREE
    assert render_text(demo_app.inventory.cache.deployment()) == expected
    assert render_text(reopen(demo_app).inventory.cache.deployment()) == expected


def test_reset_twice_is_harmless(demo_app) -> None:
    demo_app.resetter.reset()
    report = demo_app.resetter.reset()
    assert report.failures == [] and report.undone == []


def test_destroy_leaves_a_first_start(demo_app, reopen) -> None:
    report = demo_app.resetter.destroy()
    assert report.failures == []
    again = reopen(demo_app)
    assert again.clouds.all() == []
    assert render_text(again.inventory.cache.deployment()) == EMPTY + "\n"
    # Destroy is Reset, then forget: the cloud keeps what it had before MiniCloud.
    cloud = again.make_driver_for(Cloud("TryStack", "stub"))
    assert [(n.name, n.external, n.owned) for n in cloud.list_networks()] == [
        ("external", True, False)]
    assert cloud.list_servers() == [] and cloud.list_routers() == []
    assert [g.name for g in cloud.list_security_groups()] == ["default"]
    # and the first start can build again, on a whole cloud
    again.clouds.add("TryStack", "stub")
    assert [(n.name, n.cidrs) for n in again.networks.all()] == [("external",
                                                                  ["8.21.28.0/24"])]
    assert [g.name for g in again.inventory.cache.all("security_group")] == ["default"]
    again.networks.create("TryStack", "n1", "10.1.0.0/24")
    vm = again.instances.create("TryStack", "vm", "cirros", "m1.tiny", "n1")  # group default
    assert vm.security_groups == ["default"]


def test_refresh_sees_what_another_operator_committed(app, reopen) -> None:
    other = reopen(app)  # a second MiniCloud on the same store
    other.clouds.add("Second", "stub", "elsewhere")
    assert [c.name for c in app.clouds.all()] == []  # not yet: this one reads its cache
    assert app.sync.refresh() == []
    assert [c.name for c in app.clouds.all()] == ["Second"]
