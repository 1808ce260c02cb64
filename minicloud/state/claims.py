"""Claims: what a write takes or relies on, each with ONE check (DESIGN.md section 1, "Each
rule once").

A claim is checked twice with the same code: early, against the session's cache, when the
question is answered (``Claims.name("network", n).check(CacheRows(cache, cloud))``: the
managers' ``check_new_*``), and again by the unit of work under the cloud's lock, against the
store's own rows, counting what live pending intents of other sessions will take as taken.
Claims that others must not take meanwhile (a name, a CIDR, an address...) are written into
the intent as text; an existence claim (``Exists``) is only checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..model.codec import from_dict
from ..model.errors import InUseError, NotFoundError, ValidationError
from ..model.kinds import CLOUD, INSTANCE, KINDS, NETWORK, PUBLIC_IP, Kind, kind_name, label
from ..model.validation import check_no_overlap
from .table import record_key

T = TypeVar("T")

if TYPE_CHECKING:
    from ..model.objects import Intent
    from .cache import Cache
    from .store import Store


def a_label(kind: str) -> str:
    """``a network``, ``an instance``: a kind with its article."""
    text = label(kind)
    return f"{'an' if text[:1] in 'aeiou' else 'a'} {text}"


# -- where a claim looks -------------------------------------------------------------------------

class Rows(Protocol):
    """One cloud's objects as a check sees them: the session's cache, or the store's rows."""

    cloud: str

    def named(self, kind: Kind[Any] | str, name: str) -> list[Any]: ...

    def all(self, kind: Kind[T]) -> list[T]: ...

    def get(self, kind: Kind[T], ident: str) -> T | None: ...

    def holding(self, kind: Kind[T], key: str, value: str) -> list[T]: ...

    def cloud_names(self) -> list[str]: ...


class CacheRows:
    """The session's copy (the early refusal at the question): read as the cache reads."""

    def __init__(self, cache: Cache, cloud: str) -> None:
        self.cache = cache
        self.cloud = cloud

    def named(self, kind: Kind[Any] | str, name: str) -> list[Any]:
        return self.cache.named(kind_name(kind), self.cloud, name)

    def all(self, kind: Kind[T]) -> list[T]:
        return self.cache.all(kind, self.cloud)

    def get(self, kind: Kind[T], ident: str) -> T | None:
        return self.cache.get(kind, self.cloud, ident)

    def holding(self, kind: Kind[T], key: str, value: str) -> list[T]:
        return self.cache.holding(kind, self.cloud, key, value)

    def cloud_names(self) -> list[str]:
        return [c.name for c in self.cache.all(CLOUD)]


class StoreRows:
    """The store's own rows of one cloud, read in the caller's transaction (under its lock):
    never the session's cache.  A row that is no valid object is left out."""

    def __init__(self, store: Store, cloud: str) -> None:
        self.store = store
        self.cloud = cloud
        self._all: dict[str, list[Any]] = {}

    def _objects(self, kind: str, records: Iterable[tuple[dict[str, Any], int]]) -> list[Any]:
        objs = []
        for data, version in records:
            try:
                obj: Any = from_dict(KINDS[kind].cls, data)
                obj.key  # noqa: B018 - fails on a row with a missing field
            except (TypeError, ValueError, KeyError, AttributeError):
                continue
            obj.version = version
            objs.append(obj)
        return objs

    def cloud_names(self) -> list[str]:
        return [c.name for c in self._objects(CLOUD.name, self.store.kind(CLOUD.name).rows())]

    def named(self, kind: Kind[Any] | str, name: str) -> list[Any]:
        kind = kind_name(kind)
        if kind in self._all:
            return [o for o in self._all[kind] if o.name == name]
        return self._objects(kind, self.store.kind(kind).rows(self.cloud, name=name))

    def all(self, kind: Kind[T]) -> list[T]:
        if kind.name not in self._all:
            self._all[kind.name] = self._objects(kind.name,
                                                 self.store.kind(kind.name).rows(self.cloud))
        return self._all[kind.name]

    def get(self, kind: Kind[T], ident: str) -> T | None:
        found = self.store.kind(kind.name).get(record_key(self.cloud, ident))
        objs = self._objects(kind.name, [found] if found else [])
        return objs[0] if objs else None

    def holding(self, kind: Kind[T], key: str, value: str) -> list[T]:
        fragment = json.dumps({key: value}, separators=(",", ":"))[1:-1]
        return self._objects(kind.name,
                             self.store.kind(kind.name).rows(self.cloud, contains=fragment))


# -- the claims ----------------------------------------------------------------------------------

def _taken(pending: Sequence[Intent]) -> set[str]:
    return {claim for intent in pending for claim in intent.claims}


class Claim:
    """Something a write takes (``text``: as its intent records it, None when it takes
    nothing and only relies on it) and the check that refuses it."""

    @property
    def text(self) -> str | None:
        return None

    def check(self, rows: Rows, pending: Sequence[Intent] = ()) -> None:
        """Refuse, in one line, when ``rows`` or a live pending write of another session
        (``pending``) has it already."""
        raise NotImplementedError


@dataclass(frozen=True)
class Name(Claim):
    """A name of its kind, free in the cloud (a cloud's name: free in the store)."""

    kind: str
    name: str

    @property
    def text(self) -> str:
        return f"name:{self.kind}:{self.name}"

    def check(self, rows: Rows, pending: Sequence[Intent] = ()) -> None:
        where = "" if self.kind == "cloud" else f" in cloud {rows.cloud}"
        if rows.named(self.kind, self.name):
            raise ValidationError(f"{a_label(self.kind)} named {self.name!r} exists "
                                  f"already{where}")
        # A cloud's name is one cloud whatever its case (TryStack and trystack would be two
        # clouds nobody can tell apart in a list or a command): pending adds are the whole
        # store's for a cloud (the unit of work passes them).
        fold = str.casefold if self.kind == "cloud" else str
        if fold(self.text) in {fold(t) for t in _taken(pending)}:
            raise ValidationError(f"{a_label(self.kind)} named {self.name!r} is being created"
                                  f"{where} by another session; try again in a moment")
        if self.kind == "cloud":
            same = next((n for n in rows.cloud_names()
                         if n.casefold() == self.name.casefold()), None)
            if same is not None:
                raise ValidationError(f"cloud name {self.name!r} is cloud {same}'s: cloud "
                                      "names differ by more than case")


@dataclass(frozen=True)
class Cidr(Claim):
    """An address range no network of the cloud overlaps (same IP version)."""

    cidr: str

    @property
    def text(self) -> str:
        return f"cidr:{self.cidr}"

    def check(self, rows: Rows, pending: Sequence[Intent] = ()) -> None:
        taken = [(n.name, c) for n in rows.all(NETWORK) for c in n.cidrs]
        taken += [("a network being created", c[len("cidr:"):]) for c in _taken(pending)
                  if c.startswith("cidr:")]
        check_no_overlap(self.cidr, taken, f" in cloud {rows.cloud}")


@dataclass(frozen=True)
class Address(Claim):
    """An address of a network that no instance (a fixed IP) and no associated public IP
    holds."""

    network_id: str
    address: str

    @property
    def text(self) -> str:
        return f"ip:{self.network_id}:{self.address}"

    def check(self, rows: Rows, pending: Sequence[Intent] = ()) -> None:
        holder = next((i.name for i in rows.holding(INSTANCE, "ip", self.address)
                       if any(n.network_id == self.network_id and n.ip == self.address
                              for n in i.nics)), None)
        if holder is not None:
            raise InUseError(f"{self.address} is in use by instance {holder}")
        held = next((f for f in rows.holding(PUBLIC_IP, "name", self.address)
                     if f.network_id == self.network_id and f.name == self.address
                     and f.instance_id), None)
        if held is not None:
            server = rows.get(INSTANCE, held.instance_id or "")
            raise InUseError(f"public IP {self.address} is in use by "
                             f"{'instance ' + server.name if server else 'another server'}")
        if self.text in _taken(pending):
            raise InUseError(f"{self.address} is being taken by another session; try again "
                             "in a moment")


@dataclass(frozen=True)
class Ensure(Claim):
    """An object made once per cloud when missing (``public_ssh``): two writes must not both
    make it."""

    kind: str
    name: str

    @property
    def text(self) -> str:
        return f"ensure:{self.kind}:{self.name}"

    def check(self, rows: Rows, pending: Sequence[Intent] = ()) -> None:
        if self.text in _taken(pending):
            raise InUseError(f"{label(self.kind)} {self.name} is being made by another "
                             "session; try again in a moment")


@dataclass(frozen=True)
class Taking(Claim):
    """An existing object a write takes (a free public IP it associates): still free, and no
    pending write of another session taking it.  A session that planned from an older copy
    must not take it from the one that got there first."""

    kind: str
    ident: str
    shown: str = ""

    @property
    def text(self) -> str:
        return f"take:{self.kind}:{self.ident}"

    def check(self, rows: Rows, pending: Sequence[Intent] = ()) -> None:
        now = rows.get(KINDS[self.kind], self.ident)
        shown = self.shown or (f"{label(self.kind)} {now.name}" if now is not None
                               else self.ident)
        if self.text in _taken(pending):
            raise InUseError(f"{shown} is being taken by another session; try again in a "
                             "moment")
        if getattr(now, "instance_id", None):
            raise InUseError(f"{shown} is in use by another instance")


class Held(InUseError):
    """A write of a sort that runs one at a time in a cloud is in progress in another
    session (the caller may wait for it)."""


@dataclass(frozen=True)
class Exclusive(Claim):
    """One write of its sort at a time in a cloud (``what``: an apply of a deployment file),
    held while it runs, across the writes it makes."""

    what: str

    @property
    def text(self) -> str:
        return f"only:{self.what}"

    def check(self, rows: Rows, pending: Sequence[Intent] = ()) -> None:
        if self.text in _taken(pending):
            raise Held(f"another session is running {self.what} in cloud {rows.cloud}; "
                       "try again when it is done")


@dataclass(frozen=True)
class Exists(Claim):
    """An object the write relies on is still there (it takes nothing)."""

    kind: str
    ident: str

    def check(self, rows: Rows, pending: Sequence[Intent] = ()) -> None:
        if rows.get(KINDS[self.kind], self.ident) is None:
            raise NotFoundError(f"the {label(self.kind)} this needs is no longer in cloud "
                                f"{rows.cloud} (removed by another session); refresh")


class CloudBusy(InUseError):
    """Writes of other sessions are in progress in a cloud that is to be removed (in the
    store, for Destroy: ``cloud`` None)."""

    def __init__(self, cloud: str | None, what: list[str]) -> None:
        self.what = what
        where = f"cloud {cloud} has" if cloud else "other sessions have"
        by = " by another session" if cloud else ""
        super().__init__(f"{where} writes in progress{by} ({', '.join(what)}); nothing was "
                         "changed: try again when they are done")


@dataclass(frozen=True)
class WholeCloud(Claim):
    """The whole cloud (its removal, Destroy): no other write may be in progress in it, and
    none may begin while this one is pending."""

    @property
    def text(self) -> str:
        return WHOLE_CLOUD

    def check(self, rows: Rows, pending: Sequence[Intent] = ()) -> None:
        if pending:
            raise CloudBusy(rows.cloud, sorted(i.name for i in pending))


WHOLE_CLOUD = "cloud:*"


class Claims:
    """The claims as the managers write them (typed as claims, so that one list holds
    several kinds)."""

    @staticmethod
    def name(kind: str, name: str) -> Claim:
        return Name(kind, name)

    @staticmethod
    def cidr(cidr: str) -> Claim:
        return Cidr(cidr)

    @staticmethod
    def address(network_id: str, address: str) -> Claim:
        return Address(network_id, address)

    @staticmethod
    def ensure(kind: str, name: str) -> Claim:
        return Ensure(kind, name)

    @staticmethod
    def taking(kind: str, ident: str, shown: str = "") -> Claim:
        return Taking(kind, ident, shown)

    @staticmethod
    def exclusive(what: str) -> Claim:
        return Exclusive(what)

    @staticmethod
    def exists(kind: str, ident: str) -> Claim:
        return Exists(kind, ident)
