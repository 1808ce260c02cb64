"""The cache: warm reads never reach a driver; the cache follows the store, after commit."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from minicloud.drivers.base import Driver
from minicloud.drivers.stub.driver import StubDriver
from minicloud.managers.demo import build_demo
from minicloud.model.errors import NotFoundError, StoreError
from minicloud.model.objects import Cloud, Network, Subnet
from minicloud.render.topology import render_text
from minicloud.state.cache import Cache, Inventory, clone
from minicloud.state.store import Store, Table


@pytest.fixture
def driver_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every call of every StubDriver method (and every driver built), counted."""
    calls: Counter[str] = Counter()
    names = {n for n in dir(Driver) if not n.startswith("_") and callable(getattr(Driver, n))}
    names |= {n for n in vars(StubDriver) if n.startswith("seed_")}
    for name in names:
        original = getattr(StubDriver, name)

        def counted(self: Any, *args: Any, __name: str = name, __orig: Any = original,
                    **kwargs: Any) -> Any:
            calls[__name] += 1
            return __orig(self, *args, **kwargs)

        monkeypatch.setattr(StubDriver, name, counted)
    original_init = StubDriver.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        calls["__init__"] += 1
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(StubDriver, "__init__", init)
    return calls


def test_warm_reads_make_no_driver_call(app, reopen, driver_calls) -> None:
    build_demo(app)
    assert driver_calls["create_server"] == 3  # the counting proxy does see driver calls
    driver_calls.clear()
    fresh = reopen(app)
    tree = render_text(fresh.inventory.cache.deployment())
    assert "Instance: Tower [10.10.2.5]" in tree
    assert [c.name for c in fresh.clouds.all()] == ["TryStack"]
    assert [c.name for c in fresh.clusters.all()] == ["Antwerp", "London"]
    assert {n.name for n in fresh.networks.all()} == {"AntwerpNet", "LondonNet", "external"}
    assert [r.name for r in fresh.routers.all()] == ["LondonGateway"]
    assert [i.name for i in fresh.instances.all()] == ["Ben", "Bourla", "Tower"]
    assert [f.name for f in fresh.public_ips.public_ips()] == ["8.21.28.30"]
    assert [i.name for i in fresh.clouds.images("TryStack")] == ["cirros", "ubuntu"]
    assert [f.name for f in fresh.clouds.flavors("TryStack")] == ["m1.tiny", "m1.small",
                                                                  "m1.medium"]
    tower = fresh.routers.find("instance", "Tower")
    assert fresh.access.public_ip_of(tower).name == "8.21.28.30"
    assert fresh.instances.network_names(tower) == ["LondonNet"]
    assert render_text(fresh.inventory.cache.deployment()) == tree
    assert sum(driver_calls.values()) == 0, driver_calls
    assert fresh.session.drivers.built() == []


def test_a_write_does_not_sync_and_a_menu_syncs_a_cloud_once(app, reopen, driver_calls) -> None:
    build_demo(app)
    fresh = reopen(app)
    driver_calls.clear()
    fresh.networks.create("TryStack", "Extra", "10.10.9.0/24")
    assert driver_calls["list_networks"] == 0  # a write reads only what it depends on
    fresh.sync.use("TryStack")  # the menu's first use of the cloud
    fresh.networks.create("TryStack", "Extra2", "10.10.8.0/24")
    fresh.sync.use("TryStack")
    assert driver_calls["list_networks"] == 1  # the first use syncs; the second does not
    assert driver_calls["create_network"] == 2


def _net(name: str = "n", ident: str = "id-1") -> Network:
    return Network("Lab", ident, name, owned=True,
                   subnets=[Subnet("s", f"{name}-subnet", "10.0.0.0/24", "10.0.0.1")])


@pytest.fixture
def inventory(db_url: str):
    store = Store(db_url).open()
    yield Inventory(store)
    store.close()


def test_write_reaches_the_cache_only_after_commit(inventory: Inventory,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    original = Table.put

    def spy(self: Table, key: str, cloud: str, data: dict, expected: int | None = None) -> int:
        seen.append(inventory.cache.get("network", "Lab", "id-1"))
        return original(self, key, cloud, data, expected)

    monkeypatch.setattr(Table, "put", spy)
    with inventory.write() as tx:
        tx.put(_net())
        assert inventory.cache.get("network", "Lab", "id-1") is None
    assert seen == [None]
    cached = inventory.cache.get("network", "Lab", "id-1")
    assert cached.name == "n" and cached.version == 1


def test_failing_store_write_leaves_the_cache_unchanged(inventory: Inventory,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with inventory.write() as tx:
        tx.put(_net("old", "id-0"))
    before = inventory.cache.all("network")
    original = Table.put
    count = {"n": 0}

    def failing(self: Table, *args: Any, **kwargs: Any) -> int:
        count["n"] += 1
        if count["n"] == 2:
            raise StoreError("store: disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Table, "put", failing)
    gone = inventory.cache.get("network", "Lab", "id-0")
    generations = dict(inventory.generations)
    with pytest.raises(StoreError), inventory.write() as tx:
        tx.delete(gone)
        tx.put(_net("a", "id-1"))
        tx.put(_net("b", "id-2"))
    assert inventory.cache.all("network") == before
    # Nor the generation it holds (a view saved under it would show a write that never was).
    assert inventory.generations == generations
    monkeypatch.undo()
    inventory.reload()  # and nothing of it reached the store either
    assert [(n.name, n.version) for n in inventory.cache.all("network")] == [("old", 1)]


def test_failing_store_write_in_a_manager_undoes_the_cloud(cloud_app, fresh_driver,
                                                           snapshot_state,
                                                           monkeypatch) -> None:
    before = snapshot_state(cloud_app)
    original = Table.put

    def failing(self: Table, *args: Any, **kwargs: Any) -> int:
        if self.name == "networks":
            raise StoreError("store: disk full")
        return original(self, *args, **kwargs)

    original_many = Table.put_many

    def failing_many(self: Table, *args: Any, **kwargs: Any) -> dict[str, int]:
        if self.name == "networks":
            raise StoreError("store: disk full")
        return original_many(self, *args, **kwargs)

    monkeypatch.setattr(Table, "put", failing)
    monkeypatch.setattr(Table, "put_many", failing_many)
    with pytest.raises(StoreError):
        cloud_app.networks.create("Lab", "n1", "10.1.0.0/24")
    monkeypatch.undo()
    after = snapshot_state(cloud_app)
    # The settle's commit failed: its intent stays pending (DESIGN.md section 1), for the next
    # write or refresh to settle as the cloud shows it; everything else is as before.
    assert [json.loads(i)["name"] for i in after["store"].pop("intent")] == [
        "create network n1"]
    before["store"].pop("intent")
    assert after == before
    assert "n1" not in {n.name for n in fresh_driver(cloud_app).list_networks()}
    cloud_app.networks.create("Lab", "n1", "10.1.0.0/24")  # settles it first, then goes on
    assert cloud_app.inventory.cache.all("intent") == []
    assert [n.name for n in fresh_driver(cloud_app).list_networks()].count("n1") == 1


def test_a_stale_session_writes_on_top_of_the_store_not_of_its_cache(app, reopen) -> None:
    app.clouds.add("Lab", "stub", "first")
    app.clusters.add("Lab", "A")
    other = reopen(app)
    other.clouds.update("Lab", "second")  # another MiniCloud changed the cloud meanwhile
    other.clusters.add("Lab", "B")
    assert app.clouds.get("Lab").location == "first"  # this one's cache is stale
    app.clouds.update("Lab", "third")
    assert [c.name for c in app.clusters.all("Lab")] == ["A", "B"]  # re-read first
    again = reopen(app)
    assert again.clouds.get("Lab").location == "third"
    assert [c.name for c in again.clusters.all("Lab")] == ["A", "B"]


def test_stale_delete_is_refused(app, reopen) -> None:
    app.clouds.add("Lab", "stub")
    app.clusters.add("Lab", "C")
    other = reopen(app)
    other.clusters.remove("Lab", "C")  # removed meanwhile by another MiniCloud
    with pytest.raises(NotFoundError, match="removed by another session"):
        app.clusters.remove("Lab", "C")
    assert app.clusters.all("Lab") == []  # reloaded
    app.clusters.add("Lab", "C")
    assert [c.name for c in reopen(app).clusters.all("Lab")] == ["C"]


def test_clone_is_deep() -> None:
    net = _net()
    copy = clone(net)
    copy.subnets[0].cidr = "10.9.9.0/24"
    copy.name = "other"
    assert net.subnets[0].cidr == "10.0.0.0/24" and net.name == "n"


def test_cache_by_cloud() -> None:
    cache = Cache()
    cache.put(Cloud("A", "stub"))
    cache.put(_net("x", "1"))
    cache.put(Network("Other", "1", "y"))
    assert [n.name for n in cache.all("network", "Lab")] == ["x"]
    assert len(cache.all("network")) == 2
    cache.remove(_net("x", "1"))
    assert cache.get("network", "Lab", "1") is None
    cache.clear()
    assert cache.deployment().clouds == []


def test_a_write_bumps_the_generation_of_every_cloud_whose_rows_it_holds(app) -> None:
    app.clouds.add("A", "stub")
    app.clouds.add("B", "stub")
    app.clouds.add("C", "stub")
    before = app.store.generations()
    with app.inventory.write() as tx:  # no cloud named: the rows name theirs
        tx.put(Network(cloud="A", id="x", name="x"))
        tx.put(Network(cloud="B", id="y", name="y"))
    after = app.store.generations()
    assert (after["A"], after["B"], after["C"]) == (before["A"] + 1, before["B"] + 1,
                                                    before["C"])


def test_a_sync_bumps_its_clouds_generation_only(app) -> None:
    app.clouds.add("A", "stub")
    app.clouds.add("B", "stub")
    before = app.store.generations()
    app.sync.refresh("A")  # what a cloud reported is a change of its rows
    after = app.store.generations()
    assert after["A"] > before["A"] and after["B"] == before["B"]
