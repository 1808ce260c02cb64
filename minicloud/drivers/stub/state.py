"""What one Stub cloud holds, read and written at its location, one call at a time."""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ...model.codec import from_dict, to_dict
from ...model.objects import (
    Instance,
    KeyPair,
    Network,
    PublicIP,
    Resource,
    Router,
    SecurityGroup,
)
from .location import Location, LocationError, Transaction

F = TypeVar("F", bound=Callable[..., Any])

# The kinds of object a Stub cloud holds (images and flavors are fixed, see the driver).
STUB_KINDS: dict[str, type[Resource]] = {
    "network": Network,
    "router": Router,
    "instance": Instance,
    "public_ip": PublicIP,
    "security_group": SecurityGroup,
    "keypair": KeyPair,
}

# The Stub's own server statuses (StubDriver.status_map says what they mean to MiniCloud).
BUILDING, RUNNING, STOPPED = "building", "running", "stopped"
# Rows written before the Stub had words of its own held MiniCloud's states.
LEGACY_STATUS = {"BUILD": BUILDING, "ACTIVE": RUNNING, "SHUTOFF": STOPPED}

log = logging.getLogger("minicloud.drivers.stub")
# How often a call that lost to a concurrent change runs, at most.
BUSY_ATTEMPTS = 5


def _said(self: Any, name: str, exc: LocationError) -> Exception:
    """A location's failure as the driver's error for the call ``name``."""
    error: Exception = self.error(name.replace("_", " "), exc.reason, str(exc))
    return error


def api_call(method: F) -> F:
    """One call of the simulated cloud's API: one transaction at its location (see
    :meth:`StubState.atomic`), whose failures are the driver's errors."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        log.debug("cloud %s (stub): %s", self.cloud.name, method.__name__)
        outermost = not self.sim.in_call
        for attempt in range(1, BUSY_ATTEMPTS + 1):
            try:
                with self.sim.atomic():
                    return method(self, *args, **kwargs)
            except LocationError as exc:
                if not (exc.busy and outermost and attempt < BUSY_ATTEMPTS):
                    raise _said(self, method.__name__, exc) from None
                # Rolled back whole: run the call again, as a cloud's API server retries its
                # own deadlocks (oslo.db's wrap_db_retry(retry_on_deadlock=True) in Neutron
                # and Nova) rather than answer them.
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")  # the last attempt returned or raised

    return wrapper  # type: ignore[return-value]


def fixed_call(method: F) -> F:
    """A call that reads nothing of the simulated cloud (images, flavors, zones)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        log.debug("cloud %s (stub): %s", self.cloud.name, method.__name__)
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def load_row(kind: str, data: dict[str, Any]) -> Resource:
    """One row of a location's table as the Stub holds it (servers with the Stub's
    statuses)."""
    obj = from_dict(STUB_KINDS[kind], data)
    if isinstance(obj, Instance):
        obj.status = LEGACY_STATUS.get(obj.status, obj.status)
    return obj


class StubState:
    """One Stub cloud's objects by kind and id, as a shared cloud holds them: every API call
    runs in one transaction of its location that holds the cloud's lock and reads its rows
    afresh, so what one MiniCloud session changes another sees at its next call, and each
    change is written against the row version it read: two conflicting calls fail as Neutron
    or Nova would (in use, gone) instead of overwriting each other.

    A call reads what it needs, as a real cloud's database would: one object by key, the
    objects on one network, or a whole kind only when it lists one, so that a call on a cloud
    of 10,000 servers costs what it costs on a cloud of ten."""

    def __init__(self, location: Location, cloud: str):
        self.location = location
        self.cloud = cloud
        self._tx: Transaction | None = None
        # Kinds read whole in this call, objects read one by one, and the version of each
        # row read (what a write of it is checked against).
        self._whole: dict[str, dict[str, Any]] = {}
        self._some: dict[str, dict[str, Any]] = {}
        self._versions: dict[tuple[str, str], int] = {}

    @property
    def in_call(self) -> bool:
        """Inside a call already (a call made by another call shares its transaction)."""
        return self._tx is not None

    @contextmanager
    def atomic(self) -> Iterator[None]:
        if self._tx is not None:
            yield  # a call made by another call: one transaction
            return
        with self.location.transaction(self.cloud) as tx:
            self.reload()  # read per call: others may have changed the cloud
            self._tx = tx
            try:
                yield
            finally:
                self._tx = None
                self.reload()

    def reload(self) -> None:
        """Read the rows again at next use: another process may have changed the cloud."""
        self._whole = {}
        self._some = {}
        self._versions = {}

    @property
    def tx(self) -> Transaction:
        if self._tx is None:
            raise RuntimeError("a Stub cloud is read and written inside one of its calls")
        return self._tx

    def _loaded(self, kind: str, records: Iterable[tuple[dict[str, Any], int]]) -> list[Any]:
        objs = []
        for data, version in records:
            obj = load_row(kind, data)
            self._versions[(kind, obj.id)] = version
            objs.append(obj)
        return objs

    def of(self, kind: str) -> dict[str, Any]:
        """The objects of one kind, by id (the Stub's own copies: never hand them out)."""
        if kind not in self._whole:
            objs = self._loaded(kind, self.tx.rows(kind))
            self._whole[kind] = {o.id: o for o in objs}
            self._some.pop(kind, None)
        return self._whole[kind]

    def get(self, kind: str, ident: str) -> Any | None:
        """One object by id, read by key unless its kind is read whole already."""
        if kind in self._whole:
            return self._whole[kind].get(ident)
        some = self._some.setdefault(kind, {})
        if ident not in some:
            found = self.tx.get(kind, ident)
            some[ident] = self._loaded(kind, [found])[0] if found else None
        return some[ident]

    def holding(self, kind: str, key: str, value: str) -> list[Any]:
        """The objects of ``kind`` whose field ``key`` (at any depth) is ``value``: only the
        rows whose text holds that pair are read and decoded."""
        if kind in self._whole:
            return list(self._whole[kind].values())
        fragment = json.dumps({key: value}, separators=(",", ":"))[1:-1]
        objs = self._loaded(kind, self.tx.rows(kind, contains=fragment))
        self._some.setdefault(kind, {}).update((o.id, o) for o in objs)
        return objs

    def save(self, *objs: Resource, deleted: Iterable[Resource] = ()) -> None:
        """Write objects (new ones, or changed ones at the version they were read) and delete
        others; a row changed or removed meanwhile fails the whole call."""
        deleted = tuple(deleted)
        for obj in objs:
            read = self._versions.get((obj.kind, obj.id))
            if read is None:
                version = self.tx.insert(obj.kind, obj.id, to_dict(obj))
            else:
                version = self.tx.update(obj.kind, obj.id, to_dict(obj), read)
            self._versions[(obj.kind, obj.id)] = version
            self._known(obj.kind)[obj.id] = obj
        for obj in deleted:
            self.tx.delete(obj.kind, obj.id, self._versions.pop((obj.kind, obj.id), 0))
            self._known(obj.kind).pop(obj.id, None)

    def seed_many(self, objs: Iterable[Resource]) -> None:
        """New objects in bulk (a large cloud filled by other means)."""
        by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for obj in objs:
            by_kind.setdefault(obj.kind, []).append((obj.id, to_dict(obj)))
        for kind, records in by_kind.items():
            self.tx.insert_many(kind, records)
        self.reload()

    def _known(self, kind: str) -> dict[str, Any]:
        return self._whole[kind] if kind in self._whole else self._some.setdefault(kind, {})

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
