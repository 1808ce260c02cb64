"""Clouds and clusters: add, update, remove; catalogues; the entry points to sync and reset."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..cache import clone
from ..drivers import DRIVERS, driver_class
from ..drivers.base import Driver, Setting
from ..errors import ConfigError, InUseError, NotFoundError, ValidationError
from ..kinds import KINDS
from ..model import Cloud, Cluster, Deployment, Flavor, Image
from ..reset import ResetReport
from .base import Manager, check_name

if TYPE_CHECKING:
    from ..reconciler import Reconciler
    from ..reset import Resetter
    from ..session import Session


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
        return sorted(DRIVERS)

    def settings_for(self, type_name: str) -> tuple[Setting, ...]:
        """What a cloud of this type asks for when it is added (flags and questions)."""
        if type_name not in DRIVERS:
            raise ValidationError(f"unknown cloud type {type_name!r}: use one of "
                                  f"{', '.join(sorted(DRIVERS))}")
        try:
            return tuple(driver_class(type_name).settings)
        except ImportError as err:
            raise ConfigError(f"cloud type {type_name} is not available here: {err}") from None

    def deployment(self) -> Deployment:
        """Everything MiniCloud knows, for the tree and the views."""
        return self.cache.deployment()

    def keep_secret(self, cloud: str, value: str) -> None:
        """A password typed for ``cloud``, kept in memory for this session only."""
        self.get(cloud)
        self.session.drivers.keep_secrets(cloud, {"password": value})

    def add(self, name: str, type_name: str, location: str = "",
            settings: dict[str, str] | None = None, password: str | None = None) -> Cloud:
        """Add a cloud: check access, read what it holds, and record it."""
        check_name(name, "cloud name")
        if type_name not in DRIVERS:
            raise ValidationError(f"unknown cloud type {type_name!r}: use one of "
                                  f"{', '.join(sorted(DRIVERS))}")
        if self.cache.get("cloud", name, name) is not None:
            raise ValidationError(f"a cloud named {name!r} exists already")
        if len(location) > 255:
            raise ValidationError("location too long (255 characters at most)")
        cls = driver_class(type_name)
        cloud = Cloud(name, type_name, location, self._check_settings(cls, settings or {}))
        secrets = {"password": password} if password else {}
        driver = self.session.drivers.build(cloud, secrets)
        try:
            driver.setup()
            snapshot = driver.snapshot()
            with self.session.inventory.write() as tx:
                tx.put(cloud)
                self.reconciler.apply(tx, cloud, snapshot, notices=False)
        except Exception:
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
            check = known[key].check
            checked[key] = check(value) if check and value is not None else value
        return checked

    def update(self, name: str, location: str) -> Cloud:
        if len(location) > 255:
            raise ValidationError("location too long (255 characters at most)")
        cloud = clone(self.get(name))
        cloud.location = location
        with self.session.inventory.write() as tx:
            tx.put(cloud)
        return self.get(name)

    def remove(self, name: str) -> str:
        """Forget a cloud.  Returns what happened to its resources, in one line."""
        cloud = self.get(name)
        with self.session.inventory.write() as tx:
            for kind in KINDS:
                if kind != "cloud":
                    for obj in self.cache.all(kind, name):
                        tx.delete(obj, force=True)
            tx.delete(cloud)
        driver = self.session.drivers.get(cloud)
        driver.forget()
        self.session.drivers.drop(name)
        self.session.drivers.forget_secrets(name)
        if driver.features.hosts:
            return f"cloud {name} forgotten; its resources stay in the cloud"
        return f"cloud {name} forgotten with its simulated resources"

    # -- clusters ------------------------------------------------------------------------------

    def clusters(self, cloud: str | None = None) -> list[Cluster]:
        return sorted(self.cache.all("cluster", cloud), key=lambda c: (c.cloud, c.name))

    def add_cluster(self, cloud: str, name: str) -> Cluster:
        self.get(cloud)
        check_name(name, "cluster name")
        if self.cache.get("cluster", cloud, name) is not None:
            raise ValidationError(f"cluster {name!r} exists already in cloud {cloud}")
        cluster = Cluster(cloud, name)
        self.save(cluster)
        return self.by_id("cluster", cloud, name)

    def remove_cluster(self, cloud: str, name: str) -> None:
        cluster = self.cache.get("cluster", cloud, name)
        if cluster is None:
            raise NotFoundError(f"no cluster named {name!r} in cloud {cloud}")
        members = sorted(i.name for i in self.cache.all("instance", cloud) if i.cluster == name)
        if members:
            raise InUseError(f"cluster {name} still has instances: {', '.join(members)}; "
                             "remove them first")
        with self.session.inventory.write() as tx:
            tx.delete(cluster)

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

    def refresh(self, name: str | None = None) -> list[str]:
        """Re-read the store, then every cloud (or one).  Returns one line per failed cloud."""
        return self.reconciler.refresh(name)

    def reset(self) -> ResetReport:
        return self.resetter.reset()

    def destroy(self) -> ResetReport:
        return self.resetter.destroy()
