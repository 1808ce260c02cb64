"""Reset and Destroy (DESIGN.md section 3, entries 6 and 7).

Reset undoes, cloud by cloud, what MiniCloud did: it deletes what it created and puts back what
it changed on other people's resources (the change records).  Its work is an ordered table of
small steps; each step's successes are written in one transaction at the end of the cloud.  A
failed step keeps its object (and its change record) for the next reset; "not found" counts as
done, so a reset interrupted halfway can simply be run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .drivers.base import Driver
from .errors import NOT_FOUND, DriverError, MiniCloudError
from .model import Change, Cloud, PublicIP, Router
from .reconciler import Reconciler
from .session import Session


@dataclass
class ResetReport:
    undone: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass
class CloudReset:
    """One cloud's reset in progress: what it undid, and what the store must then record."""

    cloud: Cloud
    driver: Driver
    cache: Any
    report: ResetReport
    changes: list[Change]
    puts: dict[tuple[str, str], Any] = field(default_factory=dict)
    deletes: list[Any] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)  # ids whose undoing failed

    def all(self, kind: str) -> list[Any]:
        return self.cache.all(kind, self.cloud.name)

    def changed(self, what: str) -> set[tuple[str, str | None]]:
        return {(c.target_id, c.network_id) for c in self.changes if c.name == what}

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
        if isinstance(obj, (PublicIP, Router)):
            self.puts[(obj.kind, obj.id)] = obj


# -- the steps, in the order they run (what uses a thing goes before the thing) ----------------

def _public_ips(r: CloudReset) -> None:
    associated = {target for target, _ in r.changed("association")}
    for fip in r.all("public_ip"):
        if fip.owned:
            if r.step(f"released public IP {fip.name}", fip, r.driver.release_public_ip,
                      fip.id):
                r.deletes.append(fip)
        elif fip.id in associated and fip.instance_id:
            r.keep(r.step(f"disassociated public IP {fip.name}", fip,
                          r.driver.disassociate_public_ip, fip.id))


def _instances(r: CloudReset) -> None:
    for inst in r.all("instance"):
        if inst.owned and r.step(f"deleted instance {inst.name}", inst, r.driver.delete_server,
                                 inst.id):
            r.deletes.append(inst)


def _router_interfaces(r: CloudReset) -> None:
    added = r.changed("interface")
    for router in r.all("router"):
        for net_id in router.interface_network_ids:
            if router.owned or (router.id, net_id) in added:
                r.keep(r.step(f"detached a network from router {router.name}", router,
                              r.driver.remove_router_interface, router.id, net_id))


def _routers(r: CloudReset) -> None:
    gateways = {target for target, _ in r.changed("gateway")}
    for router in r.all("router"):
        if router.owned:
            if router.id not in r.failed and r.step(f"deleted router {router.name}", router,
                                                    r.driver.delete_router, router.id):
                r.deletes.append(router)
                r.puts.pop((router.kind, router.id), None)
        elif router.id in gateways and router.gateway_network_id:
            r.keep(r.step(f"cleared the gateway of router {router.name}", router,
                          r.driver.clear_router_gateway, router.id))


def _networks(r: CloudReset) -> None:
    for net in r.all("network"):
        if net.owned and r.step(f"deleted network {net.name}", net, r.driver.delete_network,
                                net.id):
            r.deletes.append(net)


def _security_groups(r: CloudReset) -> None:
    for group in r.all("security_group"):
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


STEPS: tuple[Callable[[CloudReset], None], ...] = (
    _public_ips,
    _instances,
    _router_interfaces,
    _routers,
    _networks,
    _security_groups,
    _keypairs,
)


class Resetter:
    def __init__(self, session: Session, reconciler: Reconciler) -> None:
        self.session = session
        self.reconciler = reconciler

    def reset(self) -> ResetReport:
        """Undo everything MiniCloud did in every cloud; keep clouds and clusters."""
        report = ResetReport()
        cache = self.session.inventory.ensure_loaded()
        for cloud in sorted(cache.all("cloud"), key=lambda c: c.name):
            try:
                # Reset must see everything that exists, MiniCloud's unrecorded objects too.
                self.reconciler.sync(cloud.name, notices=False)
                self._reset_cloud(cloud, report)
                self.reconciler.sync(cloud.name, notices=False)  # what reset removed is no news
            except MiniCloudError as err:
                report.failures.append(str(err))
        return report

    def _reset_cloud(self, cloud: Cloud, report: ResetReport) -> None:
        cache = self.session.inventory.ensure_loaded()
        run = CloudReset(cloud, self.session.drivers.get(cloud), cache, report,
                         cache.all("change", cloud.name))
        for step in STEPS:
            step(run)
        with self.session.inventory.write() as tx:
            for obj in run.deletes:
                tx.delete(obj, force=True)
            for obj in run.puts.values():
                tx.put(obj, force=True)
            for change in run.changes:
                if change.target_id not in run.failed:
                    tx.delete(change, force=True)
            for pair in cache.all("keypair", cloud.name):
                tx.delete(pair, force=True)

    def destroy(self) -> ResetReport:
        """Reset, then forget every cloud and drop MiniCloud's tables."""
        report = self.reset()
        if report.failures:
            return report
        cache = self.session.inventory.ensure_loaded()
        drivers = self.session.drivers
        for cloud in cache.all("cloud"):
            drivers.get(cloud).forget()
            drivers.drop(cloud.name)
        drivers.forget_secrets()
        self.session.store.empty_all()
        self.session.inventory.forget()
        return report
