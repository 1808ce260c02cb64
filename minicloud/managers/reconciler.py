"""The reconciler: reads clouds and brings the store (and the cache) to what they report.

It is called explicitly (refresh, the menu's first use of a cloud, reset), never from a getter.
Every listing goes through the unit of work: the cloud's rows are read before the listing is
taken and the listing is written only for the same incarnation of the cloud, never over what
other sessions' writes settled meanwhile (state/listing.py states the rule).  Driver errors
keep their type on the way up, so that a front end can still tell a missing password
(:class:`CredentialsNeeded`) from a cloud that is down.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ..drivers.base import Driver
from ..model.drift import WATCHED, Drift, compare
from ..model.errors import DriverError, InUseError, MiniCloudError, NotFoundError
from ..model.kinds import CLOUD, DRIFT, KINDS, label
from ..model.objects import Cloud, CloudSnapshot, DriftRecord
from ..state.cache import Cache
from ..state.listing import Baseline
from ..state.unit_of_work import Listed
from .session import Session

# Shown after a cloud's failure: the tree keeps what MiniCloud last knew of it.
LAST_KNOWN = "showing its last known state"
# A cloud removed (or being removed, or destroyed) by another session while a refresh reads
# it: said, not a failure of the refresh.
GONE = (NotFoundError, InUseError)


def read_cloud(session: Session, cloud: Cloud, notices: bool = True) -> Drift:
    """One sync of ``cloud``: its rows read, its listing taken through the session's driver,
    then written (with the drift it absorbed).  A cloud that cannot be read is marked so."""
    work = session.work
    baseline = work.baseline(cloud.name)
    try:
        snapshot = session.drivers.get(cloud).snapshot()
    except DriverError:
        work.mark_reachable(cloud, False)
        raise
    return write_listing(session, baseline, snapshot, notices)


def write_listing(session: Session, baseline: Baseline, snapshot: CloudSnapshot,
                  notices: bool = True) -> Drift:
    """Write a listing taken after ``baseline`` and say, in one line each, what it adopted
    and dropped (unless other sessions were writing there: then it may be their doing)."""
    listed = session.work.record_listing(baseline, snapshot)
    if notices and not listed.busy:
        _notices(session, baseline.cloud.name, listed)
    return listed.drift


def _notices(session: Session, cloud: str, listed: Listed) -> None:
    for obj in listed.merge.adopted:
        if obj.owned and KINDS[obj.kind].noticed:
            session.notify(f"{label(obj.kind)} {obj.name} in cloud {cloud} was created by "
                           "MiniCloud but not recorded: adopted")
    for obj in listed.merge.dropped:
        if KINDS[obj.kind].noticed:
            session.notify(f"{label(obj.kind)} {obj.name} is no longer in cloud {cloud}: "
                           "dropped")


class Reconciler:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._synced: set[str] = set()
        # The drift each cloud's last sync in this session absorbed (refresh reports it).
        self.drifts: dict[str, Drift] = {}

    @property
    def cache(self) -> Cache:
        return self.session.inventory.cache

    def _cloud(self, name: str) -> Cloud:
        cloud = self.cache.get(CLOUD, name, name)
        if cloud is None:
            raise NotFoundError(f"no cloud named {name!r}")
        return cloud

    # -- syncing -------------------------------------------------------------------------------

    def sync(self, name: str, notices: bool = True) -> None:
        """Re-read one cloud through the session's driver and store what it reports."""
        self.drifts[name] = read_cloud(self.session, self._cloud(name), notices)
        self._synced.add(name)

    def sync_once(self, name: str) -> None:
        """Sync ``name`` unless this session already did (the menu's first use of a cloud)."""
        if name not in self._synced:
            self.sync(name)

    def refresh(self, name: str | None = None) -> list[str]:
        """Settle what killed processes left pending, re-read the store (other operators'
        changes), then every cloud (or one), concurrently.  Returns one line per cloud that
        could not be read; a cloud another session removed meanwhile is only said."""
        self.settle_all(None if name is None else [name])
        self.session.inventory.forget()
        clouds = [self._cloud(name)] if name else sorted(self.cache.all(CLOUD),
                                                         key=lambda c: c.name)
        work = self.session.work
        started: dict[str, tuple[Driver, Baseline]] = {}
        failures: list[str] = []
        for cloud in clouds:
            try:
                started[cloud.name] = (self.session.drivers.get(cloud),
                                       work.baseline(cloud.name))
            except GONE as err:
                self.session.notify(str(err))
            except MiniCloudError as err:
                failures.append(str(err))

        def snap(item: tuple[str, tuple[Driver, Baseline]]
                 ) -> tuple[str, CloudSnapshot | DriverError]:
            try:
                return item[0], item[1][0].snapshot()
            except DriverError as err:
                return item[0], err

        with ThreadPoolExecutor(max_workers=max(1, min(8, len(started)))) as pool:
            results = list(pool.map(snap, started.items()))
        for cloud_name, result in results:
            cloud = next(c for c in clouds if c.name == cloud_name)
            if isinstance(result, DriverError):
                work.mark_reachable(cloud, False)
                failures.append(f"{result}; {LAST_KNOWN}")
                continue
            try:
                self.drifts[cloud_name] = write_listing(self.session, started[cloud_name][1],
                                                        result)
            except GONE as err:
                self.session.notify(str(err))
                continue
            self._synced.add(cloud_name)
        return failures

    # -- interrupted writes ---------------------------------------------------------------------

    def settle_all(self, clouds: list[str] | None = None) -> None:
        """Settle the dead intents of every cloud (the store's, known or not; or of
        ``clouds``): the menu's start, refresh."""
        work = self.session.work
        found = work.dead_by_cloud()
        for cloud in sorted(found if clouds is None else set(found) & set(clouds)):
            try:
                work.settle_dead(cloud)
            except MiniCloudError as err:
                self.session.notify(f"cloud {cloud}: interrupted writes not settled: {err}")

    # -- what the clouds say, changing nothing ---------------------------------------------------

    def records(self, cloud: str) -> list[DriftRecord]:
        """The drift the syncs of a cloud recorded, oldest first."""
        return sorted(self.cache.all(DRIFT, cloud), key=lambda r: (r.at, r.id))

    def check(self, name: str) -> Drift:
        """Read a cloud and say what changed outside MiniCloud, changing nothing (not even
        its reachability): ``minicloud drift``."""
        cloud = self._cloud(name)
        snapshot = self.session.drivers.get(cloud).snapshot()
        stored = [o for kind in WATCHED for o in self.cache.all(kind, cloud.name)]
        # An object whose row this MiniCloud cannot read is not new: it is left out.
        unreadable = self.session.store.unreadable_object
        reported = [o for o in snapshot.resources() if not unreadable(o.kind, *o.key)]
        return Drift(cloud.name, self.session.store.now(), compare(stored, reported))
