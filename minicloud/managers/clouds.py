"""Clouds and clusters: add, update, remove; catalogues; the entry points to sync and reset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..drivers import DRIVERS, driver_class
from ..drivers.base import Driver, Setting
from ..model.drift import Drift
from ..model.errors import InUseError, MiniCloudError, NotFoundError, ValidationError
from ..model.objects import Cloud, Cluster, Deployment, DriftRecord, Flavor, Image
from ..model.validation import check_location
from ..state.cache import clone
from ..state.claims import Claims
from ..state.unit_of_work import is_removal
from . import catalog
from .base import Manager, check_name
from .recovery import forget
from .reset import ResetReport

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


class CloudManager(Manager):
    def __init__(self, session: Session, reconciler: Reconciler, resetter: Resetter):
        super().__init__(session)
        self.reconciler = reconciler
        self.resetter = resetter

    # -- clouds --------------------------------------------------------------------------------

    def all(self) -> list[Cloud]:
        return sorted(self.cache.all("cloud"), key=lambda c: c.name)

    def get(self, name: str) -> Cloud:
        return self.cloud(name)

    def types(self) -> list[str]:
        return catalog.types()

    def settings_for(self, type_name: str) -> tuple[Setting, ...]:
        """What a cloud of this type asks for when it is added (flags and questions)."""
        return catalog.settings_for(type_name)

    def deployment(self, cloud: str | None = None) -> Deployment:
        """Everything MiniCloud knows (or its part in one cloud), for the tree and the
        views.  The whole store is read in one query a table."""
        if cloud is None:
            self.session.inventory.ensure_loaded()
        return self.cache.deployment(cloud)

    def tree(self) -> list[str]:
        """The topology tree's lines (render/topology.py), from each cloud's part: saved ones while
        their cloud's generation stays, the others rendered from that cloud's rows alone."""
        from ..render.topology import assemble, cloud_parts

        clouds, parts = self._parts("tree", cloud_parts)
        return assemble(clouds, parts)

    def topology_view(self) -> dict[str, Any]:
        """The topology as ``--json`` prints it (render/views.py), from each cloud's part
        likewise."""
        from ..render.views import assemble, cloud_part

        clouds, parts = self._parts("json", cloud_part)
        return assemble(clouds, parts)

    def _parts(self, view: str, make: Callable[[Deployment], Any],
               ) -> tuple[list[Cloud], dict[str, Any]]:
        from ..render.saved_views import SavedViews

        inventory = self.session.inventory
        clouds = self.all()
        saved = SavedViews(self.session.config.home, self.session.store.identity)
        parts = {}
        for cloud in clouds:
            # The cloud's generation and the token written with it: what its rows are.
            stamp = inventory.stamp(cloud.name)
            part = saved.get(view, cloud.name, stamp) if stamp is not None else None
            if part is None:
                part = make(self.cache.deployment(cloud.name))
                # Saved only when every row was read at that stamp (a read sees a newer
                # one when another session wrote the cloud meanwhile).
                if stamp is not None and inventory.stamp(cloud.name) == stamp:
                    saved.put(view, cloud.name, stamp, part)
            parts[cloud.name] = part
        saved.keep_only(view, list(parts))
        return clouds, parts

    def secret_setting(self, cloud: str) -> Setting | None:
        """The cloud type's declared secret (its prompt, the name its driver reads)."""
        return driver_class(self.get(cloud).type).secret_setting()

    def keep_secret(self, cloud: str, value: str) -> None:
        """The secret typed for ``cloud`` (a password, an API secret key...), kept in memory
        for this session only, under the name its type declares."""
        self.session.drivers.keep_secrets(cloud, self.secrets_for(self.get(cloud).type, value))

    @staticmethod
    def secrets_for(type_name: str, value: str | None) -> dict[str, str]:
        """``value`` under the name of the type's secret setting, as its driver is given it
        (the managers never assume a name such as "password")."""
        if not value:
            return {}
        setting = driver_class(type_name).secret_setting()
        if setting is None:
            raise ValidationError(f"a {type_name} cloud takes no secret")
        return {setting.name: value}

    def check_setting(self, type_name: str, name: str, value: str) -> str:
        """A value typed for one of the type's settings, checked as ``add`` checks it."""
        setting = next(s for s in catalog.settings_for(type_name) if s.name == name)
        return catalog.check_setting(type_name, setting, value)

    def check_new_name(self, name: str) -> str:
        """The name of a cloud to add: valid and free (asked as soon as it is typed)."""
        check_name(name, "cloud name")
        self.early(Claims.name("cloud", name), name)
        # One cloud name is one cloud, whatever its case: TryStack and trystack would be two
        # clouds a user cannot tell apart in a list or a command.
        same = next((c.name for c in self.all() if c.name.casefold() == name.casefold()), None)
        if same is not None:
            raise ValidationError(f"cloud name {name!r} is cloud {same}'s: cloud names differ "
                                  "by more than case")
        return name

    def add(self, name: str, type_name: str, location: str = "",
            settings: dict[str, str] | None = None, secret: str | None = None) -> Cloud:
        """Add a cloud: check access, read what it holds, and record it.  ``secret`` is the
        value of the type's secret setting (kept in memory only)."""
        check_name(name, "cloud name")
        if type_name not in DRIVERS:
            raise ValidationError(f"unknown cloud type {type_name!r}: use one of "
                                  f"{', '.join(sorted(DRIVERS))}")
        self.check_new_name(name)
        check_location(location)
        cls = driver_class(type_name)
        cloud = Cloud(name, type_name, location, self._check_settings(cls, settings or {}))
        cls.check_complete(cloud.settings)  # what is missing, before the cloud is touched
        secrets = self.secrets_for(type_name, secret)
        # The store-wide lock and the claim make a second "add" of the name wait, then fail,
        # before it touches the cloud (a loser must never clean up the winner's cloud).
        intent = self.work.begin_add(cloud)
        driver = self.session.drivers.build(cloud, secrets)
        try:
            with self.work.running(intent):
                driver.setup()
                snapshot = driver.snapshot()
                cloud.synced_at = self.session.store.now()  # read whole, just now
                self.work.settle_add(intent, cloud, snapshot)
        except BaseException:
            driver.forget()
            driver.close()
            raise
        if secrets:
            self.session.drivers.keep_secrets(name, secrets)
        self.session.drivers.adopt(name, driver)
        return self.get(name)

    @staticmethod
    def _check_settings(cls: type[Driver], settings: dict[str, str]) -> dict[str, str]:
        known = {s.name: s for s in cls.settings}
        checked = {}
        for key, value in settings.items():
            if key not in known:
                raise ValidationError(f"a {cls.type_name} cloud has no setting {key!r}; "
                                      f"settings: {', '.join(known) or 'none'}")
            if known[key].secret:
                raise ValidationError(f"{key} is secret: MiniCloud does not store it")
            checked[key] = catalog.check_setting(cls.type_name, known[key], value) \
                if value is not None else value
        return checked

    def update(self, name: str, location: str) -> Cloud:
        check_location(location)
        intent = self.work.begin(name, f"update cloud {name}")
        with self.work.running(intent):
            cloud = clone(self.get(name))  # as the store has it, since the intent
            cloud.location = location
            self.work.settle(intent, puts=[cloud])
        return self.get(name)

    def remove(self, name: str) -> str:
        """Forget a cloud.  Returns what happened to its resources, in one line.

        It waits for the writes other sessions have in progress in the cloud (and refuses,
        in one line, when they take too long); its intent comes first, so that a remove that
        is interrupted is finished by the next one, or by the next menu or write, which say
        so."""
        cloud = self.get(name)
        return forget(self.session, cloud, self.work.begin_remove(name))

    def finish_interrupted(self) -> list[str]:
        """Finish what a killed process left half-done: a Destroy (one line for the user);
        a cloud's removal, a cloud's add (said by the settler)."""
        said = []
        if self.work.interrupted_destroy():
            report = self.resetter.destroy()
            said.append("an interrupted Destroy was finished" if not report.failures else
                        f"an interrupted Destroy could not be finished: {report.failures[0]}")
        for cloud, dead in self.work.dead_by_cloud().items():
            if self.cache.get("cloud", cloud, cloud) is None or any(map(is_removal, dead)):
                try:
                    self.work.settle_dead(cloud)
                except MiniCloudError as err:
                    said.append(f"cloud {cloud}: interrupted writes not settled: {err}")
        return said

    # -- clusters ------------------------------------------------------------------------------

    def clusters(self, cloud: str | None = None) -> list[Cluster]:
        return sorted(self.cache.all("cluster", self.known(cloud)),
                      key=lambda c: (c.cloud, c.name))

    def check_new_cluster(self, cloud: str, name: str) -> str:
        """The name of a cluster to add to ``cloud``: valid and free."""
        return self._check_new_name("cluster", cloud, name)

    def add_cluster(self, cloud: str, name: str) -> Cluster:
        self.get(cloud)
        self.check_new_cluster(cloud, name)
        cluster = Cluster(cloud, name)
        intent = self.work.begin(cloud, f"add cluster {name}",
                                 claims=[Claims.name("cluster", name)])
        with self.work.running(intent):
            self.work.settle(intent, puts=[cluster])
        return self.by_id("cluster", cloud, name)

    def remove_cluster(self, cloud: str, name: str) -> None:
        cluster = self.cache.get("cluster", cloud, name)
        if cluster is None:
            raise NotFoundError(f"no cluster named {name!r} in cloud {cloud}")
        self._check_empty(cluster)
        intent = self.work.begin(cloud, f"remove cluster {name}",
                                 requires=[("cluster", name)])
        with self.work.running(intent):
            self._check_empty(cluster)  # again: the cache is the store's since the intent
            self.work.settle(intent, deletes=[cluster])

    def check_cluster_removable(self, cluster: Cluster) -> None:
        """Refuse (as remove_cluster does) a cluster with instances: a front end asks this
        before its confirmation."""
        self._check_empty(cluster)

    def _check_empty(self, cluster: Cluster) -> None:
        members = sorted(i.name for i in self.cache.all("instance", cluster.cloud)
                         if i.cluster == cluster.name)
        if members:
            raise InUseError(f"cluster {cluster.name} still has instances: "
                             f"{', '.join(members)}; remove them first")

    # -- catalogues ----------------------------------------------------------------------------

    def images(self, cloud: str) -> list[Image]:
        self.get(cloud)
        return sorted(self.cache.all("image", cloud), key=lambda i: i.name)

    def flavors(self, cloud: str) -> list[Flavor]:
        self.get(cloud)
        return sorted(self.cache.all("flavor", cloud), key=lambda f: (f.ram, f.name))

    # -- reading the clouds, reset and destroy -----------------------------------------------

    def sync(self, name: str) -> None:
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
        clouds = [self.cloud(name)] if name is not None else self.all()
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

    def reset(self) -> ResetReport:
        return self.resetter.reset()

    def destroy(self, agree: Callable[[ResetReport], bool] | None = None) -> ResetReport:
        """Reset, then forget every cloud; ``agree`` is asked whether to forget them all the
        same when some could not be reset (the report names what stays where)."""
        return self.resetter.destroy(agree)
