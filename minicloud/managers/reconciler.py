"""The reconciler: reads clouds and brings the store (and the cache) to what they report.

It is called explicitly (refresh, the menu's first use of a cloud, reset), never from a getter.
Driver errors keep their type on the way up, so that a front end can still tell a missing
password (:class:`CredentialsNeeded`) from a cloud that is down.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..drivers.base import Driver
from ..model.codec import from_dict, to_dict
from ..model.drift import WATCHED, Drift, compare
from ..model.errors import DriverError, MiniCloudError, NotFoundError
from ..model.kinds import KINDS, SYNCED, label
from ..model.objects import (
    Change,
    Cloud,
    CloudSnapshot,
    Cluster,
    DriftRecord,
    Intent,
)
from ..state.cache import Writes, clone
from .session import Session

# Shown after a cloud's failure: the tree keeps what MiniCloud last knew of it.
LAST_KNOWN = "showing its last known state"
# Drift records kept per cloud (the oldest go): enough for ``drift --since`` over weeks.
KEPT_RECORDS = 200


def _same(a: Any, b: Any) -> bool:
    da, db = to_dict(a), to_dict(b)
    da.pop("version", None)
    db.pop("version", None)
    return da == db


class Reconciler:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._synced: set[str] = set()
        # The drift each cloud's last sync in this session absorbed (refresh reports it).
        self.drifts: dict[str, Drift] = {}

    @property
    def cache(self) -> Any:
        return self.session.inventory.cache

    def _cloud(self, name: str) -> Cloud:
        cloud = self.cache.get("cloud", name, name)
        if cloud is None:
            raise NotFoundError(f"no cloud named {name!r}")
        return cloud

    # -- syncing -------------------------------------------------------------------------------

    def sync(self, name: str, notices: bool = True) -> None:
        """Re-read one cloud through the session's driver and store what it reports."""
        cloud = self._cloud(name)
        try:
            snapshot = self.session.drivers.get(cloud).snapshot()
        except DriverError:
            self._mark_reachable(cloud, False)
            raise
        self._store_snapshot(cloud, snapshot, notices)
        self._synced.add(name)

    def sync_once(self, name: str) -> None:
        """Sync ``name`` unless this session already did (the menu's first use of a cloud)."""
        if name not in self._synced:
            self.sync(name)

    def refresh(self, name: str | None = None) -> list[str]:
        """Re-read the store (other operators' changes), then every cloud (or one),
        concurrently.  Returns one line per cloud that could not be read."""
        self.session.inventory.forget()
        clouds = [self._cloud(name)] if name else sorted(self.cache.all("cloud"),
                                                         key=lambda c: c.name)
        drivers: dict[str, Driver] = {}
        failures: list[str] = []
        for cloud in clouds:
            try:
                drivers[cloud.name] = self.session.drivers.get(cloud)
            except MiniCloudError as err:
                failures.append(str(err))

        def snap(item: tuple[str, Driver]) -> tuple[str, CloudSnapshot | DriverError]:
            try:
                return item[0], item[1].snapshot()
            except DriverError as err:
                return item[0], err

        with ThreadPoolExecutor(max_workers=max(1, min(8, len(drivers)))) as pool:
            results = list(pool.map(snap, drivers.items()))
        for cloud_name, result in results:
            cloud = self._cloud(cloud_name)
            if isinstance(result, DriverError):
                self._mark_reachable(cloud, False)
                failures.append(f"{result}; {LAST_KNOWN}")
                continue
            self._store_snapshot(cloud, result)
            self._synced.add(cloud_name)
        self.settle_all(synced=True)
        return failures

    # -- interrupted writes ---------------------------------------------------------------------

    def settle_intents(self, cloud: str, dead: list[Intent], synced: bool = False) -> None:
        """Finish writes whose process is gone, as the cloud shows them: what they created
        is adopted by the sync (it carries MiniCloud's mark); a change they made to someone
        else's resource is recorded when the cloud shows it made, so that Reset undoes it."""
        if self.cache.get("cloud", cloud, cloud) is None:
            self._abandon_add(cloud, dead)
            return
        if not synced:
            self.sync(cloud)
        cache = self.cache
        with self.session.inventory.write(cloud=cloud) as tx:
            for intent in dead:
                for data in intent.changes:
                    change = made_change(cache, cloud, data)
                    if change is None:
                        continue
                    opposite = cache.get("change", cloud, change.opposite_id or "")
                    if opposite is not None:
                        tx.delete(opposite, force=True)  # the two cancel out
                    else:
                        tx.put(change, force=True)
                tx.delete(intent, force=True)
        for intent in dead:
            self.session.notify(f"cloud {cloud}: an interrupted write was settled as the cloud "
                                f"shows it ({intent.name})")

    def _abandon_add(self, cloud: str, dead: list[Intent]) -> None:
        """An "add cloud" that never finished is dropped; what its setup made stays in the
        cloud (a Stub cloud's external network and default group), as for any cloud
        MiniCloud forgets, and adding the name again finds it.  No driver is built for it:
        one that cannot be (a location that cannot be opened) must not keep the intent."""
        self.session.drivers.forget(cloud)
        with self.session.inventory.write(cloud=cloud) as tx:
            for intent in dead:
                tx.delete(intent, force=True)
        self.session.notify(f"cloud {cloud}: an interrupted add was undone")

    def settle_all(self, synced: bool = False) -> None:
        """Settle every cloud's interrupted writes (the menu's start, refresh)."""
        ledger = self.session.ledger
        for cloud in sorted(c.name for c in self.cache.all("cloud")):
            try:
                dead = ledger.dead(cloud)
                if dead:
                    self.settle_intents(cloud, dead, synced)
            except MiniCloudError as err:
                self.session.notify(f"cloud {cloud}: interrupted writes not settled: {err}")

    # -- writing what a cloud reports ----------------------------------------------------------

    def _mark_reachable(self, cloud: Cloud, reachable: bool) -> None:
        if cloud.reachable != reachable:
            changed = clone(cloud)
            changed.reachable = reachable
            with self.session.inventory.write(cloud=cloud.name) as tx:
                tx.put(changed, force=True)

    def _store_snapshot(self, cloud: Cloud, snapshot: CloudSnapshot,
                        notices: bool = True) -> None:
        """Apply a cloud's listing, with when it was read and the drift it absorbed (what
        changed outside MiniCloud), in one transaction."""
        drift = self.drift_of(cloud, snapshot)
        with self.session.inventory.write(cloud=cloud.name) as tx:
            changed = clone(cloud)
            changed.reachable = True
            changed.synced_at = drift.at
            changed.drift = len(drift.differences)
            tx.put(changed, force=True)
            if drift.found:
                tx.put(DriftRecord(cloud.name, f"{drift.at:.6f}-{uuid.uuid4().hex[:8]}", "",
                                   owned=True, at=drift.at,
                                   differences=[d.as_dict() for d in drift.differences]))
                earlier = self.records(cloud.name)
                for old in earlier[:max(0, len(earlier) - (KEPT_RECORDS - 1))]:
                    tx.delete(old, force=True)
            self.apply(tx, cloud, snapshot, notices)
        self.drifts[cloud.name] = drift

    def drift_of(self, cloud: Cloud, snapshot: CloudSnapshot) -> Drift:
        """What the listing shows changed outside MiniCloud since the store's copy."""
        stored = [o for kind in WATCHED for o in self.cache.all(kind, cloud.name)]
        return Drift(cloud.name, self.session.store.now(),
                     compare(stored, snapshot.resources()))

    def records(self, cloud: str) -> list[DriftRecord]:
        """The drift the syncs of a cloud recorded, oldest first."""
        return sorted(self.cache.all("drift", cloud), key=lambda r: (r.at, r.id))

    def check(self, name: str) -> Drift:
        """Read a cloud and say what changed outside MiniCloud, changing nothing (not even
        its reachability): ``minicloud drift``."""
        cloud = self._cloud(name)
        return self.drift_of(cloud, self.session.drivers.get(cloud).snapshot())

    def apply(self, tx: Writes, cloud: Cloud, snapshot: CloudSnapshot, notices: bool) -> None:
        """Write what the cloud reports; drop what it no longer has; adopt MiniCloud's own."""
        reported = {(obj.kind, obj.id): obj for obj in snapshot.resources()}
        self._drop_missing(tx, cloud, reported, notices)
        for (kind, ident), obj in reported.items():
            old = self.cache.get(kind, cloud.name, ident)
            if old is None:
                if notices and obj.owned and KINDS[kind].noticed:
                    self.session.notify(f"{label(kind)} {obj.name} in cloud {cloud.name} was "
                                        "created by MiniCloud but not recorded: adopted")
                tx.put(obj, force=True)
            elif not _same(old, obj):
                tx.put(obj, force=True)
        # Cluster membership comes from the servers themselves.
        for instance in snapshot.instances:
            if instance.cluster and self.cache.get("cluster", cloud.name,
                                                   instance.cluster) is None:
                tx.put(Cluster(cloud.name, instance.cluster), force=True)
        # Changes to objects that are gone need no undoing.
        present = {ident for _, ident in reported}
        for change in self.cache.all("change", cloud.name):
            if change.target_id not in present:
                tx.delete(change, force=True)

    def _drop_missing(self, tx: Writes, cloud: Cloud, reported: dict[tuple[str, str], Any],
                      notices: bool) -> None:
        for kind in SYNCED:
            for old in self.cache.all(kind, cloud.name):
                if (kind, old.id) not in reported:
                    tx.delete(old, force=True)
                    if notices and KINDS[kind].noticed:
                        self.session.notify(f"{label(kind)} {old.name} is no longer in cloud "
                                            f"{cloud.name}: dropped")


def made_change(cache: Any, cloud: str, data: dict[str, Any]) -> Change | None:
    """The change record ``data`` describes, when the cloud (as just synced) shows it made."""
    if data.get("name") not in Change.OPPOSITES and data.get("name") != "power":
        return None  # not a change record (an added cloud's own description)
    change = from_dict(Change, data)
    if change.network_id is None and data.get("network_name"):
        net = next((n for n in cache.all("network", cloud)
                    if n.name == data["network_name"] and n.owned), None)
        if net is None:
            return None
        change = Change.of(cloud, change.name, change.target_id, net.id, change.detail)
    what, target = change.name, change.target_id
    if what.startswith(("interface", "gateway")):
        router = cache.get("router", cloud, target)
        if router is None:
            return None
        if what.startswith("interface"):
            present = change.network_id in router.interface_network_ids
        else:
            present = router.gateway_network_id == change.network_id
        return change if present == (not what.endswith("_removed")) else None
    if what in ("association", "disassociation"):
        ip = cache.get("public_ip", cloud, target)
        if ip is None:
            return None
        return change if bool(ip.instance_id) == (what == "association") else None
    server = cache.get("instance", cloud, target)
    if server is None:
        return None
    if what.startswith("server_group"):  # ``detail`` names the group
        present = change.detail in server.security_groups
        return change if present == (what == "server_group") else None
    if what == "power":
        return change if server.status != change.detail else None
    return None
