"""Reset and Destroy (DESIGN.md section 3, entries 6 and 7).

Reset undoes, cloud by cloud, what MiniCloud did: it deletes what it created and puts back what
it changed on other people's resources (the change records).  Its work is an ordered table of
small steps; each step's successes are written in one transaction at the end of the cloud.  A
failed step keeps its object (and its change record) for the next reset; "not found" counts as
done, so a reset interrupted halfway can simply be run again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..drivers.base import Driver
from ..model.codec import to_dict
from ..model.errors import NOT_FOUND, DriverError, MiniCloudError, StoreError
from ..model.kinds import (
    CHANGE,
    CLOUD,
    INSTANCE,
    KEYPAIR,
    NETWORK,
    PUBLIC_IP,
    ROUTER,
    SECURITY_GROUP,
    Kind,
    label,
)
from ..model.objects import Change, Cloud, Instance, PublicIP, Router, State
from ..state.cache import Cache
from .reconciler import Reconciler
from .session import Session

T = TypeVar("T")
log = logging.getLogger("minicloud")


@dataclass
class ResetReport:
    undone: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    # The clouds whose reset failed, each with what MiniCloud made or changed that stays
    # there (a Destroy names it before forgetting them).
    left: dict[str, list[str]] = field(default_factory=dict)
    # A Destroy that forgot every cloud though some could not be reset (the user agreed).
    forgot_anyway: bool = False


# What MiniCloud makes in a cloud, in the order a leftover is named.
MADE = (INSTANCE, PUBLIC_IP, ROUTER, NETWORK, SECURITY_GROUP, KEYPAIR)


def left_in(cache: Any, cloud: str) -> list[str]:
    """What MiniCloud made or changed in ``cloud`` as the store knows it: what a reset that
    failed leaves there."""
    found = [f"{label(kind)} {obj.name}" for kind in MADE
             for obj in sorted(cache.all(kind, cloud), key=lambda o: o.name)
             if getattr(obj, "owned", False)]
    changes = len(cache.all(CHANGE, cloud))
    if changes:
        found.append(f"{changes} change{'s' if changes != 1 else ''} to resources MiniCloud "
                     "did not create")
    return found


@dataclass
class CloudReset:
    """One cloud's reset in progress: what it undid, and what the store must then record."""

    cloud: Cloud
    driver: Driver
    cache: Cache
    report: ResetReport
    changes: list[Change]
    puts: dict[tuple[str, str], Any] = field(default_factory=dict)
    deletes: list[Any] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)  # ids whose undoing failed
    kept: set[str] = field(default_factory=set)  # change records that stay, whatever their target

    def all(self, kind: Kind[T]) -> list[T]:
        return self.cache.all(kind, self.cloud.name)

    def changed(self, what: str) -> set[tuple[str, str | None]]:
        return {(c.target_id, c.network_id) for c in self.changes if c.name == what}

    def records(self, what: str) -> list[Change]:
        return [c for c in self.changes if c.name == what]

    def step(self, what: str, target: Any, call: Callable[..., Any], *args: Any) -> Any:
        """Run one undo call; True (or its result) when done, None when it failed."""
        try:
            result = call(*args)
        except DriverError as err:
            if err.reason != NOT_FOUND:
                self.report.failures.append(f"{what}: {err}")
                self.failed.add(target.id)
                return None
            result = None
        self.report.undone.append(what)
        return result or True

    def keep(self, obj: Any) -> None:
        if isinstance(obj, (PublicIP, Router, Instance)):
            self.puts[(obj.kind, obj.id)] = obj

    def group_id(self, name: str | None) -> str | None:
        return next((g.id for g in self.all(SECURITY_GROUP) if g.name == name), None)


# -- the steps, in the order they run (what uses a thing goes before the thing) ----------------

def _public_ips(r: CloudReset) -> None:
    associated = {target for target, _ in r.changed("association")}
    for fip in r.all(PUBLIC_IP):
        if fip.owned:
            if r.step(f"released public IP {fip.name}", fip, r.driver.release_public_ip,
                      fip.id):
                r.deletes.append(fip)
        elif fip.id in associated and fip.instance_id:
            r.keep(r.step(f"disassociated public IP {fip.name}", fip,
                          r.driver.disassociate_public_ip, fip.id))


def _server_groups(r: CloudReset) -> None:
    """Take MiniCloud's groups off other people's servers (before the groups go), and put
    back the ones it took off."""
    for change in r.records("server_group") + r.records("server_group_removed"):
        server = r.cache.get(INSTANCE, r.cloud.name, change.target_id)
        group = r.group_id(change.detail)
        if server is None or group is None:
            continue
        if change.name == "server_group" and change.detail in server.security_groups:
            r.keep(r.step(f"removed security group {change.detail} from instance {server.name}",
                          server, r.driver.remove_server_security_group, server.id, group))
        elif change.name == "server_group_removed" and \
                change.detail not in server.security_groups:
            r.keep(r.step(f"gave instance {server.name} its security group {change.detail} "
                          "back", server, r.driver.add_server_security_group, server.id, group))


def _instances(r: CloudReset) -> None:
    for inst in r.all(INSTANCE):
        if inst.owned and r.step(f"deleted instance {inst.name}", inst, r.driver.delete_server,
                                 inst.id):
            r.deletes.append(inst)


def _router_interfaces(r: CloudReset) -> None:
    """Networks leave routers before the routers go.  Where a network cannot leave its
    router (``features.detach_network`` false), MiniCloud's networks on routers are deleted
    now instead, which takes them off."""
    if not r.driver.features.detach_network:
        for router in r.all(ROUTER):
            ids = set(router.interface_network_ids)
            _delete_networks(r, [net for net in r.all(NETWORK) if net.id in ids])
            if ids & r.failed:  # a network still on it: the router stays too
                r.failed.add(router.id)
        return
    added = r.changed("interface")
    for router in r.all(ROUTER):
        for net_id in router.interface_network_ids:
            if router.owned or (router.id, net_id) in added:
                net = r.cache.get(NETWORK, r.cloud.name, net_id)
                r.keep(r.step(f"detached network {net.name if net else net_id} from router "
                              f"{router.name}", router,
                              r.driver.remove_router_interface, router.id, net_id))


def _routers(r: CloudReset) -> None:
    gateways = {target for target, _ in r.changed("gateway")}
    for router in r.all(ROUTER):
        if router.owned:
            if router.id not in r.failed and r.step(f"deleted router {router.name}", router,
                                                    r.driver.delete_router, router.id):
                r.deletes.append(router)
                r.puts.pop((router.kind, router.id), None)
        elif router.id in gateways and router.gateway_network_id:
            if not r.driver.features.clear_gateway:
                # Never called where the type cannot (the managers set no such gateway now):
                # said, and the record kept, as for a failed step.
                r.report.failures.append(
                    f"clear the gateway of router {router.name}: cloud {r.cloud.name} "
                    f"({r.cloud.type}) cannot clear a router's gateway")
                r.failed.add(router.id)
                continue
            r.keep(r.step(f"cleared the gateway of router {router.name}", router,
                          r.driver.clear_router_gateway, router.id))


def _restore_routers(r: CloudReset) -> None:
    """Put back what MiniCloud took from other people's routers: gateways, interfaces."""
    for change in r.records("gateway_removed"):
        router = r.cache.get(ROUTER, r.cloud.name, change.target_id)
        if router is not None and not router.gateway_network_id and change.network_id:
            r.keep(r.step(f"restored the gateway of router {router.name}", router,
                          r.driver.set_router_gateway, router.id, change.network_id))
    for change in r.records("interface_removed"):
        router = r.cache.get(ROUTER, r.cloud.name, change.target_id)
        net = r.cache.get(NETWORK, r.cloud.name, change.network_id or "")
        if router is not None and net is not None and \
                net.id not in router.interface_network_ids:
            r.keep(r.step(f"re-attached network {net.name} to router {router.name}", router,
                          r.driver.add_router_interface, router.id, net.id))


def _networks(r: CloudReset) -> None:
    _delete_networks(r, r.all(NETWORK))


def _delete_networks(r: CloudReset, networks: list[Any]) -> None:
    """Delete MiniCloud's networks among ``networks`` (each once: an earlier step may have)."""
    done = {obj.id for obj in r.deletes if obj.kind == "network"} | r.failed
    for net in networks:
        if net.owned and net.id not in done and \
                r.step(f"deleted network {net.name}", net, r.driver.delete_network, net.id):
            r.deletes.append(net)


def _security_groups(r: CloudReset) -> None:
    for group in r.all(SECURITY_GROUP):
        if group.owned and r.step(f"deleted security group {group.name}", group,
                                  r.driver.delete_security_group, group.id):
            r.deletes.append(group)


def _keypairs(r: CloudReset) -> None:
    try:
        pairs = r.driver.list_keypairs()  # not part of a sync: read when needed
    except DriverError as err:
        r.report.failures.append(f"list key pairs: {err}")
        return
    for pair in pairs:
        if pair.owned:
            r.step(f"deleted key pair {pair.name}", pair, r.driver.delete_keypair, pair.name)


def _power(r: CloudReset) -> None:
    """Other people's servers MiniCloud stopped (or started) go back to how they were: one it
    started is stopped again; one it stopped is started again whatever it was doing before
    (building, running, paused...), since its owner expects it running.  A state MiniCloud
    cannot put a server back into (PAUSED, ERROR...) is named and its record kept: the next
    reset that finds the server in it again (its owner's doing) lets the record go."""
    for change in r.records("power"):
        server = r.cache.get(INSTANCE, r.cloud.name, change.target_id)
        before = change.detail or State.UNKNOWN
        if server is None or State.restored(before, server.status):
            continue
        if before == State.SHUTOFF:
            r.keep(r.step(f"stopped instance {server.name} again", server,
                          r.driver.stop_server, server.id))
            continue
        now = server.status
        if now != State.ACTIVE:
            started = r.step(f"started instance {server.name} again", server,
                             r.driver.start_server, server.id)
            r.keep(started)
            now = started.status if isinstance(started, Instance) else now
        if before not in State.RUNNING:
            r.report.failures.append(
                f"instance {server.name}: was {before} before MiniCloud changed its power "
                f"state, which MiniCloud cannot restore (it is {now} now); the record is kept "
                f"until it is {before} again")
            r.kept.add(change.id)


def _undoing(change: Change) -> dict[str, Any]:
    """A change record as the reset's intent lists it: one it will undo."""
    data = to_dict(change)
    data.pop("version", None)
    data["undo"] = True
    return data


STEPS: tuple[Callable[[CloudReset], None], ...] = (
    _public_ips,
    _server_groups,
    _instances,
    _router_interfaces,
    _routers,
    _restore_routers,
    _networks,
    _security_groups,
    _keypairs,
    _power,
)


class Resetter:
    def __init__(self, session: Session, reconciler: Reconciler) -> None:
        self.session = session
        self.reconciler = reconciler

    def reset(self) -> ResetReport:
        """Undo everything MiniCloud did in every cloud; keep clouds and clusters."""
        report = ResetReport()
        inventory = self.session.inventory
        cache = inventory.ensure_loaded()
        for cloud in sorted(cache.all(CLOUD), key=lambda c: c.name):
            unrecorded: StoreError | None = None
            try:
                # Reset must see everything that exists, MiniCloud's unrecorded objects too.
                self.reconciler.sync(cloud.name, notices=False)
                unrecorded = self._reset_cloud(cloud, report)
                # What reset removed is no news; a settle the store could not take is
                # written first (Inventory.later).
                self.reconciler.sync(cloud.name, notices=False)
            except MiniCloudError as err:
                # A store that still refuses is said once, below.
                if not (isinstance(err, StoreError) and unrecorded is not None
                        and inventory.unrecorded):
                    report.failures.append(str(err))
            if unrecorded is not None and inventory.unrecorded:
                report.failures.append(
                    f"cloud {cloud.name}: reset in the cloud, but the store could not record "
                    f"it ({unrecorded}); this session records it at its next read or write, "
                    "or the next refresh does")
        return report

    def _reset_cloud(self, cloud: Cloud, report: ResetReport) -> StoreError | None:
        """One cloud's steps under one intent, settled in one transaction.  The intent lists
        the change records being undone, so that a reset killed before its settle is settled
        from the cloud (the records it shows undone go).  The cloud calls are not taken back:
        a settle the store cannot take is returned, and written at this session's next read
        or write while the intent stays pending."""
        work = self.session.work
        cache = self.session.inventory.ensure_loaded()
        intent = work.begin(cloud.name, f"reset cloud {cloud.name}",
                            changes=[_undoing(c) for c in cache.all(CHANGE, cloud.name)])
        with work.running(intent, undone=False):
            cache = self.session.inventory.ensure_loaded()
            run = CloudReset(cloud, self.session.drivers.get(cloud), cache, report,
                             cache.all(CHANGE, cloud.name))
            for step in STEPS:
                step(run)
            done = [c for c in run.changes if c.target_id not in run.failed
                    and c.id not in run.kept]
            try:
                work.settle(intent, puts=run.puts.values(), done=True,
                            deletes=[*run.deletes, *done, *cache.all(KEYPAIR, cloud.name)])
            except StoreError as err:
                log.warning("reset of cloud %s not recorded: %s", cloud.name, err)
                return err
        return None

    def destroy(self, agree: Callable[[ResetReport], bool] | None = None) -> ResetReport:
        """Reset, then forget every cloud and empty MiniCloud's tables.  Its intent (of the
        whole store) waits for the writes other sessions have in progress, refuses theirs
        until it is done, and lets the next start finish a Destroy that was killed.  Each
        cloud keeps what Reset left in it, what existed before MiniCloud (a Stub cloud its
        external network and default group): adding it again finds a whole cloud.  No driver
        is built to forget a cloud (one that cannot be reached is forgotten all the same).

        When some cloud could not be reset (unreachable...), ``agree`` is asked, with the
        report naming what stays in which cloud: when it agrees, every cloud is forgotten
        all the same (what stays, stays in its cloud); otherwise nothing is forgotten."""
        work = self.session.work
        intent = work.begin_destroy()
        with work.running(intent):
            report = self.reset()
            if report.failures:
                # What a reset leaves of MiniCloud's in a cloud is what the store still holds.
                cache = self.session.inventory.ensure_loaded()
                report.left = {c.name: found for c in sorted(cache.all(CLOUD),
                                                             key=lambda c: c.name)
                               for found in [left_in(cache, c.name)] if found}
                if not report.left or agree is None or not agree(report):
                    work.drop(intent)
                    return report
                report.forgot_anyway = True
            cache = self.session.inventory.ensure_loaded()
            drivers = self.session.drivers
            for cloud in cache.all(CLOUD):
                drivers.forget(cloud.name)
            drivers.forget_secrets()
            work.empty_all(intent)
        return report
