"""The unit of work: every change to the store goes through here (DESIGN.md sections 1 and 7).

An object write (a manager's create, change or removal, a cluster, a cloud's update, a
Reset of one cloud) goes:

1. ``begin``: the dead intents of its cloud are settled first, by the settler this unit of
   work was given when it was built (the managers' side: settling needs the cloud read);
   then one short write transaction takes the locks it needs (the store's lock row for
   clouds added and removed and for Destroy; the cloud's own lock row otherwise), checks
   that the cloud is still the **incarnation** this session read and that no removal or
   Destroy is pending in it, checks every claim (state/claims.py) against the store's rows,
   counting what live pending intents of other sessions will take as taken, records the
   **intent** and commits;
2. the cloud calls run outside any transaction (the caller's part, under ``running`` and the
   caller's undo);
3. ``settle``: the results, the change records and the end of the intent are written in one
   transaction that checks the incarnation again and bumps the cloud's generation; the cache
   changes last.  If a cloud step fails, what was done is undone and the intent dropped; if
   the settle commit fails, the intent stays pending and is settled at the next write or
   refresh.  A settle nothing undoes (a Reset's: ``done``) is also kept by this session and
   written first at its next read or write, so that its copy of the store never goes on
   showing what the cloud no longer has (Inventory.later).

Beside it: a cloud added (``begin_add``/``settle_add``: a new incarnation drawn, its first
listing written with its row), removed (``begin_remove``: it waits for the live intents of
other sessions in the cloud, then refuses in one line; ``forget_cloud``: every row the store
has of it, its intents included), a sync's listing (``baseline`` before it is taken,
``record_listing`` after: state/listing.py states the rule) with its drift record, a
reachability mark, the intents of killed processes ended (``end_dead``), and Destroy (an
intent of the whole store, then every table emptied).

Incarnations: a cloud's row carries a random ``incarnation`` drawn when it is added.  Removing
the cloud deletes the row, adding the name again draws another one, Destroy deletes them all
(and bumps the store's epoch, the ``*`` lock's generation).  A session writes only into the
incarnation it read; otherwise it is refused in one line and reads the cloud again.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from ..model.codec import from_dict, to_dict
from ..model.drift import Drift, compare
from ..model.errors import (
    Interrupted,
    InUseError,
    LeftoverError,
    MiniCloudError,
    NotFoundError,
    StoreError,
)
from ..model.kinds import CLOUD, INTENT, KINDS
from ..model.objects import Change, Cloud, CloudSnapshot, DriftRecord, Intent
from .cache import Writes, WriteTransaction
from .claims import WHOLE_CLOUD, Claim, CloudBusy, Exists, Name, StoreRows, WholeCloud
from .intents import (
    LEASE_SECONDS,
    RENEW_SECONDS,
    owner_alive,
    read_intents,
    recorded_here,
    this_process,
)
from .listing import BASELINE_KINDS, KEPT_RECORDS, Baseline, Merge, merge
from .store import STORE_LOCK
from .table import record_key

if TYPE_CHECKING:
    from .cache import Inventory
    from .store import Store

log = logging.getLogger("minicloud")

# How long a removal (or Destroy) waits for other sessions' writes in progress before it
# refuses, and how often it looks again.
REMOVE_WAIT_SECONDS = 10.0
WAIT_STEP_SECONDS = 0.1
# The meta row an older MiniCloud marked a Destroy under way with (read, then cleared).
DESTROYING = "destroying"
DESTROY = "destroy all data"


class Settler(Protocol):
    """Settles the dead intents of one cloud as the cloud shows them (the reconciler's side
    of the managers).  It is handed the unit of work to write through."""

    def settle(self, work: UnitOfWork, cloud: str, dead: list[Intent]) -> None: ...


def gone(cloud: str) -> NotFoundError:
    return NotFoundError(f"cloud {cloud} was removed by another session; nothing was changed")


def left_pending(intent: Intent) -> str:
    """What an interrupted write says of its intent."""
    return f"{intent.name} left pending (the next write or refresh settles it)"


def is_removal(intent: Intent) -> bool:
    """The intent of a cloud's removal (or of Destroy): it claims the whole cloud."""
    return WHOLE_CLOUD in intent.claims


def added_cloud(intent: Intent) -> Cloud | None:
    """The cloud an "add cloud" intent was adding (None for any other intent)."""
    data = next((c.get("cloud") for c in intent.changes
                 if isinstance(c, dict) and c.get("name") == "cloud"), None)
    if not isinstance(data, dict):
        return None
    try:
        return from_dict(Cloud, data)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


@dataclasses.dataclass
class Listed:
    """What writing a listing did: the drift it absorbed, what it adopted and dropped, and
    whether other sessions had writes in progress in the cloud (then those may be theirs)."""

    drift: Drift
    merge: Merge
    busy: bool


def _data(obj: Any) -> dict[str, Any]:
    data = to_dict(obj)
    data.pop("version", None)
    return data


class UnitOfWork:
    def __init__(self, store: Store, inventory: Inventory,
                 settler: Settler | None = None) -> None:
        """``settler``: what settles the dead intents of a cloud before a write to it (none:
        they are left pending, and only counted as taken)."""
        self.store = store
        self.inventory = inventory
        self.settler = settler
        # This session, as the owner of its intents names it.
        self.session = uuid.uuid4().hex
        # The intents this session is running (recorded, not settled yet).
        self.active: dict[str, Intent] = {}
        # A Ctrl-C that came during a settle whose commit happened: raised once the
        # operation's block ends, so that no undo takes back what the store now records.
        self._interrupted_after_settle: KeyboardInterrupt | None = None
        self._renewed = 0.0

    # -- reading intents -----------------------------------------------------------------------

    def _pending(self, cloud: str | None) -> list[Intent]:
        """The pending intents of ``cloud`` (of the whole store when None)."""
        return read_intents(self.store, cloud)

    def _others(self, intents: Iterable[Intent]) -> list[Intent]:
        return [i for i in intents if i.id not in self.active]

    def _is_dead(self, intent: Intent, now: float) -> bool:
        """Nobody will finish it: its process is gone, or it is this session's and this
        session no longer runs it."""
        return intent.id not in self.active and (
            not owner_alive(intent, now) or recorded_here(intent, self.session))

    def _dead(self, cloud: str | None) -> list[Intent]:
        """Dead intents of ``cloud`` (of every cloud, known or not, when None)."""
        intents = self._pending(cloud)
        if not intents:
            return []
        now = self.store.now()
        return [i for i in intents if self._is_dead(i, now)]

    def dead_by_cloud(self) -> dict[str, list[Intent]]:
        """Every cloud's dead intents, the clouds the store no longer (or not yet) knows
        included: a killed "add cloud" has no cloud row.  Destroy's own are left out."""
        found: dict[str, list[Intent]] = {}
        for intent in self._dead(None):
            if intent.cloud != STORE_LOCK:
                found.setdefault(intent.cloud, []).append(intent)
        return dict(sorted(found.items()))

    def claimed_by_others(self, cloud: str, claim: Claim) -> bool:
        """Does a pending write of another session (live or not) take ``claim`` in
        ``cloud``?  (A session that lost a race asks what the winner is taking.)"""
        return claim.text is not None and any(
            claim.text in i.claims for i in self._others(self._pending(cloud)))

    def settle_dead(self, cloud: str) -> None:
        """Hand the dead intents of ``cloud`` to the settler."""
        dead = self._dead(cloud)
        if dead and self.settler is not None:
            self.settler.settle(self, cloud, dead)

    # -- object writes -------------------------------------------------------------------------

    def begin(self, cloud: str, what: str, claims: Iterable[Claim] = (),
              changes: Iterable[Change | dict[str, Any]] = (),
              requires: Iterable[tuple[str, str]] = ()) -> Intent:
        """Record an intent in ``cloud`` after re-checking the store, under the cloud's lock.
        ``requires``: (kind, id) of objects the write relies on (existence claims)."""
        self.inventory.catch_up()  # a settle this session could not write comes first
        self.settle_dead(cloud)
        checked = [*claims, *(Exists(kind, ident) for kind, ident in requires)]
        return self._record(cloud, what, checked, changes, self._incarnation(cloud))

    def _incarnation(self, cloud: str) -> str:
        """The incarnation of ``cloud`` this session read (refused when it read none)."""
        row = self.inventory.cache.get(CLOUD, cloud, cloud)
        if row is None:
            raise gone(cloud)
        return str(row.incarnation)

    def _record(self, cloud: str, what: str, claims: Sequence[Claim],
                changes: Iterable[Change | dict[str, Any]], incarnation: str,
                store_wide: bool = False, new_cloud: bool = False) -> Intent:
        self.renew()
        store = self.store
        held = self.inventory.generations.get(cloud, 0)
        found = [held]
        locks = ((STORE_LOCK,) if store_wide else ()) + (cloud,)
        # Drawn once, so that every run of the transaction records the same intent, and a
        # commit whose answer was lost is resolved by reading it back.
        ident = uuid.uuid4().hex

        def body(conn: Any) -> Intent:
            found[0] = store.generation(conn, cloud)
            mine = self._own(cloud, ident)
            if mine is not None:  # an earlier run's commit happened after all
                return mine
            rows = StoreRows(store, cloud)
            # A new cloud's name is checked against every add pending in the store.
            pending = self._others(self._pending(None if new_cloud else cloud))
            if not new_cloud:
                self._check_cloud(rows, incarnation, pending)
            self._check_store()
            now = store.now()
            live = [i for i in pending if not self._is_dead(i, now)]
            for claim in claims:
                claim.check(rows, live if isinstance(claim, WholeCloud) else pending)
            intent = Intent(cloud, ident, what, owned=True,
                            claims=[c.text for c in claims if c.text is not None],
                            changes=[c if isinstance(c, dict) else _data(c) for c in changes],
                            owner=this_process(self.session),
                            lease_until=now + LEASE_SECONDS, incarnation=incarnation)
            intent.version = store.kind("intent").put(record_key(cloud, intent.id), cloud,
                                                      _data(intent), expected=0)
            return intent

        try:
            intent = store.retrying(body, write=True, locks=locks,
                                    verify=lambda conn: self._own(cloud, ident) is not None)
        finally:
            # Whatever the answer, this session now sees the cloud as the store has it.
            if found[0] != held:
                self.inventory.reload_cloud(cloud)
                self.inventory.generations[cloud] = found[0]
        self.active[intent.id] = intent
        return intent

    def _own(self, cloud: str, ident: str) -> Intent | None:
        """The intent ``ident`` of ``cloud`` as the store has it (None when it has none): how
        a commit whose answer was lost is told to have happened or not."""
        found: Intent | None = StoreRows(self.store, cloud).get(INTENT, ident)
        return found

    def _recorded(self, intent: Intent) -> bool:
        return self._own(intent.cloud, intent.id) is not None

    def _check_cloud(self, rows: StoreRows, incarnation: str,
                     pending: Sequence[Intent]) -> Cloud:
        """The cloud's row as the store has it, when it is the incarnation this session read
        and no removal of it is pending; otherwise a one-line refusal (and this session reads
        the cloud again)."""
        row = rows.get(CLOUD, rows.cloud)
        if row is None or row.incarnation != incarnation:
            self.inventory.reload_cloud(rows.cloud)
            raise gone(rows.cloud)
        if any(is_removal(i) for i in pending):
            raise InUseError(f"cloud {rows.cloud} is being removed by another session; nothing "
                             "was changed")
        return row

    def _check_store(self) -> None:
        """No Destroy of another session pending (its intent is the whole store's)."""
        if self._others(self._pending(STORE_LOCK)):
            raise InUseError("all data is being destroyed by another session; nothing was "
                             "changed")

    @contextmanager
    def running(self, intent: Intent, undone: bool = True) -> Iterator[Intent]:
        """Around an operation's cloud calls: an error drops the intent once its undo is
        done.  It stays pending, for the settler to settle as the cloud shows it, when the
        undo left something behind, when the settle failed, or on Ctrl-C or an exit: those
        can land just after a cloud call took effect and before its undo was known.  Ctrl-C
        goes on as an interruption that says so (exit 130, one line).  ``undone``: False
        when no undo takes the cloud calls back (a Reset's): any error leaves the intent
        pending."""
        try:
            yield intent
        except KeyboardInterrupt as interrupt:
            self._release(intent)
            raise Interrupted.adding(interrupt, left_pending(intent)) from interrupt
        except (LeftoverError, SystemExit):
            self._release(intent)
            raise
        except BaseException:
            if not undone:
                self._release(intent)
            elif intent.id in self.active:
                self.drop(intent)
            raise
        after, self._interrupted_after_settle = self._interrupted_after_settle, None
        if after is not None:
            raise after  # the operation is done and recorded: exit 130 all the same

    def settle(self, intent: Intent, puts: Iterable[Any] = (),
               deletes: Iterable[Any] = (), done: bool = False) -> None:
        """Write what the cloud calls did and end the intent, in one transaction, in the
        incarnation the intent was recorded in.  When the commit fails, the intent stays
        pending (the next write or refresh settles it as the cloud shows it).  ``done``: no
        undo takes the cloud calls back (a Reset's): a settle the store cannot take (a full
        disk) is also written first at this session's next read or write (Inventory.later),
        so that its copy of the store does not show what the cloud no longer has for long."""
        writes = Writes()
        for obj in puts:
            if obj is not None:
                writes.put(obj, force=True)
        for obj in deletes:
            writes.delete(obj, force=True)
        writes.delete(intent, force=True)
        try:
            self._settle(intent, writes)
        except KeyboardInterrupt as interrupt:
            # Held during the commit and raised after it: when the commit happened, the
            # cloud calls are recorded and must not be undone (the store would list what the
            # cloud no longer has); the interruption goes on after the operation's block.
            if self._recorded(intent):
                self._release(intent)
                raise
            self.active.pop(intent.id, None)
            self._interrupted_after_settle = interrupt
            return
        except BaseException as err:
            self._release(intent)
            if done and isinstance(err, StoreError):
                self.inventory.later(lambda: self._settle(intent, writes, late=True))
            raise
        self.active.pop(intent.id, None)

    def _settle(self, intent: Intent, writes: Writes, late: bool = False) -> None:
        """``settle``'s transaction, run again as a whole when it conflicts or loses its node,
        and resolved by reading the intent back when its commit's answer was lost (the
        settle ends it).  ``late``: written after the session went on, when the intent is
        still pending (the settler may have settled it from the cloud meanwhile: then
        nothing is written)."""
        runs = [0]

        def body(tx: WriteTransaction) -> None:
            runs[0] += 1
            if (late or runs[0] > 1) and not self._recorded(intent):
                return  # settled meanwhile, or an earlier run's commit happened after all
            row = StoreRows(self.store, intent.cloud).get(CLOUD, intent.cloud)
            if row is None or row.incarnation != intent.incarnation:
                raise NotFoundError(f"cloud {intent.cloud} was removed by another session "
                                    "meanwhile; nothing was recorded")
            tx.apply(writes)

        self.inventory.retrying([intent.cloud], body,
                                verify=lambda: not self._recorded(intent))

    def drop(self, intent: Intent) -> None:
        """End an intent whose cloud calls were all undone (or never made)."""
        self.active.pop(intent.id, None)
        writes = Writes()
        writes.delete(intent, force=True)
        try:
            self.inventory.retrying([intent.cloud], lambda tx: tx.apply(writes),
                                    verify=lambda: not self._recorded(intent))
        except MiniCloudError as err:
            log.warning("intent %s left pending: %s", intent.id, err)

    def _release(self, intent: Intent) -> None:
        """Leave an intent pending: the next write or refresh settles it."""
        self.active.pop(intent.id, None)

    def renew(self) -> None:
        """Extend the leases of this session's running intents (while it waits, and before
        each of its writes)."""
        if not self.active:
            return
        store = self.store
        now = store.now()
        if now - self._renewed < RENEW_SECONDS:
            return
        self._renewed = now
        until = now + LEASE_SECONDS

        def body(conn: Any) -> None:  # unversioned puts: right to run again
            for intent in self.active.values():
                intent.lease_until = until
                store.kind("intent").put(record_key(intent.cloud, intent.id), intent.cloud,
                                         _data(intent))

        def renewed(conn: Any) -> bool:
            return all(getattr(self._own(i.cloud, i.id), "lease_until", None) == until
                       for i in self.active.values())

        try:
            store.retrying(body, write=True, verify=renewed)
        except MiniCloudError as err:
            log.warning("could not renew the leases of running writes: %s", err)

    def end_dead(self, cloud: str, dead: Iterable[Intent], puts: Iterable[Any] = (),
                 deletes: Iterable[Any] = ()) -> None:
        """End intents whose process is gone, with what the settler found they did."""
        dead = list(dead)
        writes = Writes()
        for obj in puts:
            writes.put(obj, force=True)
        for obj in [*deletes, *dead]:
            writes.delete(obj, force=True)
        clouds = {cloud, *(o.key[0] for o, _ in (*writes.puts, *writes.deletes))}
        self.inventory.retrying(clouds, lambda tx: tx.apply(writes),
                                verify=lambda: not any(self._recorded(i) for i in dead))

    # -- clouds --------------------------------------------------------------------------------

    def stored_cloud(self, cloud: str) -> Cloud | None:
        """The cloud's row as the store has it now (not this session's copy)."""
        row: Cloud | None = self.store.retrying(
            lambda conn: StoreRows(self.store, cloud).get(CLOUD, cloud))
        return row

    def begin_add(self, cloud: Cloud) -> Intent:
        """Record the add of a new cloud under the store's lock (a second add of the name
        waits, then is refused, before it touches the cloud); the cloud's incarnation is
        drawn here."""
        self.settle_dead(cloud.name)  # a killed add of the same name is undone first
        cloud.incarnation = uuid.uuid4().hex
        return self._record(cloud.name, f"add cloud {cloud.name}", [Name("cloud", cloud.name)],
                            [{"name": "cloud", "cloud": to_dict(cloud)}], cloud.incarnation,
                            store_wide=True, new_cloud=True)

    def settle_add(self, intent: Intent, cloud: Cloud, snapshot: CloudSnapshot) -> None:
        """Write the added cloud with its first listing, and end its intent."""
        name = cloud.name
        writes = Writes()
        writes.put(cloud)
        for obj in merge(Baseline(cloud, 0, {}), None, snapshot).puts:
            writes.put(obj, force=True)
        writes.delete(intent, force=True)

        def added() -> bool:
            """The cloud is in the store as this add wrote it (its intent ended)."""
            row = StoreRows(self.store, name).get(CLOUD, name)
            return row is not None and row.incarnation == cloud.incarnation \
                and not self._recorded(intent)

        def body(tx: WriteTransaction) -> None:
            if not self._recorded(intent):
                if added():
                    return  # an earlier run's commit happened after all
                raise MiniCloudError(f"the add of cloud {name} was undone by another "
                                     "session, which took this one for dead; add it again")
            tx.apply(writes)

        try:
            self.inventory.retrying([name], body, store_wide=True, verify=added)
        except BaseException:
            self._release(intent)
            raise
        self.active.pop(intent.id, None)

    def begin_remove(self, cloud: str) -> Intent:
        """Record a cloud's removal under the store's lock.  Dead intents in it are settled
        first (when they cannot be, they go with the cloud); live ones of other sessions are
        waited for a while, then the removal is refused in one line."""
        try:
            self.settle_dead(cloud)
        except MiniCloudError as err:
            log.warning("cloud %s: interrupted writes not settled, forgotten with it: %s",
                        cloud, err)
        incarnation = self._incarnation(cloud)
        deadline = time.monotonic() + REMOVE_WAIT_SECONDS
        while True:
            try:
                return self._record(cloud, f"remove cloud {cloud}", [WholeCloud()], (),
                                    incarnation, store_wide=True)
            except CloudBusy:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(WAIT_STEP_SECONDS)

    def forget_cloud(self, intent: Intent) -> None:
        """Forget the cloud of a removal intent: every row the store has of it, its intents
        included, in one store-wide transaction.  Nothing is done when the cloud is no longer
        that incarnation (another session finished the removal, and the name was added
        again since)."""
        cloud = intent.cloud

        def body(tx: WriteTransaction) -> None:  # deletes only: right to run again
            row = StoreRows(self.store, cloud).get(CLOUD, cloud)
            if row is None or row.incarnation == intent.incarnation:
                tx.delete_cloud(cloud)

        self.inventory.retrying([cloud], body, store_wide=True,
                                verify=lambda: not self._recorded(intent))
        self.active.pop(intent.id, None)

    # -- syncs ---------------------------------------------------------------------------------

    def baseline(self, cloud: str) -> Baseline:
        """The cloud as the store has it, read in one transaction before its listing is
        taken; refused in one line when it is not the incarnation this session read."""
        expected = self._incarnation(cloud)

        def read(conn: Any) -> tuple[int, Cloud | None, dict[tuple[str, str], Any]]:
            rows = StoreRows(self.store, cloud)
            return (self.store.generations().get(cloud, 0), rows.get(CLOUD, cloud),
                    {(o.kind, o.id): o for kind in BASELINE_KINDS for o in rows.all(KINDS[kind])})

        generation, row, objects = self.store.retrying(read)
        if row is None or row.incarnation != expected:
            self.inventory.reload_cloud(cloud)
            raise gone(cloud)
        return Baseline(row, generation, objects)

    def record_listing(self, baseline: Baseline, snapshot: CloudSnapshot) -> Listed:
        """Write a cloud's listing as state/listing.py says, with when it was read, the drift
        it absorbed (recorded when there is any) and the cloud marked reachable."""
        name = baseline.cloud.name
        at = self.store.now()
        mark = uuid.uuid4().hex[:8]

        def body(tx: WriteTransaction) -> Listed:
            rows = StoreRows(self.store, name)
            pending = self._others(self._pending(name))
            row = self._check_cloud(rows, baseline.cloud.incarnation, pending)
            self._check_store()
            current = None
            if tx.generations[name] != baseline.generation:
                current = {(o.kind, o.id): o for kind in BASELINE_KINDS
                           for o in rows.all(KINDS[kind])}
            found = merge(baseline, current, snapshot,
                          lambda key: self.store.unreadable_object(key[0], name, key[1]))
            drift = Drift(name, at, compare(found.before, found.after))
            writes = Writes()
            writes.put(dataclasses.replace(row, reachable=True, synced_at=at,
                                           drift=len(drift.differences)), force=True)
            for obj in found.puts:
                writes.put(obj, force=True)
            for obj in found.deletes:
                writes.delete(obj, force=True)
            if drift.found:
                writes.put(DriftRecord(name, f"{at:.6f}-{mark}", "", owned=True, at=at,
                                       differences=[d.as_dict() for d in drift.differences]),
                           force=True)
                records = sorted((r for r in (current or baseline.rows).values()
                                  if r.kind == "drift"), key=lambda r: (r.at, r.id))
                for old in records[:max(0, len(records) - (KEPT_RECORDS - 1))]:
                    writes.delete(old, force=True)
            tx.apply(writes)
            return Listed(drift, found, busy=bool(pending))

        def written() -> bool:
            """The listing's commit happened: the cloud's row has its time."""
            row = StoreRows(self.store, name).get(CLOUD, name)
            return row is not None and row.synced_at == at

        listed: Listed = self.inventory.retrying([name], body, verify=written)
        return listed

    def mark_reachable(self, cloud: Cloud, reachable: bool) -> None:
        """Say whether the last contact with the cloud worked (nothing when it is gone)."""
        if cloud.reachable == reachable:
            return

        def body(tx: WriteTransaction) -> None:  # a put of the row as read: right to rerun
            row = StoreRows(self.store, cloud.name).get(CLOUD, cloud.name)
            if row is not None and row.incarnation == cloud.incarnation and \
                    row.reachable != reachable:
                writes = Writes()
                writes.put(dataclasses.replace(row, reachable=reachable), force=True)
                tx.apply(writes)

        self.inventory.retrying([cloud.name], body)

    # -- Destroy -------------------------------------------------------------------------------

    def interrupted_destroy(self) -> bool:
        """A Destroy was begun and its session is gone (or an older MiniCloud's mark)."""
        now = None
        for intent in self._others(self._pending(STORE_LOCK)):
            now = now if now is not None else self.store.now()
            if self._is_dead(intent, now):
                return True
        return self.store.meta(DESTROYING) is not None

    def begin_destroy(self) -> Intent:
        """Record a Destroy under the store's lock: dead intents are settled first (those
        that cannot be go with the tables); live ones of other sessions are waited for a
        while, then it is refused in one line.  Once it is recorded, other sessions' writes
        are refused until it is done."""
        for cloud in self.dead_by_cloud():
            try:
                self.settle_dead(cloud)
            except MiniCloudError as err:
                log.warning("cloud %s: interrupted writes not settled, destroyed: %s", cloud, err)
        deadline = time.monotonic() + REMOVE_WAIT_SECONDS
        while True:
            try:
                return self._record_destroy()
            except CloudBusy:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(WAIT_STEP_SECONDS)

    def _record_destroy(self) -> Intent:
        self.renew()
        store = self.store
        ident = uuid.uuid4().hex  # every run records this one (see _record)

        def body(conn: Any) -> Intent:
            mine = self._own(STORE_LOCK, ident)
            if mine is not None:  # an earlier run's commit happened after all
                return mine
            now = store.now()
            others = self._others(self._pending(None))
            live = [i for i in others if not self._is_dead(i, now)]
            if live:
                raise CloudBusy(None, sorted(f"{i.name} in cloud {i.cloud}" for i in live))
            for earlier in [i for i in others if i.cloud == STORE_LOCK]:  # finished by this one
                store.kind("intent").delete(record_key(STORE_LOCK, earlier.id))
            intent = Intent(STORE_LOCK, ident, DESTROY, owned=True,
                            claims=[WHOLE_CLOUD], owner=this_process(self.session),
                            lease_until=now + LEASE_SECONDS)
            intent.version = store.kind("intent").put(record_key(STORE_LOCK, intent.id),
                                                      STORE_LOCK, _data(intent), expected=0)
            return intent

        # Every cloud's lock too: a write that records its intent meanwhile is either seen
        # here (and waited for), or sees this one (and is refused).
        intent = store.retrying(body, write=True, locks=(STORE_LOCK, *self._cloud_names()),
                                verify=lambda conn: self._own(STORE_LOCK, ident) is not None)
        self.active[intent.id] = intent
        return intent

    def _cloud_names(self) -> list[str]:
        """Every cloud the store knows, in name order (read before their locks are taken;
        a cloud is added under the store's lock, which whoever asks this takes next)."""
        return sorted(str(data.get("name")) for data, _ in self.store.retrying(
            lambda conn: self.store.kind("cloud").rows()))

    def empty_all(self, intent: Intent) -> None:
        """The end of a Destroy: every row of every table (the intents included, this one
        too) in one store-wide transaction; every cloud's generation and the store's epoch
        bumped, so that every open session sees it at its next read or write."""
        def body(tx: WriteTransaction) -> None:  # emptying: right to run again
            self.store.empty_all()
            self.store.set_meta(DESTROYING, None)

        self.inventory.retrying(self._cloud_names(), body, store_wide=True,
                                verify=lambda: not self._recorded(intent))
        self.active.pop(intent.id, None)
        self.inventory.forget()
