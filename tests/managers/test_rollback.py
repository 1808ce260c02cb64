"""Every multi-step operation, with every driver call it makes failing once in turn.

For each operation the driver calls are first recorded (a clean run, its app's drivers wrapped
by tests/faults.py); then for every ``call`` and every ``n`` up to its count, a wrapper that
fails exactly that call is installed, and cloud, store and cache must be exactly as before
(``snapshot_state``), with no resource left behind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from minicloud.model.errors import MiniCloudError
from tests.backends import seed_mysql, seed_sqlite
from tests.consistency import open_app
from tests.faults import Faults, recorded

CLOUD = "Lab"


def base(app) -> None:
    app.clouds.add(CLOUD, "stub")
    app.clusters.add(CLOUD, "C")


def with_router(app) -> None:
    base(app)
    app.routers.create(CLOUD, "r1", gateway="public")


def with_network(app) -> None:
    with_router(app)
    app.networks.create(CLOUD, "n1", "10.1.0.0/24", router="r1")


def with_instance(app) -> None:
    with_network(app)
    app.instances.create(CLOUD, "vm", "cirros", "m1.tiny", "n1", cluster="C")


def with_two_routers(app) -> None:
    with_network(app)
    app.routers.create(CLOUD, "r2")
    app.networks.attach(app.routers.find("network", "n1"), app.routers.find("router", "r2"))


def with_interfaces(app) -> None:
    with_network(app)
    app.networks.create(CLOUD, "n2", "10.2.0.0/24", router="r1")


def with_foreign_router(app) -> None:
    base(app)
    app.driver(CLOUD).seed_router("corp")
    app.sync.refresh()


def with_foreign_ip(app) -> None:
    with_instance(app)
    external = app.routers.find("network", "public")
    app.driver(CLOUD).seed_public_ip(external.id, "203.0.113.60")
    app.sync.refresh()


def find(app, kind: str, name: str) -> Any:
    return app.routers.find(kind, name, CLOUD)


OPERATIONS: dict[str, tuple[Callable[[Any], None], Callable[[Any], Any]]] = {
    "create network on a router": (
        with_router,
        lambda app: app.networks.create(CLOUD, "n1", "10.1.0.0/24", router="r1")),
    "create instance with public_ssh": (
        with_network,
        lambda app: app.instances.create(CLOUD, "web", "cirros", "m1.tiny", "n1",
                                         cluster="C", security_group="public_ssh")),
    "assign public IP (allocate)": (
        with_instance,
        lambda app: app.access.assign_public_ip(find(app, "instance", "vm"))),
    "assign public IP (reuse a foreign one)": (
        with_foreign_ip,
        lambda app: app.access.assign_public_ip(find(app, "instance", "vm"))),
    "connect": (
        with_instance,
        lambda app: app.access.connect(find(app, "instance", "vm"))),
    "attach network": (
        lambda app: (with_two_routers(app), app.networks.create(CLOUD, "n3", "10.3.0.0/24")),
        lambda app: app.networks.attach(find(app, "network", "n3"), find(app, "router", "r2"))),
    "remove network with cascade": (
        with_two_routers,
        lambda app: app.networks.remove(find(app, "network", "n1"))),
    "remove router with interfaces": (
        with_interfaces,
        lambda app: app.routers.remove(find(app, "router", "r1"))),
    "set gateway (own router)": (
        lambda app: (base(app), app.routers.create(CLOUD, "r9")),
        lambda app: app.routers.set_gateway(find(app, "router", "r9"), "public")),
    "set gateway (foreign router)": (
        with_foreign_router,
        lambda app: app.routers.set_gateway(find(app, "router", "corp"), "public")),
    "clear gateway": (
        with_router,
        lambda app: app.routers.clear_gateway(find(app, "router", "r1"))),
}


class World:
    """A fresh store with the operation's starting point, its app's driver already synced."""

    def __init__(self, root: Path, db_url: str, setup: Callable[[Any], None], make_app: Any,
                 counter: list[int]) -> None:
        counter[0] += 1
        home = root / f"world{counter[0]}"
        home.mkdir()
        if db_url.startswith("sqlite"):
            seed_sqlite(home / "minicloud.db")
            url = f"sqlite:///{home}/minicloud.db"
        else:
            seed_mysql(db_url)
            url = db_url
        self.app = make_app(home, url)
        setup(self.app)
        self.app.driver(CLOUD)  # synced: the operation makes no listing of its own

    def close(self) -> None:
        self.app.close()


def recorded_calls(world: World, operation: Callable[[Any], Any]) -> Counter[str]:
    return recorded(world.app, operation)


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_failing_call_rolls_back(name: str, tmp_path: Path, db_url: str,
                                       snapshot_state) -> None:

    setup, operation = OPERATIONS[name]
    counter = [0]

    def new_world() -> World:
        return World(tmp_path, db_url, setup, open_app, counter)

    probe = new_world()
    calls = recorded_calls(probe, operation)
    probe.close()
    assert calls, f"{name} made no driver call"
    plan = [(call, n) for call in sorted(calls) for n in range(1, calls[call] + 1)]
    problems: list[str] = []
    world = new_world()
    try:
        for call, n in plan:
            before = snapshot_state(world.app)
            try:
                with Faults({call: n}).installed(world.app):
                    operation(world.app)
            except MiniCloudError as err:
                error: MiniCloudError | None = err
            else:
                error = None
            after = snapshot_state(world.app)
            if error is None:
                problems.append(f"{call}:{n}: the operation did not fail")
            if after != before:
                problems.append(f"{call}:{n}: {describe(before, after)} (error: {error})")
                world.close()
                world = new_world()
    finally:
        world.close()
    assert not problems, f"{name}: calls {plan}:\n" + "\n".join(problems)


def describe(before: dict, after: dict) -> str:
    """Which parts differ, and what appeared or vanished there."""
    out = []
    for part in ("cloud", "store", "cache"):
        b, a = before[part], after[part]
        if part == "cloud":
            pairs = [(f"{c}.{k}", b.get(c, {}).get(k, []), a.get(c, {}).get(k, []))
                     for c in set(b) | set(a) for k in set(b.get(c, {})) | set(a.get(c, {}))]
        else:
            pairs = [(k, b.get(k, []), a.get(k, [])) for k in set(b) | set(a)]
        for where, old, new in sorted(pairs):
            if old != new:
                gone = [x[:160] for x in old if x not in new]
                added = [x[:160] for x in new if x not in old]
                out.append(f"{part} {where}: -{gone} +{added}")
    return "; ".join(out)


def test_the_recorder_sees_every_call(tmp_path: Path, db_url: str) -> None:

    world = World(tmp_path, db_url, with_network, open_app, [0])
    try:
        calls = recorded_calls(world, OPERATIONS["create instance with public_ssh"][1])
    finally:
        world.close()
    # Images and flavors are read to check the request (faultable calls like any other).
    assert calls == Counter({"create_security_group": 1, "add_security_group_rule": 2,
                             "create_server": 1, "get_server": 1, "list_images": 1,
                             "list_flavors": 1})
