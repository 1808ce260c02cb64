"""The in-memory object cache, and the write path that keeps it in step with the store.

Reads come from the cache and never reach a driver.  Writes go through :meth:`Inventory.write`:
the caller has already changed the cloud; the store is written in one transaction; the cache
changes last, only after the commit, so a failed write leaves the cache as it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .errors import StaleError
from .kinds import KINDS
from .model import Deployment, from_dict, to_dict
from .store import STORE_LOCK, Store
from .table import record_key

T = TypeVar("T")


def clone(obj: T) -> T:
    """A deep copy to change; cached objects are never changed in place."""
    return from_dict(type(obj), to_dict(obj))


class Cache:
    def __init__(self) -> None:
        self._objs: dict[str, dict[tuple[str, str], Any]] = {kind: {} for kind in KINDS}

    def get(self, kind: str, cloud: str, ident: str) -> Any | None:
        return self._objs[kind].get((cloud, ident))

    def all(self, kind: str, cloud: str | None = None) -> list[Any]:
        objs = self._objs[kind].values()
        if cloud is None:
            return list(objs)
        return [o for o in objs if o.key[0] == cloud]

    def put(self, obj: Any) -> None:
        self._objs[obj.kind][obj.key] = obj

    def remove(self, obj: Any) -> None:
        self._objs[obj.kind].pop(obj.key, None)

    def clear(self) -> None:
        for objs in self._objs.values():
            objs.clear()

    def deployment(self) -> Deployment:
        return Deployment(
            clouds=self.all("cloud"),
            clusters=self.all("cluster"),
            networks=self.all("network"),
            routers=self.all("router"),
            instances=self.all("instance"),
            public_ips=self.all("public_ip"),
            security_groups=self.all("security_group"),
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


def _cloud_of(obj: Any) -> str:
    return obj.key[0]


def _data(obj: Any) -> dict[str, Any]:
    data = to_dict(obj)
    data.pop("version", None)
    return data


class Inventory:
    """Cache + store: loads once at first use, then answers reads from memory.

    It remembers each cloud's generation as it read it; a write that finds a higher one in
    the store (another session wrote meanwhile) re-reads that cloud's rows after its commit.
    """

    def __init__(self, store: Store, cache: Cache | None = None,
                 readable: Callable[[Any], bool] | None = None):
        self.store = store
        self.cache = cache or Cache()
        self.loaded = False
        self.generations: dict[str, int] = {}
        # Rows skipped at the last load, as "table/key" (a newer MiniCloud's, or damaged).
        self.skipped: list[str] = []
        self._readable = readable or (lambda obj: True)

    def ensure_loaded(self) -> Cache:
        if not self.loaded:
            self.reload()
        return self.cache

    def forget(self) -> None:
        """Empty the cache; the next read loads the store again (after Destroy)."""
        self.cache.clear()
        self.generations.clear()
        self.loaded = False

    def reload(self) -> None:
        """Read every table (one query each) into a fresh cache."""
        records, generations = self.store.load_all(KINDS)
        fresh = Cache()
        self.skipped = self.store.take_skipped() + self._fill(fresh, records)
        self.cache._objs = fresh._objs
        self.generations = generations
        self.loaded = True

    def reload_cloud(self, cloud: str) -> None:
        """Re-read one cloud's rows (another session changed that cloud)."""
        records = {kind: self.store.kind(kind).rows(cloud) for kind in KINDS}
        fresh = Cache()
        self._fill(fresh, records)
        for kind in KINDS:
            for obj in self.cache.all(kind, cloud):
                self.cache.remove(obj)
            for obj in fresh.all(kind, cloud):
                self.cache.put(obj)

    def _fill(self, cache: Cache, records: dict[str, list[Any]]) -> list[str]:
        """Objects from rows; a row that is no valid object (or whose cloud is of a type this
        MiniCloud does not know) is skipped and named, never rewritten."""
        skipped: list[str] = []
        for kind, spec in KINDS.items():
            for data, version in records[kind]:
                try:
                    obj: Any = from_dict(spec.cls, data)
                    obj.key  # noqa: B018 - fails on a row with a missing field
                except (TypeError, ValueError, KeyError, AttributeError):
                    skipped.append(f"{spec.table}/{data.get('cloud', '?')}/"
                                   f"{data.get('id') or data.get('name') or '?'}")
                    continue
                obj.version = version
                cache.put(obj)
        unreadable = {c.name for c in cache.all("cloud") if not self._readable(c)}
        for cloud in sorted(unreadable):
            skipped.append(f"clouds/{cloud}")
            for kind in KINDS:
                for obj in cache.all(kind, cloud):
                    cache.remove(obj)
        return skipped

    @contextmanager
    def write(self, cloud: str | None = None, store_wide: bool = False) -> Iterator[Writes]:
        """Collect writes, then apply them in one transaction; the cache changes after the
        commit.  With ``cloud``, the transaction holds that cloud's lock and bumps its
        generation; ``store_wide`` takes the store's lock first."""
        self.ensure_loaded()
        writes = Writes()
        yield writes
        locks = ((STORE_LOCK,) if store_wide else ()) + ((cloud,) if cloud else ())
        stale = False
        try:
            with self.store.transaction(write=True, locks=locks) as conn:
                if cloud is not None:
                    stale = self.store.generation(conn, cloud) != self.generations.get(cloud, 0)
                    self.generations[cloud] = self.store.bump(conn, cloud)
                saved = self._apply(writes)
        except StaleError:
            self.reload()  # the refusal comes with a refresh
            raise
        for obj, _ in writes.deletes:
            self.cache.remove(obj)
        for obj in saved:
            self.cache.put(obj)
        if stale and cloud is not None:
            self.reload_cloud(cloud)

    def _apply(self, writes: Writes) -> list[Any]:
        saved: list[Any] = []
        forced_deletes: dict[str, list[str]] = {}
        for obj, force in writes.deletes:
            cached = self.cache.get(obj.kind, *obj.key)
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
            cached = self.cache.get(obj.kind, *obj.key)
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
