"""What every manager shares: lookups by name, the write protocol, and undo on failure.

A write goes through the session's unit of work (state/unit_of_work.py): ``begin`` (an intent,
checked and recorded under the cloud's lock), the cloud calls under one :class:`Undo` inside
``work.running``, then ``settle`` (results, change records and the end of the intent in one
transaction); the cache changes last.  The refusals a front end asks for early (a name taken,
a CIDR overlapping) are the same claims the unit of work checks again under the lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, overload

from ..drivers import driver_class
from ..model.errors import (
    AmbiguousError,
    Interrupted,
    LeftoverError,
    MiniCloudError,
    NotFoundError,
    ValidationError,
)
from ..model.kinds import CHANGE, CLOUD, Kind, label
from ..model.objects import Change
from ..model.validation import check_name
from ..state.claims import CacheRows, Claim, Claims

__all__ = ["Manager", "Undo", "check_name"]

if TYPE_CHECKING:
    from ..drivers.base import Driver, Features
    from ..model.objects import Cloud
    from ..state.cache import Cache
    from ..state.unit_of_work import UnitOfWork
    from .session import Session

log = logging.getLogger("minicloud")



class Stored(Protocol):
    """What every object the store holds has: its kind, name and key (cloud, id)."""

    kind: ClassVar[str]
    name: str

    @property
    def key(self) -> tuple[str, str]: ...


S = TypeVar("S", bound=Stored)
T = TypeVar("T")


class Undo:
    """Steps that undo what an operation did in a cloud, run in reverse when it fails."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], Any]]] = []

    def push(self, what: str, step: Callable[[], Any]) -> None:
        self._steps.append((what, step))

    def __enter__(self) -> Undo:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            return
        leftovers = []
        for what, step in reversed(self._steps):
            try:
                step()
            except Exception as err:  # noqa: BLE001 - every leftover must be named
                log.warning("undo failed, %s left behind: %s", what, err)
                leftovers.append(what)
        if not leftovers:
            return
        behind = f"left behind: {', '.join(leftovers)}"
        if isinstance(exc, KeyboardInterrupt):
            # Ctrl-C stays an interruption (exit 130), and says what it left behind; the
            # operation's intent stays pending, and says what settles it.
            raise Interrupted.adding(exc, behind) from exc
        if not isinstance(exc, Exception):
            return  # an exit goes on as it is; the log names what is left
        first = str(exc) if isinstance(exc, MiniCloudError) else repr(exc)
        raise LeftoverError(f"{first}; undo failed, {behind} (the next refresh or reset "
                            "cleans it)") from exc


class Manager:
    """What a manager holds: the session.  Managers that need each other are given each other."""

    def __init__(self, session: Session):
        self.session = session

    @property
    def work(self) -> UnitOfWork:
        return self.session.work

    @property
    def cache(self) -> Cache:
        # Fills itself on demand: a write reads the rows it checks, not its cloud.
        return self.session.inventory.cache

    def cloud(self, name: str) -> Cloud:
        cloud = self.cache.get(CLOUD, name, name)
        if cloud is None:
            raise NotFoundError(f"no cloud named {name!r}")
        return cloud

    def known(self, cloud: str | None) -> str | None:
        """``cloud`` when MiniCloud knows it (None: every cloud); an unknown name is refused."""
        if cloud is not None:
            self.cloud(cloud)
        return cloud

    def driver(self, cloud: str) -> Driver:
        """The session's driver for the cloud (built, not synced: the reconciler syncs)."""
        return self.session.drivers.get(self.cloud(cloud))

    def features(self, cloud: str) -> Features:
        """What the cloud's type can do (declared by its driver, no driver built)."""
        return driver_class(self.cloud(cloud).type).features

    def require(self, cloud: str, feature: str, what: str) -> None:
        refusal = self.lacks(cloud, feature, what)
        if refusal is not None:
            raise refusal

    def lacks(self, cloud: str, feature: str, what: str) -> ValidationError | None:
        """The refusal of an operation the cloud's type cannot do, or None when it can."""
        if getattr(self.features(cloud), feature):
            return None
        return ValidationError(f"cloud {cloud} ({self.cloud(cloud).type}) cannot {what}")

    def change_in_place(self, cloud: str, what: str, change: Change | None,
                        requires: list[tuple[str, str]], do: Callable[[Undo], list[Any]],
                        claims: list[Claim] | None = None) -> None:
        """A change to objects that exist, through the write path: the intent (holding
        ``change`` when the object is someone else's, so that Reset can undo it whatever
        happens next), ``do``'s cloud calls (each pushing its undo), then the settle of what
        ``do`` returns with ``change`` kept for Reset, or cancelling the one it undoes."""
        intent = self.work.begin(cloud, what, claims=claims or [],
                                 changes=[change] if change else [], requires=requires)
        with self.work.running(intent), Undo() as undo:
            puts = do(undo)
            recorded, cancelled = self.record(change) if change else ([], [])
            self.work.settle(intent, puts=[*puts, *recorded], deletes=cancelled)

    def record(self, change: Change) -> tuple[list[Any], list[Any]]:
        """(puts, deletes) that record a change to someone else's resource: one that undoes
        an earlier recorded change cancels it; otherwise it is kept for Reset."""
        opposite = self.cache.get(CHANGE, change.cloud, change.opposite_id or "")
        if opposite is not None:
            return [], [opposite]
        return [change], []

    def changes_of(self, cloud: str, target_id: str) -> list[Change]:
        return [c for c in self.cache.all(CHANGE, cloud) if c.target_id == target_id]

    @overload
    def find(self, kind: Kind[T], name: str, cloud: str | None = None) -> T: ...
    @overload
    def find(self, kind: str, name: str, cloud: str | None = None) -> Any: ...

    def find(self, kind: Kind[Any] | str, name: str, cloud: str | None = None) -> Any:
        """The one object of ``kind`` called ``name`` (in ``cloud`` when given); ``name`` may
        also be the object's id, as the ``openstack`` client takes a name or an ID, so that
        two objects of one name in one cloud can each be addressed."""
        if cloud is not None:
            self.cloud(cloud)
        matches = self.cache.named(kind, cloud, name) or self._with_id(kind, name, cloud)
        what = label(kind)
        if not matches:
            where = f" in cloud {cloud}" if cloud else ""
            raise NotFoundError(f"no {what} named {name!r}{where}")
        if len(matches) > 1:
            clouds = sorted({o.key[0] for o in matches})
            if len(clouds) > 1:
                raise AmbiguousError(f"{what} {name!r} exists in clouds {', '.join(clouds)}; "
                                     "name the cloud")
            ids = ", ".join(sorted(o.key[1] for o in matches))
            raise AmbiguousError(f"{len(matches)} {what}s are named {name!r} in cloud "
                                 f"{clouds[0]}; give the id of one instead: {ids}")
        return matches[0]

    def _with_id(self, kind: Kind[Any] | str, ident: str, cloud: str | None) -> list[Any]:
        clouds = [cloud] if cloud is not None else [c.name for c in self.cache.all(CLOUD)]
        found = (self.cache.get(kind, c, ident) for c in clouds)
        return [o for o in found if o is not None]

    def current(self, obj: S) -> S:
        """``obj`` as the store holds it now: a front end's copy (picked a moment ago) may be
        older, and an action's precondition is checked on what the store holds.  Refused
        in one line when another session removed it meanwhile."""
        cloud, ident = obj.key
        found: S | None = self.cache.get(obj.kind, cloud, ident)
        if found is None:
            where = "MiniCloud" if obj.kind == "cloud" else f"cloud {cloud}"
            raise NotFoundError(f"{label(obj.kind)} {obj.name} is no longer in {where} "
                                "(removed by another session)")
        return found

    @overload
    def by_id(self, kind: Kind[T], cloud: str, ident: str) -> T: ...
    @overload
    def by_id(self, kind: str, cloud: str, ident: str) -> Any: ...

    def by_id(self, kind: Kind[Any] | str, cloud: str, ident: str) -> Any:
        obj = self.cache.get(kind, cloud, ident)
        if obj is None:
            raise NotFoundError(f"no {label(kind)} {ident} in cloud {cloud}")
        return obj

    def early(self, claim: Claim, cloud: str) -> None:
        """Check ``claim`` against this session's copy of ``cloud``: the refusal a front end
        gives as soon as the answer is typed (the unit of work checks it again under the
        lock, against the store's rows)."""
        claim.check(CacheRows(self.cache, cloud))

    def check_type_name(self, cloud: str, kind: str, name: str) -> str:
        """``name`` as the cloud's type allows it for ``kind`` (a rule its driver declares,
        e.g. host names for instances), refused in the type's words before any cloud call."""
        return driver_class(self.cloud(cloud).type).check_name(kind, name)

    def _check_new_name(self, kind: str, cloud: str, name: str) -> str:
        """A valid name no object of ``kind`` has in ``cloud`` yet: the create's own refusal,
        also asked for by a front end as soon as the name is typed."""
        check_name(name, f"{label(kind)} name")
        self.check_type_name(cloud, kind, name)
        self.early(Claims.name(kind, name), cloud)
        return name
