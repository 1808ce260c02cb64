"""Managers over the OpenStack driver (offline fake): what a Stub cloud cannot show."""

from __future__ import annotations

from pathlib import Path

import pytest

from minicloud.app import MiniCloud
from minicloud.config import Config
from minicloud.state.store import Store
from tests.backends import seeded_url
from tests.drivers.fake_openstack import CLOUD_SETTINGS, PASSWORD, fake_openstack_driver


def test_ctrl_c_while_a_server_boots_leaves_no_orphan(tmp_path: Path) -> None:
    seen: list[str] = []
    armed: list[bool] = []  # interrupt from the first wait after it is armed

    def interrupt(text: str) -> None:
        if armed:
            seen.append(text)
            raise KeyboardInterrupt  # the user presses Ctrl-C while waiting

    with fake_openstack_driver(Store(seeded_url(tmp_path / "fake.db")).open()) as (_, fake):
        # The session's drivers report long waits to the observer the app is built with.
        app = MiniCloud(Config(home=tmp_path, db_url=seeded_url(tmp_path / "mc.db")),
                        progress=interrupt).open()
        app.clouds.add("os1", "openstack", "", dict(CLOUD_SETTINGS), PASSWORD)
        app.networks.create("os1", "n1", "10.0.0.0/24")
        fake.build_gets = 1000  # the server stays in BUILD: MiniCloud waits and reports
        armed.append(True)
        with pytest.raises(KeyboardInterrupt):
            app.instances.create("os1", "vm", "cirros", "m1.tiny", "n1")
        assert seen and "vm: BUILD" in seen[0]
        assert fake.servers == {}  # the half-made server was deleted
        assert [p for p in fake.ports.values() if p["device_owner"].startswith("compute")] == []
        assert app.instances.all("os1") == []
        app.close()
        again = MiniCloud(Config(home=tmp_path, db_url=seeded_url(tmp_path / "mc.db"))).open()
        assert again.instances.all("os1") == []
        again.close()


def test_a_whole_deployment_on_openstack(tmp_path: Path) -> None:
    """The demo's shape on an OpenStack cloud, then reset: only MiniCloud's work is undone."""
    with fake_openstack_driver(Store(seeded_url(tmp_path / "fake.db")).open()) as (_, fake):
        outside = fake.add_network("theirs")
        fake.add_subnet(outside["id"], "theirs-subnet", "10.99.0.0/24")
        foreign = fake.add_server("not-ours", [outside["id"]])
        app = MiniCloud(Config(home=tmp_path, db_url=seeded_url(tmp_path / "mc.db"))).open()
        app.clouds.add("os1", "openstack", "example.com", dict(CLOUD_SETTINGS), PASSWORD)
        app.clusters.add("os1", "London")
        app.routers.create("os1", "gw", gateway="public")
        app.networks.create("os1", "LondonNet", "10.10.2.0/24", router="gw")
        vm = app.instances.create("os1", "Tower", "cirros", "m1.tiny", "LondonNet",
                                  cluster="London", fixed_ip="10.10.2.5")
        plan = app.access.connect(vm)
        assert plan.runnable and plan.command[-1] == f"cirros@{plan.address}"
        fip = next(f for f in fake.floating_ips.values() if f["floating_ip_address"]
                   == plan.address)
        assert fip["floating_network_id"] == fake.network_named("public")["id"]
        groups = [g for g in fake.security_groups.values() if g["name"] == "public_ssh"]
        assert len(groups) == 1
        report = app.resetter.reset()
        assert report.failures == []
        assert set(fake.servers) == {foreign["id"]}
        assert {n["name"] for n in fake.networks.values()} == {"public", "theirs"}
        assert fake.routers == {} and fake.floating_ips == {}
        assert {g["name"] for g in fake.security_groups.values()} == {"default"}
        assert [c.name for c in app.clusters.all("os1")] == ["London"]
        app.close()


def test_a_cluster_named_like_an_availability_zone_places_servers_there(tmp_path: Path) -> None:
    with fake_openstack_driver(Store(seeded_url(tmp_path / "fake.db")).open()) as (_, fake):
        fake.zones = ["nova", "London"]
        app = MiniCloud(Config(home=tmp_path, db_url=seeded_url(tmp_path / "mc.db"))).open()
        app.clouds.add("os1", "openstack", "", dict(CLOUD_SETTINGS), PASSWORD)
        for cluster in ("London", "Antwerp"):
            app.clusters.add("os1", cluster)
        app.networks.create("os1", "n1", "10.0.0.0/24")
        app.instances.create("os1", "in-zone", "cirros", "m1.tiny", "n1", cluster="London")
        app.instances.create("os1", "label-only", "cirros", "m1.tiny", "n1", cluster="Antwerp")
        zone = {s["name"]: s["OS-EXT-AZ:availability_zone"] for s in fake.servers.values()}
        assert zone["in-zone"] == "London"
        assert zone["label-only"] == "nova"  # no zone of that name: a label only
        assert {s["name"]: s["metadata"].get("minicloud_cluster")
                for s in fake.servers.values()} == {"in-zone": "London",
                                                     "label-only": "Antwerp"}
        app.close()
