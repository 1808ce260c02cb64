"""What the Stub cloud holds: its simulated objects, kept in tables of their own in MiniCloud's
store (``stub_*``, one per kind the Stub simulates), and its fault injection.

``MINICLOUD_STUB_FAIL=call[,call:N]`` makes the named driver calls (the N-th one, or every one)
raise the driver's error type, for fault-injection tests.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from ...model.codec import from_dict, to_dict
from ...model.errors import FAILED, ConfigError
from ...model.kinds import KINDS
from ...model.objects import Instance, Network, Resource

if TYPE_CHECKING:
    from ...state.store import Store

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

STUB_KINDS: dict[str, type[Resource]] = {k.name: k.cls for k in KINDS.values() if k.simulated}
TABLES = {kind: f"stub_{KINDS[kind].table}" for kind in STUB_KINDS}

# The Stub's own server statuses (StubDriver.status_map says what they mean to MiniCloud).
BUILDING, RUNNING, STOPPED = "building", "running", "stopped"
# Rows written before the Stub had words of its own held MiniCloud's states.
LEGACY_STATUS = {"BUILD": BUILDING, "ACTIVE": RUNNING, "SHUTOFF": STOPPED}

log = logging.getLogger("minicloud.drivers.stub")

# -- fault injection ---------------------------------------------------------------------------

# Calls made so far in this process, by name, for MINICLOUD_STUB_FAIL's call:N form.
_calls: Counter[str] = Counter()


def reset_fault_counters() -> None:
    _calls.clear()


# Every call MINICLOUD_STUB_FAIL may name (filled in as the Stub's modules define them).
FAULTABLE: set[str] = set()


def _fault_plan() -> dict[str, int | None]:
    return _parse_plan(os.environ.get("MINICLOUD_STUB_FAIL", ""))


@functools.lru_cache(maxsize=8)
def _parse_plan(text: str) -> dict[str, int | None]:
    """``call[,call:N]`` as call -> N (None: every call).  A name the Stub has no call of, or
    an N that is no positive whole number, is refused: a typo would otherwise silently test
    nothing."""
    plan: dict[str, int | None] = {}
    for item in text.split(","):
        name, colon, nth = item.strip().partition(":")
        if not name and not colon:
            continue
        if name not in FAULTABLE:
            raise ConfigError(f"MINICLOUD_STUB_FAIL: no Stub call is named {name!r} "
                              f"(known: {', '.join(sorted(FAULTABLE))})")
        if colon and not (nth.isdigit() and int(nth) > 0):
            raise ConfigError(f"MINICLOUD_STUB_FAIL: {item.strip()!r}: N in call:N must be "
                              "a whole number from 1 (the N-th call fails)")
        plan[name] = int(nth) if colon else None
    return plan


def check_fault_plan() -> None:
    """Raise ConfigError now when MINICLOUD_STUB_FAIL is malformed (a Stub driver's start)."""
    _fault_plan()


def _inject(self: Any, name: str) -> None:
    """Count one call of ``name``; raise the driver's error when the plan says so."""
    log.debug("cloud %s (stub): %s", self.cloud.name, name)
    _calls[name] += 1
    plan = _fault_plan()
    if name in plan and (plan[name] is None or plan[name] == _calls[name]):
        raise self.error(name.replace("_", " "), FAILED, "injected fault")


def faultable(method: F) -> F:
    """One call of the simulated cloud's API: counted, failed when MINICLOUD_STUB_FAIL says
    so, and atomic (see :func:`atomic`)."""
    FAULTABLE.add(method.__name__)

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        _inject(self, method.__name__)
        return self.sim.run(lambda: method(self, *args, **kwargs))

    return wrapper  # type: ignore[return-value]


def faultable_read(method: F) -> F:
    """A call that reads nothing of the simulated cloud (images, flavors, zones): counted and
    failed like the others, without a store transaction it does not need."""
    FAULTABLE.add(method.__name__)

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        _inject(self, method.__name__)
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def atomic(method: F) -> F:
    """A change of the simulated cloud made as one transaction (see StubState.atomic)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        return self.sim.run(lambda: method(self, *args, **kwargs))

    return wrapper  # type: ignore[return-value]


# -- the simulated objects ---------------------------------------------------------------------


def load_row(kind: str, data: dict[str, Any]) -> Resource:
    """One row of a ``stub_*`` table as the Stub holds it (servers with the Stub's statuses)."""
    obj = from_dict(STUB_KINDS[kind], data)
    if isinstance(obj, Instance):
        obj.status = LEGACY_STATUS.get(obj.status, obj.status)
    return obj


class StubState:
    """One Stub cloud's objects by kind and id, as a shared cloud holds them: every API call
    runs in one transaction that holds the simulated cloud's lock and reads its tables afresh,
    so what one MiniCloud session changes another sees at its next call, and two conflicting
    calls fail as Neutron or Nova would (in use, gone) instead of overwriting each other.

    A call reads what it needs, as a real cloud's database would: one object by key, the
    objects on one network, or a whole kind only when it lists one, so that a call on a cloud
    of 10,000 servers costs what it costs on a cloud of ten."""

    def __init__(self, store: Store, cloud: str):
        self.store = store
        self.cloud = cloud
        # Kinds read whole in this call, and objects read one by one.
        self._whole: dict[str, dict[str, Any]] = {}
        self._some: dict[str, dict[str, Any]] = {}
        self._depth = 0

    @contextmanager
    def atomic(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with self.store.transaction(write=True, locks=(f"stub/{self.cloud}",)):
            self.reload()  # read per call: others may have changed the cloud
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                self.reload()

    def run(self, call: Callable[[], T]) -> T:
        """One call of the simulated cloud, as one transaction of its own (or part of the one
        open): all it does is in that transaction, so it runs again as a whole when the store
        says that may pass (a conflict, a failed Galera certification, a lost node); not when
        its commit's answer was lost: the call then fails, as a real cloud's would."""
        if self._depth:
            with self.atomic():
                return call()

        def body(conn: Any) -> T:
            self.reload()  # read per call: others may have changed the cloud
            self._depth = 1
            try:
                return call()
            finally:
                self._depth = 0
                self.reload()

        return self.store.retrying(body, write=True, locks=(f"stub/{self.cloud}",),
                                   rerun_unknown=False)

    def reload(self) -> None:
        """Read the tables again at next use: another process may have changed the cloud."""
        self._whole = {}
        self._some = {}

    def _table(self, kind: str) -> Any:
        return self.store.table(TABLES[kind])

    def of(self, kind: str) -> dict[str, Any]:
        """The objects of one kind, by id (the Stub's own copies: never hand them out)."""
        if kind not in self._whole:
            rows = self._table(kind).rows(self.cloud)
            self._whole[kind] = {data["id"]: load_row(kind, data) for data, _ in rows}
            self._some.pop(kind, None)
        return self._whole[kind]

    def get(self, kind: str, ident: str) -> Any | None:
        """One object by id, read by key unless its kind is read whole already."""
        if kind in self._whole:
            return self._whole[kind].get(ident)
        some = self._some.setdefault(kind, {})
        if ident not in some:
            found = self._table(kind).get(f"{self.cloud}/{ident}")
            some[ident] = load_row(kind, found[0]) if found else None
        return some[ident]

    def holding(self, kind: str, key: str, value: str) -> list[Any]:
        """The objects of ``kind`` whose field ``key`` (at any depth) is ``value``: only the
        rows whose text holds that pair are read and decoded."""
        if kind in self._whole:
            objs = list(self._whole[kind].values())
        else:
            fragment = json.dumps({key: value}, separators=(",", ":"))[1:-1]
            rows = self._table(kind).rows(self.cloud, contains=fragment)
            objs = [load_row(kind, data) for data, _ in rows]
            self._some.setdefault(kind, {}).update((o.id, o) for o in objs)
        return objs

    def save(self, *objs: Resource, deleted: Iterable[Resource] = ()) -> None:
        deleted = tuple(deleted)
        with self.store.transaction(write=True):
            for obj in objs:
                self._table(obj.kind).put(f"{self.cloud}/{obj.id}", self.cloud, to_dict(obj))
            for obj in deleted:
                self._table(obj.kind).delete(f"{self.cloud}/{obj.id}")
        for obj in objs:
            self._known(obj.kind)[obj.id] = obj
        for obj in deleted:
            self._known(obj.kind).pop(obj.id, None)

    def _known(self, kind: str) -> dict[str, Any]:
        return self._whole[kind] if kind in self._whole else self._some.setdefault(kind, {})

    def forget(self) -> None:
        """Drop the whole simulated cloud."""
        with self.store.transaction(write=True):
            for table in TABLES.values():
                self.store.table(table).delete_cloud(self.cloud)
        self.reload()

    # -- addresses -----------------------------------------------------------------------------

    def holders(self, network: Network) -> dict[str, str]:
        """Who holds each address of the network: instances, public IPs, the gateway."""
        held = {nic.ip: f"instance {s.name}"
                for s in self.holding("instance", "network_id", network.id)
                for nic in s.nics if nic.network_id == network.id and nic.ip}
        held.update({f.name: f"public IP {f.name}"
                     for f in self.holding("public_ip", "network_id", network.id)
                     if f.network_id == network.id})
        gateway = network.subnets[0].gateway_ip
        if gateway:
            held[gateway] = "the subnet's gateway"
        return held

    def free_ip(self, network: Network) -> str | None:
        """The lowest free host of the network's subnet; None when the subnet is full."""
        subnet = ipaddress.ip_network(network.subnets[0].cidr)
        used = self.holders(network)
        return next((str(h) for h in subnet.hosts() if str(h) not in used), None)

    def network_in_use(self, network_id: str) -> bool:
        return (any(nic.network_id == network_id
                    for s in self.holding("instance", "network_id", network_id)
                    for nic in s.nics)
                or any(network_id in r.interface_network_ids
                       or r.gateway_network_id == network_id for r in self.of("router").values())
                or any(f.network_id == network_id
                       for f in self.holding("public_ip", "network_id", network_id)))
