"""The in-memory object cache, and the write path that keeps it in step with the store.

Reads come from the cache and never reach a driver.  Writes go through the unit of work
(unit_of_work.py), in :meth:`Inventory.transaction`: the caller has already changed the cloud;
the store is written in one transaction that holds the clouds' locks and bumps their
generations; the cache changes last, only after the commit, so a failed write leaves the cache
as it was.
"""

from __future__ import annotations

import dataclasses
import gc
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ..model.codec import from_dict, to_dict
from ..model.errors import StaleError
from ..model.kinds import KINDS
from ..model.objects import Deployment
from .store import STORE_LOCK, Query, Store
from .table import record_key

T = TypeVar("T")


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

    def get(self, kind: str, cloud: str, ident: str) -> Any | None:
        obj = self._objs[kind].get((cloud, ident))
        if obj is None and self._loader is not None:
            obj = self._loader.fetch(kind, cloud, ident)
        return obj

    def peek(self, kind: str, cloud: str, ident: str) -> Any | None:
        """What the cache holds, without asking the store."""
        return self._objs[kind].get((cloud, ident))

    def all(self, kind: str, cloud: str | None = None) -> list[Any]:
        if self._loader is not None:
            self._loader.need(kind, cloud)
        objs = self._objs[kind].values()
        if cloud is None:
            return list(objs)
        return [o for o in objs if o.key[0] == cloud]

    def named(self, kind: str, cloud: str | None, name: str) -> list[Any]:
        """The objects of ``kind`` called ``name`` (in ``cloud``): by the store's name index
        unless the whole kind is here already."""
        if self._loader is not None and not self._loader.complete(kind, cloud):
            self._loader.fetch_named(kind, cloud, name)
        return [o for o in self._objs[kind].values()
                if o.name == name and (cloud is None or o.key[0] == cloud)]

    def holding(self, kind: str, cloud: str, key: str, value: str) -> list[Any]:
        """Objects of ``cloud`` that may have ``key`` (at any depth) set to ``value``: only
        rows whose text holds the pair are read, unless the kind is here whole.  The caller
        checks the objects it gets."""
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
            clouds=[c for c in self.all("cloud") if cloud is None or c.name == cloud],
            clusters=self.all("cluster", cloud),
            networks=self.all("network", cloud),
            routers=self.all("router", cloud),
            instances=self.all("instance", cloud),
            public_ips=self.all("public_ip", cloud),
            security_groups=self.all("security_group", cloud),
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
    return obj.key[0]


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

    @property
    def loaded(self) -> bool:
        """Everything is read (the menu's start)."""
        return len(self._everywhere) == len(KINDS)

    def ensure_loaded(self) -> Cache:
        """Read every table (one query each) if that was not done: whole-store views."""
        if not self.loaded:
            self.reload()
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

    # -- reads on demand (the cache asks) -------------------------------------------------------

    def complete(self, kind: str, cloud: str | None) -> bool:
        return kind in self._everywhere or (cloud is not None and cloud in self._clouds[kind])

    def need(self, kind: str, cloud: str | None) -> None:
        """Every row of ``kind`` (of ``cloud``) is in the cache."""
        self._clouds_read()
        if self.complete(kind, cloud):
            return
        self._read(Query(kind, cloud))
        if cloud is None:
            self._everywhere.add(kind)
        else:
            self._clouds[kind].add(cloud)

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
            records, generations = self.store.read(query)
            for cloud, generation in generations.items():
                if self.generations.get(cloud, generation) != generation:
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
        """Collect writes, then apply them in one transaction (see :meth:`transaction`); the
        clouds locked are ``cloud`` and every cloud whose rows are written."""
        writes = Writes()
        yield writes
        clouds = {_cloud_of(obj) for obj, _ in (*writes.puts, *writes.deletes)}
        with self.transaction(clouds | ({cloud} if cloud else set()), store_wide) as tx:
            tx.apply(writes)

    @contextmanager
    def transaction(self, clouds: Iterable[str], store_wide: bool = False
                    ) -> Iterator[WriteTransaction]:
        """One write transaction holding the locks of ``clouds`` (in name order, after the
        store's lock when ``store_wide``): what it reads is the store as it is under those
        locks; what it applies bumps each cloud's generation (a generation then stands for one
        state of the cloud's rows, which other sessions re-read on and the saved views of the
        tree are keyed by).  The cache changes after the commit, only then: a failed write
        leaves it, and the generations this session holds, as they were."""
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
