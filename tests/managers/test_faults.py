"""Fault injection for the operations test_rollback.py does not cover (issue 6).

test_rollback.py already fails every call of: create network on a router, create instance
with public_ssh (group created), assign public IP (allocate / reuse), connect, attach network,
remove network with cascade (own routers), remove router with interfaces, set gateway (own /
foreign router), clear gateway.  Here, the same way (tests/faults.py failing ``call:N`` for
every call the operation makes, one at a time):

- instance create with the ``default`` group, and with ``public_ssh`` already in the cloud
  (``create_server`` then ``wait_server``'s ``get_server``);
- instance remove with a public IP MiniCloud allocated (disassociate, delete, release) and with
  one it only associated;
- network remove when the network hangs on a router MiniCloud did not create;
- single-call operations (start/stop/reboot, detach, release, plain creates).

After each failure: the operation said so (a MiniCloudError), cloud, store and cache agree,
the store's references hold, and the cloud holds nothing that was not there before.

Reset and destroy have another contract: after a failed one, cloud, store and cache agree;
a second run finishes the job (only what existed before MiniCloud remains).  Those two walks
are marked ``heavy``: by default each fails every 6th of the reset's calls (from different
starting points, so the two walks fail different calls); with ``MINICLOUD_TEST_VOLUME=full``
each fails every one of them, the store backends here taking turns (tests/backends.py
``turn_of``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_clouds import make_changes, seeded_app
from test_rollback import CLOUD, World, find, recorded_calls, with_instance, with_network

from minicloud.model.errors import MiniCloudError
from tests.backends import turn_of
from tests.conftest import reopen_app
from tests.consistency import open_app
from tests.faults import Faults
from tests.volume import sample

PLURAL = {"networks": "network", "routers": "router", "instances": "instance",
          "public_ips": "public_ip", "security_groups": "security_group", "keypairs": "keypair"}


# -- starting points ---------------------------------------------------------------------------

def with_public_ssh(app) -> None:
    with_network(app)
    app.instances.create(CLOUD, "first", "cirros", "m1.tiny", "n1", security_group="public_ssh")


def with_owned_ip(app) -> None:
    with_instance(app)
    app.access.assign_public_ip(find(app, "instance", "vm"))


def with_foreign_ip_associated(app) -> None:
    with_instance(app)
    external = app.routers.find("network", "public")
    app.driver(CLOUD).seed_public_ip(external.id, "203.0.113.60")
    app.sync.refresh()
    fip = app.access.assign_public_ip(find(app, "instance", "vm"))
    assert not fip.owned


def with_net_on_foreign_router(app) -> None:
    app.clouds.add(CLOUD, "stub")
    app.driver(CLOUD).seed_router("corp")
    app.sync.refresh()
    app.networks.create(CLOUD, "n1", "10.1.0.0/24", router="corp")
    assert app.inventory.cache.all("change", CLOUD)


def with_stopped(app) -> None:
    with_instance(app)
    app.instances.stop(find(app, "instance", "vm"))


OPERATIONS: dict[str, tuple[Callable[[Any], None], Callable[[Any], Any]]] = {
    "create instance (default group)": (
        with_network,
        lambda app: app.instances.create(CLOUD, "web", "cirros", "m1.tiny", "n1", cluster="C")),
    "create instance (public_ssh exists)": (
        with_public_ssh,
        lambda app: app.instances.create(CLOUD, "web", "ubuntu", "m1.small", "n1",
                                         security_group="public_ssh", fixed_ip="10.1.0.77")),
    "remove instance with its own public IP": (
        with_owned_ip,
        lambda app: app.instances.remove(find(app, "instance", "vm"))),
    "remove instance with a foreign public IP": (
        with_foreign_ip_associated,
        lambda app: app.instances.remove(find(app, "instance", "vm"))),
    "remove network on a foreign router": (
        with_net_on_foreign_router,
        lambda app: app.networks.remove(find(app, "network", "n1"))),
    "detach network": (
        with_network,
        lambda app: app.networks.detach(find(app, "network", "n1"), find(app, "router", "r1"))),
    "release public IP": (
        lambda app: (with_instance(app), _free_ip(app)),
        lambda app: app.public_ips.release(app.public_ips.public_ips(CLOUD)[0])),
    "stop": (with_instance, lambda app: app.instances.stop(find(app, "instance", "vm"))),
    "start": (with_stopped, lambda app: app.instances.start(find(app, "instance", "vm"))),
    "reboot": (with_instance, lambda app: app.instances.reboot(find(app, "instance", "vm"))),
    "create router with gateway": (
        with_network, lambda app: app.routers.create(CLOUD, "r2", gateway="public")),
    "create network": (
        with_network, lambda app: app.networks.create(CLOUD, "n2", "10.2.0.0/24")),
}


def _free_ip(app) -> None:
    """A public IP MiniCloud allocated, on no instance (adopted by a refresh)."""
    app.driver(CLOUD).allocate_public_ip(find(app, "network", "public").id)
    assert app.sync.refresh() == []
    (fip,) = app.public_ips.public_ips(CLOUD)
    assert fip.owned and fip.instance_id is None


# -- checks ------------------------------------------------------------------------------------

def _norm(text: str) -> dict[str, Any]:
    data = json.loads(text)
    data.pop("version", None)
    if "interface_network_ids" in data:
        data["interface_network_ids"] = sorted(data["interface_network_ids"])
    if data.get("status") == "BUILD":
        data["status"] = "ACTIVE"
    return data


def _key(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True)


def problems_in(state: dict[str, Any]) -> list[str]:
    """Where cloud, store and cache disagree, and broken references in the store."""
    found = []
    if state["store"] != state["cache"]:
        kinds = [k for k in state["store"] if state["store"][k] != state["cache"].get(k)]
        found.append(f"cache differs from the store on {kinds}")
    store = {kind: [_norm(t) for t in texts] for kind, texts in state["store"].items()}
    for cloud, kinds in state["cloud"].items():
        for plural, texts in kinds.items():
            kind = PLURAL[plural]
            cloud_side = sorted(_key(_norm(t)) for t in texts)
            store_side = sorted(_key(d) for d in store[kind] if d["cloud"] == cloud)
            if cloud_side != store_side:
                gone = [json.loads(x)["name"] for x in store_side if x not in cloud_side]
                extra = [json.loads(x)["name"] for x in cloud_side if x not in store_side]
                found.append(f"{cloud} {plural}: store only {gone}; cloud only {extra}")
    ids = {kind: {(d["cloud"], d["id"]) for d in objs if "id" in d}
           for kind, objs in store.items()}
    for inst in store["instance"]:
        for nic in inst["nics"]:
            if (inst["cloud"], nic["network_id"]) not in ids["network"]:
                found.append(f"instance {inst['name']} on a missing network")
    for fip in store["public_ip"]:
        if fip["instance_id"] and (fip["cloud"], fip["instance_id"]) not in ids["instance"]:
            found.append(f"public IP {fip['name']} on a missing instance")
    for router in store["router"]:
        for net_id in [*router["interface_network_ids"], router["gateway_network_id"]]:
            if net_id and (router["cloud"], net_id) not in ids["network"]:
                found.append(f"router {router['name']} uses a missing network")
    return found


def cloud_ids(state: dict[str, Any]) -> dict[str, set[str]]:
    return {f"{cloud}.{plural}": {json.loads(t)["id"] for t in texts}
            for cloud, kinds in state["cloud"].items() for plural, texts in kinds.items()}


def leftovers(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old, new = cloud_ids(before), cloud_ids(after)
    return [f"{where}: {sorted(new[where] - old.get(where, set()))}" for where in new
            if new[where] - old.get(where, set())]


def fault_plan(tmp_path: Path, db_url: str, setup: Callable, operation: Callable,
               counter: list[int]) -> list[tuple[str, int]]:

    probe = World(tmp_path, db_url, setup, open_app, counter)
    try:
        calls = recorded_calls(probe, operation)
    finally:
        probe.close()
    return [(call, n) for call in sorted(calls) for n in range(1, calls[call] + 1)]


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_failing_call_leaves_no_leftover(name: str, tmp_path: Path, db_url: str,
                                               snapshot_state) -> None:

    setup, operation = OPERATIONS[name]
    counter = [0]
    plan = fault_plan(tmp_path, db_url, setup, operation, counter)
    assert plan, f"{name} made no driver call"
    problems: list[str] = []
    for call, n in plan:
        world = World(tmp_path, db_url, setup, open_app, counter)
        try:
            before = snapshot_state(world.app)
            assert not problems_in(before), problems_in(before)
            error: MiniCloudError | None = None
            try:
                with Faults({call: n}).installed(world.app):
                    operation(world.app)
            except MiniCloudError as err:
                error = err
            after = snapshot_state(world.app)
            if error is None:
                problems.append(f"{call}:{n}: the operation did not fail")
            problems += [f"{call}:{n}: {p} (error: {error})" for p in problems_in(after)]
            problems += [f"{call}:{n}: left in the cloud: {p}" for p in leftovers(before, after)]
        finally:
            world.close()
    assert not problems, f"{name}: calls {plan}:\n" + "\n".join(problems)


def test_create_instance_waits_through_get_server(tmp_path: Path, db_url: str) -> None:
    """The plan above includes wait_server's get_server (so its failure is exercised)."""
    plan = fault_plan(tmp_path, db_url, with_network,
                      OPERATIONS["create instance (default group)"][1], [0])
    assert plan == [("create_server", 1), ("get_server", 1), ("list_flavors", 1),
                    ("list_images", 1)]


# -- reset and destroy -------------------------------------------------------------------------

class ResetWorlds:
    """Seeded cloud + every change MiniCloud can make; remembers the cloud's first picture."""

    def __init__(self, snapshot_state: Callable) -> None:
        self.snapshot_state = snapshot_state
        self.baseline: dict[str, Any] = {}

    def __call__(self, app) -> None:
        seeded_app(app)
        self.baseline = names_of(self.snapshot_state(app, versions=False)["cloud"])
        make_changes(app)


def names_of(cloud: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """A cloud picture by name (ids differ between worlds): name, association, interfaces."""
    out = {}
    for cloud_name, kinds in cloud.items():
        for plural, texts in kinds.items():
            rows = []
            for text in texts:
                data = json.loads(text)
                rows.append((data["name"], bool(data.get("instance_id")),
                             len(data.get("interface_network_ids", [])),
                             bool(data.get("gateway_network_id"))))
            out[f"{cloud_name}.{plural}"] = sorted(rows)
    return out


@pytest.mark.heavy
@pytest.mark.parametrize("operation", ["reset", "destroy"])
def test_failed_reset_agrees_and_a_second_one_finishes(operation: str, tmp_path: Path,
                                                       db_url: str, snapshot_state) -> None:

    run = (lambda app: app.resetter.reset()) if operation == "reset" else \
        (lambda app: app.resetter.destroy())
    setup = ResetWorlds(snapshot_state)
    counter = [0]
    plan = fault_plan(tmp_path, db_url, setup, lambda app: app.resetter.reset(), counter)
    assert len(plan) > 10, plan
    problems: list[str] = []
    for call, n in sample(turn_of(plan, db_url, "fail", ["fail"]), every=6,
                          offset=0 if operation == "reset" else 2):
        world = World(tmp_path, db_url, setup, open_app, counter)
        app = world.app
        try:
            try:
                with Faults({call: n}).installed(app):
                    report = run(app)
            except MiniCloudError as err:
                problems.append(f"{call}:{n}: {operation} raised instead of reporting: {err}")
                continue
            if not report.failures:
                problems.append(f"{call}:{n}: the failure was not reported")
            if operation == "destroy" and report.failures and not app.clouds.all():
                problems.append(f"{call}:{n}: destroy forgot the clouds although reset failed")
            state = snapshot_state(app, versions=False)
            problems += [f"{call}:{n}: after the failed {operation}: {p}"
                         for p in problems_in(state)]
            again = run(app)
            if again.failures:
                problems.append(f"{call}:{n}: second {operation} failed: "
                                f"{[f[:90] for f in again.failures]}")
            if operation == "reset":
                final = snapshot_state(app, versions=False)
                if names_of(final["cloud"]) != setup.baseline:
                    problems.append(f"{call}:{n}: after a second reset the cloud is not as "
                                    "before MiniCloud: "
                                    f"{_diff(setup.baseline, names_of(final['cloud']))}")
                problems += [f"{call}:{n}: after the second reset: {p}"
                             for p in problems_in(final)]
            else:
                other = reopen_app(app)
                try:
                    if other.clouds.all():
                        problems.append(f"{call}:{n}: a second destroy left clouds")
                finally:
                    other.close()
        finally:
            world.close()
    assert not problems, f"{operation}: calls {plan}:\n" + "\n".join(problems)


def _diff(before: dict, after: dict) -> str:
    return "; ".join(f"{k}: {before.get(k)} -> {after.get(k)}"
                     for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k))


# -- reset next to what MiniCloud did not create -------------------------------------------------

def test_reset_keeps_what_existed_and_undoes_a_connect(app, fresh_driver) -> None:
    """test_clouds covers reuse through assign_public_ip; here connect reuses the foreign IP,
    on a foreign router MiniCloud only added an interface to."""
    from minicloud.drivers.base import ServerSpec
    from minicloud.model.objects import Cloud

    pre = app.make_driver_for(Cloud(CLOUD, "stub"))  # what was there before MiniCloud
    pre.setup()
    external = next(n for n in pre.list_networks() if n.external)
    legacy = pre.seed_network("legacy", "10.50.0.0/24")
    corp = pre.seed_router("corp", external.id)
    theirs = pre.seed_server(ServerSpec("theirs", "image-cirros", "flavor-m1.tiny", legacy.id))
    foreign = pre.seed_public_ip(external.id, "203.0.113.99")
    app.clouds.add(CLOUD, "stub")
    before = fresh_driver(app).snapshot()

    app.networks.create(CLOUD, "mine", "10.70.0.0/24", router="corp")
    vm = app.instances.create(CLOUD, "vm", "cirros", "m1.tiny", "mine")
    plan = app.access.connect(vm)
    assert plan.address == "203.0.113.99"  # the free foreign IP, reused, not allocated
    during = fresh_driver(app).snapshot()
    assert [(f.name, f.instance_id) for f in during.public_ips] == [("203.0.113.99", vm.id)]
    assert {g.name for g in during.security_groups} == {"default", "public_ssh"}

    report = app.resetter.reset()
    assert report.failures == []
    after = fresh_driver(app).snapshot()
    routers = {r.name: r for r in after.routers}
    assert set(routers) == {"corp"}
    assert routers["corp"].interface_network_ids == []  # MiniCloud's interface gone
    assert routers["corp"].gateway_network_id == external.id  # its own gateway stays
    (fip,) = after.public_ips
    assert (fip.id, fip.name, fip.owned, fip.instance_id) == (foreign.id, "203.0.113.99",
                                                              False, None)
    (server,) = after.instances
    assert (server.id, server.name, server.status, server.nics) == (
        theirs.id, "theirs", "ACTIVE", [n for n in theirs.nics])
    assert {n.name for n in after.networks} == {"public", "legacy"}
    assert {g.name for g in after.security_groups} == {"default"}
    assert after.keypairs == []
    # exactly the pre-existing objects, unchanged
    assert {(r.id, r.name) for r in after.routers} == {(corp.id, "corp")}
    assert {(n.id, n.name) for n in after.networks} == {(n.id, n.name) for n in before.networks}
    assert app.inventory.cache.all("change") == []
