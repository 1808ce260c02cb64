"""The in-memory object cache, and the write path that keeps it in step with the store.

Reads come from the cache and never reach a driver.  Writes go through the unit of work
(unit_of_work.py), in :meth:`Inventory.transaction`: the caller has already changed the cloud;
the store is written in one transaction that holds the clouds' locks and bumps their
generations; the cache changes last, only after the commit, so a failed write leaves the cache
as it was.  A write of what a cloud has done for good (a Reset's settle) that the store could not
take is handed back to be written first at this session's next read or write (``later``).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, overload

from ..model.codec import from_dict, to_dict
from ..model.errors import MiniCloudError, StaleError, StoreError
from ..model.kinds import (
    CLOUD,
    CLUSTER,
    INSTANCE,
    KINDS,
    NETWORK,
    PUBLIC_IP,
    ROUTER,
    SECURITY_GROUP,
    Kind,
    kind_name,
)
from ..model.objects import Deployment
from .store import STORE_LOCK, Query, Store
from .table import record_key

T = TypeVar("T")

log = logging.getLogger("minicloud")

# After a read found the store still unable to take what this session could not record, the
# reads of the next moment do not try again (a screen makes many); writes always try.
RETRY_SECONDS = 1.0


@contextmanager
def paused_gc() -> Iterator[None]:
    """No garbage collection while tens of thousands of objects are made: they hold no
    cycles, and the collector's passes over them cost more than making them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def clone(obj: T) -> T:
    """A deep copy to change; cached objects are never changed in place."""
    return from_dict(type(obj), to_dict(obj))


class Cache:
    """Objects by kind and ``(cloud, id)``.  With a loader (the Inventory) it fills itself
    from the store on demand: a kind of one cloud when all of it is asked for, one row when
    one object is; without one it holds what was put in it."""

    def __init__(self, loader: Inventory | None = None) -> None:
        self._objs: dict[str, dict[tuple[str, str], Any]] = {kind: {} for kind in KINDS}
        self._loader = loader

    # Each read takes a kind's typed reference (``NETWORK``: the answer is typed) or its name.

    @overload
    def get(self, kind: Kind[T], cloud: str, ident: str) -> T | None: ...
    @overload
    def get(self, kind: str, cloud: str, ident: str) -> Any | None: ...

    def get(self, kind: Kind[Any] | str, cloud: str, ident: str) -> Any | None:
        name = kind_name(kind)
        if self._loader is not None:
            self._loader.current()
        obj = self._objs[name].get((cloud, ident))
        if obj is None and self._loader is not None:
            obj = self._loader.fetch(name, cloud, ident)
        return obj

    @overload
    def peek(self, kind: Kind[T], cloud: str, ident: str) -> T | None: ...
    @overload
    def peek(self, kind: str, cloud: str, ident: str) -> Any | None: ...

    def peek(self, kind: Kind[Any] | str, cloud: str, ident: str) -> Any | None:
        """What the cache holds, without asking the store."""
        return self._objs[kind_name(kind)].get((cloud, ident))

    @overload
    def all(self, kind: Kind[T], cloud: str | None = None) -> list[T]: ...
    @overload
    def all(self, kind: str, cloud: str | None = None) -> list[Any]: ...

    def all(self, kind: Kind[Any] | str, cloud: str | None = None) -> list[Any]:
        name = kind_name(kind)
        if self._loader is not None:
            self._loader.current()
            self._loader.need(name, cloud)
        objs = self._objs[name].values()
        if cloud is None:
            return list(objs)
        return [o for o in objs if o.key[0] == cloud]

    @overload
    def named(self, kind: Kind[T], cloud: str | None, name: str) -> list[T]: ...
    @overload
    def named(self, kind: str, cloud: str | None, name: str) -> list[Any]: ...

    def named(self, kind: Kind[Any] | str, cloud: str | None, name: str) -> list[Any]:
        """The objects of ``kind`` called ``name`` (in ``cloud``): by the store's name index
        unless the whole kind is here already."""
        kind = kind_name(kind)
        if self._loader is not None:
            self._loader.current()
        if self._loader is not None and not self._loader.complete(kind, cloud):
            self._loader.fetch_named(kind, cloud, name)
        return [o for o in self._objs[kind].values()
                if o.name == name and (cloud is None or o.key[0] == cloud)]

    @overload
    def holding(self, kind: Kind[T], cloud: str, key: str, value: str) -> list[T]: ...
    @overload
    def holding(self, kind: str, cloud: str, key: str, value: str) -> list[Any]: ...

    def holding(self, kind: Kind[Any] | str, cloud: str, key: str, value: str) -> list[Any]:
        """Objects of ``cloud`` that may have ``key`` (at any depth) set to ``value``: only
        rows whose text holds the pair are read, unless the kind is here whole.  The caller
        checks the objects it gets."""
        kind = kind_name(kind)
        if self._loader is not None:
            self._loader.current()
        if self._loader is not None and not self._loader.complete(kind, cloud):
            fragment = json.dumps({key: value}, separators=(",", ":"))[1:-1]
            return self._loader.fetch_holding(kind, cloud, fragment)
        return self.all(kind, cloud)

    def put(self, obj: Any) -> None:
        self._objs[obj.kind][obj.key] = obj

    def remove(self, obj: Any) -> None:
        self._objs[obj.kind].pop(obj.key, None)

    def drop_cloud(self, cloud: str) -> None:
        for objs in self._objs.values():
            for key in [k for k in objs if k[0] == cloud]:
                del objs[key]

    def clear(self) -> None:
        for objs in self._objs.values():
            objs.clear()

    def deployment(self, cloud: str | None = None) -> Deployment:
        """What the tree and the views read: everything, or one cloud's part."""
        return Deployment(
            clouds=[c for c in self.all(CLOUD) if cloud is None or c.name == cloud],
            clusters=self.all(CLUSTER, cloud),
            networks=self.all(NETWORK, cloud),
            routers=self.all(ROUTER, cloud),
            instances=self.all(INSTANCE, cloud),
            public_ips=self.all(PUBLIC_IP, cloud),
            security_groups=self.all(SECURITY_GROUP, cloud),
        )


class Writes:
    """What one write changes; applied to the store, then (after commit) to the cache."""

    def __init__(self) -> None:
        self.puts: list[tuple[Any, bool]] = []
        self.deletes: list[tuple[Any, bool]] = []

    def put(self, obj: Any, force: bool = False) -> Any:
        """Save ``obj``.  ``force`` skips the version check (a cloud's own report wins)."""
        self.puts.append((obj, force))
        return obj

    def delete(self, obj: Any, force: bool = False) -> None:
        self.deletes.append((obj, force))


class WriteTransaction:
    """A write transaction in progress (:meth:`Inventory.transaction`): the generations of its
    clouds as it found them under their locks, and what it wrote, for the cache."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.generations: dict[str, int] = {}
        self.bumped: dict[str, int] = {}
        self.saved: list[Any] = []
        self.deleted: list[Any] = []
        self.forgotten: list[str] = []

    def apply(self, writes: Writes) -> None:
        self.saved += self.inventory._apply(writes)
        self.deleted += [obj for obj, _ in writes.deletes]

    def delete_cloud(self, cloud: str) -> None:
        """Every row of ``cloud`` in every table, as the store has them (not only those the
        cache knows): a forgotten cloud leaves nothing behind."""
        for kind in KINDS:
            self.inventory.store.kind(kind).delete_cloud(cloud)
        self.forgotten.append(cloud)


def _cloud_of(obj: Any) -> str:
    key: tuple[str, str] = obj.key
    return key[0]


def _data(obj: Any) -> dict[str, Any]:
    data = to_dict(obj)
    data.pop("version", None)
    return data


class Inventory:
    """Cache + store: reads what is asked for, once, then answers from memory.

    A command on one cloud reads that cloud's rows (or single rows, by key or by the name
    index); the menu and whole-store views read everything at once.  It remembers the
    generation of each cloud as it last read it: a read that finds a newer one (another
    session wrote meanwhile) drops what it held of that cloud first, so that what the cache
    holds of a cloud is always of one moment; a write that finds a newer one under its lock
    drops it after its commit.

    A long-lived session (the menu) is told when time has passed (``expire``: the user
    answered a question); its next read then first asks the store which clouds moved (one
    query, ``fresh``) and reads those again, so that what it shows and checks is what the
    store holds now.  A one-shot command is one moment: it never expires.
    """

    def __init__(self, store: Store, cache: Cache | None = None,
                 readable: Callable[[Any], bool] | None = None):
        self.store = store
        self.cache = cache or Cache(self)
        self.generations: dict[str, int] = {}
        # Rows skipped by the reads so far, as "table/key" (a newer MiniCloud's, or damaged).
        self.skipped: list[str] = []
        self._readable = readable or (lambda obj: True)
        # Kinds read for every cloud, and for some clouds.
        self._everywhere: set[str] = set()
        self._clouds: dict[str, set[str]] = {kind: set() for kind in KINDS}
        self._unreadable: set[str] = set()
        # Time passed since the last read (see expire): the next read asks what moved.
        self._expired = False
        # Writes of what clouds have done for good that the store could not take (see
        # later), written first at the next read or write.
        self._unrecorded: list[Callable[[], None]] = []
        self._catching_up = False
        self._quiet_until = 0.0

    @property
    def loaded(self) -> bool:
        """Everything is read (the menu's start)."""
        return len(self._everywhere) == len(KINDS)

    def ensure_loaded(self) -> Cache:
        """Read every table (one query each) if that was not done: whole-store views.  When
        some clouds' rows are here already (the others moved since they were read), only the
        others are read."""
        self.current()
        if self.loaded:
            return self.cache
        if self._everywhere <= {"cloud"} and not any(self._clouds.values()):
            self.reload()
        else:
            for kind in KINDS:
                self.need(kind, None)
        return self.cache

    def forget(self) -> None:
        """Empty the cache; what is asked for next is read again."""
        self.cache.clear()
        self.generations.clear()
        self._everywhere.clear()
        for clouds in self._clouds.values():
            clouds.clear()

    def reload(self) -> None:
        """Read every table (one query each) into a fresh cache."""
        with paused_gc():
            records, generations = self.store.load_all(KINDS)
            self.forget()
            self.generations = dict(generations)
            self._take(records)
            self._everywhere.update(KINDS)

    def reload_cloud(self, cloud: str) -> None:
        """Another session changed ``cloud``: what this one held of it is read again when
        asked for (the other clouds' rows stay)."""
        others = {name for name, _ in self.cache._objs["cloud"] if name != cloud}
        self.cache.drop_cloud(cloud)
        for kind in KINDS:
            self._clouds[kind].discard(cloud)
            if kind in self._everywhere:
                self._everywhere.discard(kind)
                self._clouds[kind].update(others)

    # -- freshness: what a long-lived session shows is what the store holds -----------------

    def expire(self) -> None:
        """Time has passed since this session last read (the user answered a question): the
        next read first asks the store which clouds moved (see fresh)."""
        self._expired = True

    def current(self) -> None:
        """Every read passes here first: what this session could not record is written (see
        later), then, after ``expire``, the store is asked what moved.  Never inside a store
        transaction (a write's own reads see what its locks hold)."""
        if self.store.in_transaction:
            return
        if self._unrecorded and time.monotonic() >= self._quiet_until and not self.catch_up():
            self._quiet_until = time.monotonic() + RETRY_SECONDS
        if self._expired:
            self.fresh()

    def fresh(self) -> list[str]:
        """Ask the store which clouds moved since this session read them: one query, every
        lock's generation and token.  What it holds of each cloud that moved (written by
        another session; added, removed; its rows replaced by a backup put back or a copy at
        the same generation) is let go, and read again when asked for; when the store-wide
        lock moved (Destroy), everything is.  Returns the clouds that moved."""
        known = self._tokens()
        generations = self.store.generations()  # when it fails, the next read asks again
        self._expired = False
        if generations.get(STORE_LOCK, 0) != self.generations.get(STORE_LOCK, 0):
            self.forget()
            self.generations = dict(generations)
            return sorted(generations)
        moved = [cloud for cloud, generation in generations.items()
                 if self.generations.get(cloud, 0) != generation
                 or self._replaced(cloud, generation, known)]
        for cloud in moved:
            self.reload_cloud(cloud)
        self.generations.update(generations)
        return moved

    def _tokens(self) -> dict[str, str | None]:
        """The token of each cloud at the generation this session holds it at."""
        return {cloud: self.store.token(cloud, generation)
                for cloud, generation in self.generations.items()}

    def _replaced(self, cloud: str, generation: int, known: dict[str, str | None]) -> bool:
        """The store now holds other rows for ``cloud`` at the generation this session read
        (a backup put back, a copy of the store): the token it knew is not the store's."""
        token = known.get(cloud)
        return token is not None and self.store.token(cloud, generation) != token

    def stamp(self, cloud: str) -> str | None:
        """What identifies the rows of ``cloud`` this session holds, among every state
        those rows were ever in, in this store or any copy of it: its generation and the
        random token written with it.  None when no token stands for them (an older
        MiniCloud wrote the cloud last, or a store from before tokens): nothing saved may
        then be taken for them."""
        generation = self.generations.get(cloud, 0)
        token = self.store.token(cloud, generation)
        return f"{generation}:{token}" if token is not None else None

    # -- reads on demand (the cache asks) -------------------------------------------------------

    def complete(self, kind: str, cloud: str | None) -> bool:
        return kind in self._everywhere or (cloud is not None and cloud in self._clouds[kind])

    def need(self, kind: str, cloud: str | None) -> None:
        """Every row of ``kind`` (of ``cloud``) is in the cache."""
        self._clouds_read()
        if self.complete(kind, cloud):
            return
        if cloud is None and kind != "cloud" and self._clouds[kind]:
            self._need_missing(kind)
            return
        self._read(Query(kind, cloud))
        if cloud is None:
            self._everywhere.add(kind)
        else:
            self._clouds[kind].add(cloud)

    def _need_missing(self, kind: str) -> None:
        """Every row of ``kind`` when some clouds' rows are here already: only the other
        clouds' are read (those that moved since), until none is missing; a read that finds
        another cloud moved meanwhile lets that one go and it is read too (a few rounds at
        most: under a stream of writes, the whole kind is read in one snapshot instead)."""
        for _ in range(3):
            missing = self._missing(kind)
            if not missing:
                break
            for name in missing:
                self._read(Query(kind, name))
                self._clouds[kind].add(name)
        else:
            if self._missing(kind):
                self._read(Query(kind))
        self._everywhere.add(kind)

    def _missing(self, kind: str) -> list[str]:
        """The clouds none of whose rows of ``kind`` are here."""
        self._clouds_read()
        return sorted({name for name, _ in self.cache._objs["cloud"]} - self._clouds[kind])

    def fetch(self, kind: str, cloud: str, ident: str) -> Any | None:
        """One object by key, unless the cache holds its whole kind already."""
        self._clouds_read()
        if not self.complete(kind, cloud):
            self._read(Query(kind, cloud, key=ident))
        return self.cache.peek(kind, cloud, ident)

    def fetch_named(self, kind: str, cloud: str | None, name: str) -> None:
        self._clouds_read()
        self._read(Query(kind, cloud, name=name))

    def fetch_holding(self, kind: str, cloud: str, fragment: str) -> list[Any]:
        """Objects of ``cloud`` whose stored JSON text holds ``fragment``."""
        self._clouds_read()
        return self._read(Query(kind, cloud, contains=fragment))

    def _clouds_read(self) -> None:
        if "cloud" not in self._everywhere:
            self._read(Query("cloud"))
            self._everywhere.add("cloud")

    def _read(self, query: Query) -> list[Any]:
        with paused_gc():
            known = self._tokens()
            records, generations = self.store.read(query)
            for cloud, generation in generations.items():
                if self.generations.get(cloud, generation) != generation or \
                        self._replaced(cloud, generation, known):
                    self.reload_cloud(cloud)
                self.generations[cloud] = generation
            return self._take({query.kind: records})

    def _take(self, records: dict[str, list[Any]]) -> list[Any]:
        """Objects from rows, into the cache; a row that is no valid object (or whose cloud
        is of a type this MiniCloud does not know) is skipped and named, never rewritten."""
        taken: list[Any] = []
        unreadable = self._unreadable
        for kind, rows in records.items():
            cls = KINDS[kind].cls
            into = self.cache._objs[kind]
            for data, version in rows:
                try:
                    obj: Any = from_dict(cls, data)
                    key = obj.key  # fails on a row with a missing field
                except (TypeError, ValueError, KeyError, AttributeError):
                    self._skip(f"{KINDS[kind].table}/{data.get('cloud', '?')}/"
                               f"{data.get('id') or data.get('name') or '?'}")
                    continue
                obj.version = version
                if kind == "cloud" and not self._readable(obj):
                    unreadable.add(obj.name)
                    self._skip(f"clouds/{obj.name}")
                    continue
                if key[0] in unreadable:
                    continue
                into[key] = obj
                taken.append(obj)
        self._skip(*self.store.take_skipped())
        return taken

    def _skip(self, *names: str) -> None:
        self.skipped.extend(n for n in names if n not in self.skipped)

    def take_skipped(self) -> list[str]:
        """Rows skipped since the last call (for one notice)."""
        taken, self.skipped = self.skipped, []
        return taken

    @contextmanager
    def write(self, cloud: str | None = None, store_wide: bool = False) -> Iterator[Writes]:
        """Collect writes, then apply them in one transaction (see :meth:`retrying`: run
        again as a whole when it conflicts or loses its node); the clouds locked are
        ``cloud`` and every cloud whose rows are written."""
        writes = Writes()
        yield writes
        clouds = {_cloud_of(obj) for obj, _ in (*writes.puts, *writes.deletes)}
        self.retrying(clouds | ({cloud} if cloud else set()), lambda tx: tx.apply(writes),
                      store_wide)

    def retrying(self, clouds: Iterable[str], body: Callable[[WriteTransaction], T],
                 store_wide: bool = False,
                 verify: Callable[[], bool] | None = None) -> T:
        """``body(tx)`` in one write transaction as :meth:`transaction` runs it, run again as
        a whole when it fails in a way that may pass the next time (``Store.retrying``: a
        conflict, a failed Galera certification, a lost node), each run from its first read
        with a fresh ``tx``; its result.  ``verify()``, given, is asked when the connection
        was lost during COMMIT, in a fresh transaction: True when the commit happened (the
        unit of work reads its intent back by id); what it wrote is then read again from the
        store instead of taken into the cache.  Without it the body must be right to run
        again after its own commit."""
        names = sorted(set(clouds))
        locks = ((STORE_LOCK,) if store_wide else ()) + tuple(names)
        last: list[WriteTransaction] = []
        verified = [False]

        def run(conn: Any) -> T:
            tx = WriteTransaction(self)
            last[:] = [tx]
            tx.generations = {name: self.store.generation(conn, name) for name in names}
            result = body(tx)
            tx.bumped = {name: self.store.bump(conn, name) for name in names}
            return result

        def check(conn: Any) -> bool:
            assert verify is not None
            verified[0] = bool(verify())
            return verified[0]

        try:
            result = self.store.retrying(run, write=True, locks=locks,
                                         verify=check if verify is not None else None)
        except StaleError:
            self.forget()  # the refusal comes with a refresh
            raise
        if verified[0]:  # committed, its answer lost: what it wrote is read again
            for name in [*names, *last[0].forgotten]:
                self.reload_cloud(name)
        else:
            self._committed(last[0])
        return result

    # -- what the store could not take: written first, at the next read or write -------------

    def later(self, write: Callable[[], None]) -> None:
        """``write`` (a transaction of this inventory) recorded what a cloud has done for good
        and the store could not take it (a full disk): it is written first at this session's
        next read or write, so that the store and this session's copy of it come to agree
        with the cloud as soon as the store can be written.  Until then this session's reads
        keep what the store has (the cache changes only after a commit)."""
        self._unrecorded.append(write)

    @property
    def unrecorded(self) -> bool:
        """Some writes of what clouds have done wait for the store (see ``later``)."""
        return bool(self._unrecorded)

    def catch_up(self) -> bool:
        """Write what waits (see ``later``), oldest first; True when nothing waits any more.
        Never inside a store transaction (its locks must be its first statements): the next
        read or write outside one does it."""
        if self._catching_up or self.store.in_transaction:
            return not self._unrecorded
        self._catching_up = True
        try:
            while self._unrecorded:
                try:
                    self._unrecorded[0]()
                except StoreError as err:
                    log.warning("what a cloud did is still not recorded: %s", err)
                    return False
                except MiniCloudError as err:  # nothing left to record it in (cloud gone)
                    log.warning("what a cloud did is not recorded: %s", err)
                self._unrecorded.pop(0)
        finally:
            self._catching_up = False
        return True

    # -- writes --------------------------------------------------------------------------------

    @contextmanager
    def transaction(self, clouds: Iterable[str], store_wide: bool = False
                    ) -> Iterator[WriteTransaction]:
        """One write transaction holding the locks of ``clouds`` (in name order, after the
        store's lock when ``store_wide``): what it reads is the store as it is under those
        locks; what it applies bumps each cloud's generation (a generation then stands for one
        state of the cloud's rows, which other sessions re-read on and the saved views of the
        tree are keyed by).  The cache changes after the commit, only then: a failed write
        leaves it, and the generations this session holds, as they were."""
        self.catch_up()  # what this session did and could not record comes first
        names = sorted(set(clouds))
        locks = ((STORE_LOCK,) if store_wide else ()) + tuple(names)
        tx = WriteTransaction(self)
        try:
            with self.store.transaction(write=True, locks=locks) as conn:
                tx.generations = {name: self.store.generation(conn, name) for name in names}
                yield tx
                tx.bumped = {name: self.store.bump(conn, name) for name in names}
        except StaleError:
            self.forget()  # the refusal comes with a refresh
            raise
        self._committed(tx)

    def _committed(self, tx: WriteTransaction) -> None:
        """The cache after a commit: clouds another session wrote meanwhile are read again;
        the rest takes what was written."""
        stale = [name for name, generation in tx.generations.items()
                 if generation != self.generations.get(name, 0)]
        self.generations.update(tx.bumped)
        for name in [*stale, *tx.forgotten]:
            self.reload_cloud(name)
        for obj in tx.deleted:
            self.cache.remove(obj)
        for obj in tx.saved:
            self.cache.put(obj)

    def _apply(self, writes: Writes) -> list[Any]:
        saved: list[Any] = []
        forced_deletes: dict[str, list[str]] = {}
        for obj, force in writes.deletes:
            cached = self.cache.peek(obj.kind, *obj.key)
            if force or cached is None:
                forced_deletes.setdefault(obj.kind, []).append(record_key(*obj.key))
            else:
                self.store.kind(obj.kind).delete(record_key(*obj.key), cached.version)
        for kind, keys in forced_deletes.items():
            self.store.kind(kind).delete_many(keys)
        forced: dict[str, dict[tuple[str, str], Any]] = {}
        for obj, force in writes.puts:
            if force:  # the last report of an object wins
                forced.setdefault(obj.kind, {})[obj.key] = obj
                continue
            cached = self.cache.peek(obj.kind, *obj.key)
            version = self.store.kind(obj.kind).put(
                record_key(*obj.key), _cloud_of(obj), _data(obj),
                cached.version if cached else 0)
            saved.append(dataclasses.replace(obj, version=version))
        for kind, by_key in forced.items():
            objs = list(by_key.values())
            versions = self.store.kind(kind).put_many(
                (record_key(*o.key), _cloud_of(o), _data(o)) for o in objs)
            saved.extend(dataclasses.replace(o, version=versions[record_key(*o.key)])
                         for o in objs)
        return saved
