"""What a sync may write: a cloud's listing merged with the writes that settled while it ran.

A listing takes time, and other sessions' writes settle meanwhile.  A listing is older than
they are (or not: nothing tells), so it must never undo them.  The rule (DESIGN.md section 7,
"never drops an object whose create settled while it listed"):

1. Before it lists, the sync reads a **baseline** of the cloud in one read transaction: the
   cloud's row (its incarnation), the cloud's generation, and every row a sync writes
   (``BASELINE_KINDS``) with its version.
2. Under the cloud's lock, the listing is written only for the same incarnation: the cloud's
   row is still there and was not added again since (nothing is written otherwise, and the
   sync says so in one line), and no removal or Destroy is pending in it.
3. The generation is the same as the baseline's: nothing settled meanwhile, the listing is
   applied whole: what it reports is written where it differs, what it does not report is
   dropped.
4. The generation moved: the cloud's rows are read again under the lock.  A row that was
   created, changed or deleted since the baseline (absent from it, at another version, or
   gone) was written by a write that settled while the listing ran: it is **kept as the store
   has it** (not overwritten, not dropped, not brought back) and read again at the next sync.
   Only rows unchanged since the baseline are replaced or dropped as the listing says; an
   object the listing reports that the store had neither then nor now is added.
5. Drift (what changed outside MiniCloud) is counted on those decided objects only: a kept
   row is MiniCloud's own doing.
6. A change record (what MiniCloud changed on someone else's resource) goes when its object
   is gone: when the record is unchanged since the baseline and neither the listing nor a
   kept row has its object.  A cluster a listed server names is added when the store has none.
7. A row this MiniCloud cannot read (a newer MiniCloud's, or damaged: state/table.py skips
   and names it) is kept too: its object is neither adopted (it is there, in a row that is
   not rewritten) nor counted as drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model.codec import to_dict
from ..model.drift import WATCHED
from ..model.kinds import SYNCED
from ..model.objects import Cloud, CloudSnapshot, Cluster

# The rows a sync reads before it lists, and writes: what a listing reports, the change
# records that follow their objects, the clusters servers name, the drift records it keeps.
BASELINE_KINDS = (*SYNCED, "change", "cluster", "drift")
# Drift records kept per cloud (the oldest go): enough for ``drift --since`` over weeks.
KEPT_RECORDS = 200

Key = tuple[str, str]


@dataclass
class Baseline:
    """One cloud as the store had it before its listing was taken."""

    cloud: Cloud
    generation: int
    rows: dict[Key, Any]

    def of(self, kind: str) -> list[Any]:
        return [obj for (k, _), obj in self.rows.items() if k == kind]


@dataclass
class Merge:
    """What a listing changes in the store, and what it found."""

    puts: list[Any] = field(default_factory=list)
    deletes: list[Any] = field(default_factory=list)
    # Objects the store did not have (adopted) and objects it no longer lists (dropped).
    adopted: list[Any] = field(default_factory=list)
    dropped: list[Any] = field(default_factory=list)
    # The objects the listing decided, before and after: what drift compares.
    before: list[Any] = field(default_factory=list)
    after: list[Any] = field(default_factory=list)
    # Rows left as the store has them (written while the listing ran).
    kept: set[Key] = field(default_factory=set)


def same(a: Any, b: Any) -> bool:
    """The same object, row versions aside."""
    da, db = to_dict(a), to_dict(b)
    da.pop("version", None)
    db.pop("version", None)
    return da == db


def moved_since(baseline: dict[Key, Any], current: dict[Key, Any]) -> set[Key]:
    """Rows created, changed or deleted between two reads."""
    return {key for key in baseline.keys() | current.keys()
            if getattr(baseline.get(key), "version", None)
            != getattr(current.get(key), "version", None)}


def merge(baseline: Baseline, current: dict[Key, Any] | None, snapshot: CloudSnapshot,
          unreadable: Callable[[Key], bool] = lambda key: False) -> Merge:
    """The listing ``snapshot`` against the store: ``current`` is the cloud's rows read again
    under the lock, or None when its generation did not move (then they are the baseline's).
    ``unreadable``: is the row of that object one the store could not read (rule 7)?"""
    now = baseline.rows if current is None else current
    kept = set() if current is None else moved_since(baseline.rows, current)
    reported = {(obj.kind, obj.id): obj for obj in snapshot.resources()}
    kept |= {key for key in reported if key not in now and unreadable(key)}
    out = Merge(kept=kept)
    for key, obj in reported.items():
        if key in kept:
            continue
        old = now.get(key)
        if old is None:
            out.puts.append(obj)
            out.adopted.append(obj)
        elif not same(old, obj):
            out.puts.append(obj)
        if key[0] in WATCHED:
            out.after.append(obj)
            if old is not None:
                out.before.append(old)
    for key, old in now.items():
        if key[0] in SYNCED and key not in reported and key not in kept:
            out.deletes.append(old)
            out.dropped.append(old)
            if key[0] in WATCHED:
                out.before.append(old)
    clusters = {ident for kind, ident in now if kind == "cluster"}
    for server in snapshot.instances:
        if server.cluster and server.cluster not in clusters:
            clusters.add(server.cluster)
            out.puts.append(Cluster(baseline.cloud.name, server.cluster))
    present = {ident for _, ident in reported} | {ident for _, ident in kept}
    out.deletes += [change for key, change in now.items()
                    if key[0] == "change" and key not in kept
                    and change.target_id not in present]
    return out
