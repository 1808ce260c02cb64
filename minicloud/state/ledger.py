"""The write protocol (DESIGN.md section 7): an intent before the cloud, a settle after it.

``begin`` opens a short store transaction that holds the cloud's write lock, re-checks what the
write relies on against the store's rows (not the session's cache), counting what live pending
intents will take as taken, and records the intent.  The cloud calls then run outside any
transaction.  ``settle`` writes their results, removes the intent and bumps the cloud's
generation in one transaction.  An intent whose process is gone is reconciled with the cloud
by the reconciler before the next write to that cloud, at start and on refresh.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..model.codec import from_dict, to_dict
from ..model.errors import (
    Interrupted,
    InUseError,
    MiniCloudError,
    NotFoundError,
    ValidationError,
)
from ..model.kinds import KINDS, label
from ..model.objects import Change, Intent
from .store import STORE_LOCK
from .table import record_key

if TYPE_CHECKING:
    from .cache import Inventory
    from .store import Store

log = logging.getLogger("minicloud")

LEASE_SECONDS = 120.0
RENEW_SECONDS = 30.0


def _start_time(pid: int) -> str | None:
    """When a process started (clock ticks since boot), or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


def this_process() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": _start_time(os.getpid())}


def owner_alive(intent: Intent, now: float) -> bool:
    """Is the process that recorded ``intent`` still there?  On this host it is asked
    directly (a recycled pid has another start time); elsewhere its lease tells."""
    owner = intent.owner
    if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int):
        started = _start_time(owner["pid"])
        return started is not None and started == owner.get("started")
    return intent.lease_until > now


class Claims:
    """What a write will take: names by kind, CIDRs, addresses.  Written as strings."""

    @staticmethod
    def name(kind: str, name: str) -> str:
        return f"name:{kind}:{name}"

    @staticmethod
    def cidr(cidr: str) -> str:
        return f"cidr:{cidr}"

    @staticmethod
    def address(network_id: str, address: str) -> str:
        return f"ip:{network_id}:{address}"

    @staticmethod
    def ensure(kind: str, name: str) -> str:
        """An object made once per cloud when missing (``public_ssh``): two writes must not
        both make it."""
        return f"ensure:{kind}:{name}"

    @staticmethod
    def taking(kind: str, ident: str) -> str:
        """An existing object a write takes (a free public IP it associates)."""
        return f"take:{kind}:{ident}"


class _StoreRows:
    """The store's own rows of one cloud, read inside the lock (never the session's cache)."""

    def __init__(self, store: Store, cloud: str):
        self.store = store
        self.cloud = cloud
        self._rows: dict[str, list[Any]] = {}

    def all(self, kind: str) -> list[Any]:
        if kind not in self._rows:
            objs = []
            for data, version in self.store.kind(kind).rows(self.cloud):
                try:
                    obj: Any = from_dict(KINDS[kind].cls, data)
                except (TypeError, ValueError, KeyError, AttributeError):
                    continue
                obj.version = version
                objs.append(obj)
            self._rows[kind] = objs
        return self._rows[kind]

    def has(self, kind: str, ident: str) -> bool:
        return self.store.kind(kind).get(record_key(self.cloud, ident)) is not None


def _check(claim: str, rows: _StoreRows, pending: list[Intent]) -> None:
    """Refuse ``claim`` when the store or a live pending write already has it."""
    others = {c for i in pending for c in i.claims}
    what, _, rest = claim.partition(":")
    if what == "name":
        kind, _, name = rest.partition(":")
        if rows.store.kind(kind).rows(rows.cloud, name=name):
            raise ValidationError(f"a {label(kind)} named {name!r} exists already in cloud "
                                  f"{rows.cloud}")
        if claim in others:
            raise ValidationError(f"a {label(kind)} named {name!r} is being created in cloud "
                                  f"{rows.cloud} by another session; try again in a moment")
    elif what == "cidr":
        _check_cidr(rest, rows, others)
    elif what == "take":
        _check_free(claim, rows, others)
    elif claim in others:
        thing = rest.rpartition(":")[2]
        raise InUseError(f"{thing} is being taken by another session; try again in a moment")


def _check_free(claim: str, rows: _StoreRows, others: set[str]) -> None:
    """An existing object a write takes (a free public IP) is still free in the store, and no
    live pending write is taking it: a session that planned from an older copy must not take
    it from the one that got there first."""
    kind, _, ident = claim.partition(":")[2].partition(":")
    record = rows.store.kind(kind).get(record_key(rows.cloud, ident))
    data = record[0] if record is not None else {}
    thing = f"{label(kind)} {data.get('name') or ident}"
    if claim in others:
        raise InUseError(f"{thing} is being taken by another session; try again in a moment")
    if data.get("instance_id"):
        raise InUseError(f"{thing} is in use by another instance")


def _check_cidr(cidr: str, rows: _StoreRows, others: set[str]) -> None:
    net = ipaddress.ip_network(cidr, strict=False)
    taken = [(n.name, c) for n in rows.all("network") for c in n.cidrs]
    taken += [("a network being created", c[len("cidr:"):]) for c in others
              if c.startswith("cidr:")]
    for name, text in taken:
        try:
            theirs = ipaddress.ip_network(text, strict=False)
        except ValueError:
            continue
        if theirs.version == net.version and net.overlaps(theirs):
            raise ValidationError(f"{net} overlaps {name} ({theirs}) in cloud {rows.cloud}")


class Ledger:
    def __init__(self, store: Store, inventory: Inventory) -> None:
        self.store = store
        self.inventory = inventory
        self.active: dict[str, Intent] = {}
        # Set by the application: settles the dead intents of a cloud (the reconciler's job).
        self.reconcile: Callable[[str, list[Intent]], None] | None = None
        self._renewed = 0.0
        self._generation = 0

    # -- reading -------------------------------------------------------------------------------

    def pending(self, cloud: str) -> list[Intent]:
        intents = []
        for data, version in self.store.kind("intent").rows(cloud):
            try:
                intent = from_dict(Intent, data)
            except (TypeError, ValueError, KeyError):
                continue
            intent.version = version
            intents.append(intent)
        return intents

    def dead(self, cloud: str) -> list[Intent]:
        """Pending intents of ``cloud`` that nobody will finish: their process is gone, or it
        is this one and the write is no longer running."""
        now = self.store.now()
        return [i for i in self.pending(cloud)
                if i.id not in self.active and (not owner_alive(i, now) or _mine(i))]

    # -- the protocol --------------------------------------------------------------------------

    def begin(self, cloud: str, what: str, claims: Iterable[str] = (),
              changes: Iterable[Change | dict[str, Any]] = (),
              requires: Iterable[tuple[str, str]] = (), store_wide: bool = False,
              new_cloud: bool = False) -> Intent:
        """Record an intent after re-checking the store, under the cloud's lock."""
        inventory = self.inventory
        inventory.catch_up()  # what this session did and could not record comes first
        dead = self.dead(cloud)
        if dead and self.reconcile is not None:
            self.reconcile(cloud, dead)
        claims = list(claims)
        locks = ((STORE_LOCK,) if store_wide else ()) + (cloud,)
        generation = inventory.generations.get(cloud, 0)
        try:
            intent = self._record(cloud, what, claims, changes, requires, locks, new_cloud)
        finally:
            # Whatever the answer, this session now sees the cloud as the store has it.
            if self._generation != generation:
                inventory.reload_cloud(cloud)
                inventory.generations[cloud] = self._generation
        self.active[intent.id] = intent
        self._renewed = intent.lease_until - LEASE_SECONDS
        return intent

    def _record(self, cloud: str, what: str, claims: list[str],
                changes: Iterable[Change | dict[str, Any]], requires: Iterable[tuple[str, str]],
                locks: tuple[str, ...], new_cloud: bool) -> Intent:
        store = self.store
        self._generation = self.inventory.generations.get(cloud, 0)
        with store.transaction(write=True, locks=locks) as conn:
            self._generation = store.generation(conn, cloud)
            rows = _StoreRows(store, cloud)
            exists = rows.has("cloud", cloud)
            if new_cloud and exists:
                raise ValidationError(f"a cloud named {cloud!r} exists already")
            if not new_cloud and not exists:
                raise NotFoundError(f"cloud {cloud} is no longer in MiniCloud (removed by "
                                    "another session); nothing was changed")
            pending = [i for i in self.pending(cloud) if i.id not in self.active]
            for claim in claims:
                _check(claim, rows, pending)
            for kind, ident in requires:
                if not rows.has(kind, ident):
                    raise NotFoundError(f"the {label(kind)} this needs is no longer in cloud "
                                        f"{cloud} (removed by another session); refresh")
            now = store.now()
            intent = Intent(cloud, uuid.uuid4().hex, what, owned=True, claims=claims,
                            changes=[c if isinstance(c, dict) else _data(c)
                                     for c in changes],
                            owner=this_process(), lease_until=now + LEASE_SECONDS)
            intent.version = store.kind("intent").put(record_key(cloud, intent.id), cloud,
                                                      _data(intent), expected=0)
        return intent

    def settle(self, intent: Intent, puts: Iterable[Any] = (),
               deletes: Iterable[Any] = (), done: bool = False) -> None:
        """Write what the cloud calls did and end the intent, in one transaction.  When this
        fails, the caller's undo takes the cloud calls back and the intent is dropped; if
        that cannot be done either, the intent stays pending and is settled later.  ``done``:
        no undo takes the calls back (a Reset's); the caller releases the intent, and this
        session writes the settle at its next read or write (Inventory.write)."""
        with self.inventory.write(cloud=intent.cloud, done=done) as tx:
            for obj in puts:
                if obj is not None:
                    tx.put(obj, force=True)
            for obj in deletes:
                tx.delete(obj, force=True)
            tx.delete(intent, force=True)
        self.active.pop(intent.id, None)

    def drop(self, intent: Intent) -> None:
        """End an intent whose cloud calls were all undone (or never made)."""
        self.active.pop(intent.id, None)
        try:
            with self.inventory.write(cloud=intent.cloud) as tx:
                tx.delete(intent, force=True)
        except MiniCloudError as err:
            log.warning("intent %s left pending: %s", intent.id, err)

    def release(self, intent: Intent) -> None:
        """Leave an intent pending (its undo failed): the next write or refresh settles it."""
        self.active.pop(intent.id, None)

    @contextmanager
    def running(self, intent: Intent) -> Iterator[Intent]:
        """Around an operation's cloud calls: an error drops the intent once its undo is
        done.  It stays pending, for the reconciler to settle as the cloud shows it, when the
        undo left something behind, or on Ctrl-C or an exit: those can land just after a
        cloud call took effect and before its undo was known."""
        from ..model.errors import LeftoverError

        try:
            yield intent
        except KeyboardInterrupt as interrupt:
            self.release(intent)
            raise Interrupted.adding(interrupt, left_pending(intent)) from interrupt
        except (LeftoverError, SystemExit):
            self.release(intent)
            raise
        except BaseException:
            if intent.id in self.active:
                self.drop(intent)
            raise

    def renew(self) -> None:
        """Extend the leases of this session's running intents (called while waiting)."""
        if not self.active:
            return
        store = self.store
        now = store.now()
        if now - self._renewed < RENEW_SECONDS:
            return
        self._renewed = now
        try:
            with store.transaction(write=True):
                for intent in self.active.values():
                    intent.lease_until = now + LEASE_SECONDS
                    store.kind("intent").put(record_key(intent.cloud, intent.id), intent.cloud,
                                             _data(intent))
        except MiniCloudError as err:
            log.warning("could not renew the leases of running writes: %s", err)


def left_pending(intent: Intent) -> str:
    """What an interrupted write says of its intent."""
    return f"{intent.name} left pending (the next write or refresh settles it)"


def _mine(intent: Intent) -> bool:
    owner = intent.owner
    return owner.get("host") == socket.gethostname() and owner.get("pid") == os.getpid()


def _data(obj: Any) -> dict[str, Any]:
    data = to_dict(obj)
    data.pop("version", None)
    return data
