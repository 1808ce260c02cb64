"""Synchronisation: reading the clouds (first use, refresh), what changed outside MiniCloud
(drift), and the work killed processes left behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..model.drift import Drift
from ..model.errors import MiniCloudError
from ..model.kinds import CLOUD
from ..model.objects import DriftRecord
from ..state.unit_of_work import is_removal
from .base import Manager

if TYPE_CHECKING:
    from .reconciler import Reconciler
    from .reset import Resetter
    from .session import Session


@dataclass
class CloudDrift:
    """One cloud's answer to ``drift``: what its listing shows now (None when it could not
    be read, with ``error``), and what earlier syncs recorded."""

    cloud: str
    drift: Drift | None = None
    error: str | None = None
    recorded: list[DriftRecord] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool((self.drift and self.drift.found) or any(r.differences
                                                              for r in self.recorded))


class Synchronizer(Manager):
    def __init__(self, session: Session, reconciler: Reconciler, resetter: Resetter):
        super().__init__(session)
        self.reconciler = reconciler
        self.resetter = resetter

    def finish_interrupted(self) -> list[str]:
        """Finish what a killed process left half-done: a Destroy (one line for the user);
        a cloud's removal, a cloud's add (said by the settler)."""
        said = []
        if self.work.interrupted_destroy():
            report = self.resetter.destroy()
            said.append("an interrupted Destroy was finished" if not report.failures else
                        f"an interrupted Destroy could not be finished: {report.failures[0]}")
        for cloud, dead in self.work.dead_by_cloud().items():
            if self.cache.get(CLOUD, cloud, cloud) is None or any(map(is_removal, dead)):
                try:
                    self.work.settle_dead(cloud)
                except MiniCloudError as err:
                    said.append(f"cloud {cloud}: interrupted writes not settled: {err}")
        return said

    def reread(self, name: str) -> None:
        """Re-read one cloud now (driver errors keep their type: a password may be missing)."""
        self.reconciler.sync(name)

    def use(self, name: str) -> None:
        """The menu's first use of a cloud in a session re-reads it; later uses do not."""
        self.reconciler.sync_once(name)

    def settle_interrupted(self) -> None:
        """Settle the writes killed processes left pending, in every cloud the store has
        intents in, known or not (menu start)."""
        self.reconciler.settle_all()

    def refresh(self, name: str | None = None) -> list[str]:
        """Re-read the store, then every cloud (or one).  Returns one line per failed cloud."""
        return self.reconciler.refresh(name)

    def last_drift(self, name: str) -> Drift | None:
        """What this session's last sync of ``name`` found changed outside MiniCloud."""
        return self.reconciler.drifts.get(name)

    def drift(self, name: str | None = None, since: float | None = None) -> list[CloudDrift]:
        """Read every cloud (or one) and say what changed outside MiniCloud, changing
        nothing; with ``since`` (seconds), also what syncs recorded in that window."""
        clouds = ([self.cloud(name)] if name is not None
                  else sorted(self.cache.all(CLOUD), key=lambda c: c.name))
        start = self.session.store.now() - since if since is not None else None
        found = []
        for cloud in clouds:
            result = CloudDrift(cloud.name)
            try:
                result.drift = self.reconciler.check(cloud.name)
            except MiniCloudError as err:
                result.error = str(err)
            if start is not None:
                result.recorded = [r for r in self.reconciler.records(cloud.name)
                                   if r.at >= start]
            found.append(result)
        return found
