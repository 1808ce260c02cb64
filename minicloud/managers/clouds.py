"""Clouds and clusters: add, update, remove; sync with the clouds; reset and destroy."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..cache import clone
from ..drivers import DRIVERS, driver_class
from ..drivers.base import Driver, Setting
from ..errors import (
    NOT_FOUND,
    ConfigError,
    DriverError,
    InUseError,
    MiniCloudError,
    NotFoundError,
    ValidationError,
)
from ..kinds import KINDS, SYNCED, label
from ..model import (
    Cloud,
    CloudSnapshot,
    Cluster,
    Deployment,
    Flavor,
    Image,
    PublicIP,
    Router,
    to_dict,
)
from .base import Manager, check_name


@dataclass
class ResetReport:
    undone: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _same(a: Any, b: Any) -> bool:
    da, db = to_dict(a), to_dict(b)
    da.pop("version", None)
    db.pop("version", None)
    return da == db


class CloudManager(Manager):
    # -- clouds --------------------------------------------------------------------------------

    def list(self) -> list[Cloud]:
        return sorted(self.cache.all("cloud"), key=lambda c: c.name)

    def get(self, name: str) -> Cloud:
        cloud = self.cache.get("cloud", name, name)
        if cloud is None:
            raise NotFoundError(f"no cloud named {name!r}")
        return cloud

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
        self.app.passwords[cloud] = value
        self.app.drop_driver(cloud)

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
        driver = self.app.make_driver_for(cloud, password)
        try:
            driver.setup()
            snapshot = driver.snapshot()
            with self.app.inventory.write() as tx:
                tx.put(cloud)
                self._apply(tx, cloud, snapshot, notices=False)
        except Exception:
            driver.forget()
            driver.close()
            raise
        if password:
            self.app.passwords[name] = password
        self.app.adopt_driver(name, driver)
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
        with self.app.inventory.write() as tx:
            tx.put(cloud)
        return self.get(name)

    def remove(self, name: str) -> str:
        """Forget a cloud.  Returns what happened to its resources, in one line."""
        cloud = self.get(name)
        with self.app.inventory.write() as tx:
            for kind in (*SYNCED, "keypair", "cluster", "change"):
                for obj in self.cache.all(kind, name):
                    tx.delete(obj, force=True)
            tx.delete(cloud)
        driver = self.app.synced_driver(name) or self.app.make_driver_for(cloud)
        driver.forget()
        self.app.drop_driver(name)
        self.app.passwords.pop(name, None)
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
        with self.app.inventory.write() as tx:
            tx.put(cluster)
        return self.cache.get("cluster", cloud, name)

    def remove_cluster(self, cloud: str, name: str) -> None:
        cluster = self.cache.get("cluster", cloud, name)
        if cluster is None:
            raise NotFoundError(f"no cluster named {name!r} in cloud {cloud}")
        members = sorted(i.name for i in self.cache.all("instance", cloud) if i.cluster == name)
        if members:
            raise InUseError(f"cluster {name} still has instances: {', '.join(members)}; "
                             "remove them first")
        with self.app.inventory.write() as tx:
            tx.delete(cluster)

    # -- catalogues ----------------------------------------------------------------------------

    def images(self, cloud: str) -> list[Image]:
        self.get(cloud)
        return sorted(self.cache.all("image", cloud), key=lambda i: i.name)

    def flavors(self, cloud: str) -> list[Flavor]:
        self.get(cloud)
        return sorted(self.cache.all("flavor", cloud), key=lambda f: (f.ram, f.name))

    # -- sync ----------------------------------------------------------------------------------

    def sync(self, name: str, driver: Driver | None = None, notices: bool = True) -> None:
        """Re-read one cloud and reconcile the store with what it reports."""
        cloud = self.get(name)
        driver = driver or self.app.driver(name)
        try:
            snapshot = driver.snapshot()
        except DriverError as err:
            self._mark_reachable(cloud, False)
            raise MiniCloudError(f"{err}; showing its last known state") from None
        self._store_snapshot(cloud, snapshot, notices)

    def refresh(self, name: str | None = None) -> list[str]:
        """Re-read the store (other operators' changes), then every cloud (or one),
        concurrently.  Returns one line per failed cloud."""
        self.app.inventory.reload()
        clouds = [self.get(name)] if name else self.list()
        drivers: dict[str, Driver] = {}
        failures: list[str] = []
        for cloud in clouds:
            try:
                drivers[cloud.name] = self.app.synced_driver(cloud.name) or \
                    self.app.make_driver_for(cloud)
            except MiniCloudError as err:
                failures.append(str(err))

        def snap(item: tuple[str, Driver]) -> tuple[str, CloudSnapshot | DriverError]:
            try:
                return item[0], item[1].snapshot()
            except DriverError as err:
                return item[0], err

        with ThreadPoolExecutor(max_workers=max(1, min(8, len(drivers)))) as pool:
            results = list(pool.map(snap, drivers.items()))
        for cloud_name, result in results:
            cloud = self.get(cloud_name)
            if isinstance(result, DriverError):
                self._mark_reachable(cloud, False)
                failures.append(f"{result}; showing its last known state")
                continue
            self.app.adopt_driver(cloud_name, drivers[cloud_name])
            self._store_snapshot(cloud, result)
        return failures

    def _mark_reachable(self, cloud: Cloud, reachable: bool) -> None:
        if cloud.reachable != reachable:
            changed = clone(cloud)
            changed.reachable = reachable
            with self.app.inventory.write() as tx:
                tx.put(changed, force=True)

    def _store_snapshot(self, cloud: Cloud, snapshot: CloudSnapshot,
                        notices: bool = True) -> None:
        with self.app.inventory.write() as tx:
            if not cloud.reachable:
                changed = clone(cloud)
                changed.reachable = True
                tx.put(changed, force=True)
            self._apply(tx, cloud, snapshot, notices)

    def _apply(self, tx: Any, cloud: Cloud, snapshot: CloudSnapshot, notices: bool) -> None:
        """Write what the cloud reports; drop what it no longer has; adopt MiniCloud's own."""
        reported = {(obj.kind, obj.id): obj for obj in snapshot.resources()}
        for kind in SYNCED:
            for old in self.cache.all(kind, cloud.name):
                if (kind, old.id) not in reported:
                    tx.delete(old, force=True)
                    if notices and KINDS[kind].noticed:
                        self.app.notify(f"{label(kind)} {old.name} is no longer in cloud "
                                        f"{cloud.name}: dropped")
        for (kind, ident), obj in reported.items():
            old = self.cache.get(kind, cloud.name, ident)
            if old is None:
                if notices and obj.owned and KINDS[kind].noticed:
                    self.app.notify(f"{label(kind)} {obj.name} in cloud {cloud.name} was "
                                    "created by MiniCloud but not recorded: adopted")
                tx.put(obj, force=True)
            elif not _same(old, obj):
                tx.put(obj, force=True)
        # Cluster membership comes from the servers themselves.
        for instance in snapshot.instances:
            if instance.cluster and self.cache.get("cluster", cloud.name,
                                                   instance.cluster) is None:
                tx.put(Cluster(cloud.name, instance.cluster), force=True)
        # Changes to objects that are gone need no undoing.
        for change in self.cache.all("change", cloud.name):
            if ("router", change.target_id) not in reported and \
                    ("public_ip", change.target_id) not in reported:
                tx.delete(change, force=True)

    # -- reset and destroy ---------------------------------------------------------------------

    def reset(self) -> ResetReport:
        """Undo everything MiniCloud did in every cloud; keep clouds and clusters."""
        report = ResetReport()
        for cloud in self.list():
            try:
                driver = self.app.driver(cloud.name)
                self._reset_cloud(cloud, driver, report)
            except MiniCloudError as err:
                report.failures.append(str(err))
                continue
            try:
                self.sync(cloud.name, driver, notices=False)  # what reset removed is no news
            except MiniCloudError as err:
                report.failures.append(str(err))
        return report

    def _reset_cloud(self, cloud: Cloud, driver: Driver, report: ResetReport) -> None:
        """Undo MiniCloud's work in one cloud; what succeeded is written in one transaction.

        A failed step keeps its object (and its change record) for the next reset; "not found"
        counts as done, so a reset interrupted halfway can simply be run again.
        """
        name = cloud.name
        changes = self.cache.all("change", name)
        associated = {c.target_id for c in changes if c.name == "association"}
        gateways = {c.target_id for c in changes if c.name == "gateway"}
        interfaces = {(c.target_id, c.network_id) for c in changes if c.name == "interface"}
        puts: dict[tuple[str, str], Any] = {}
        deletes: list[Any] = []
        failed: set[str] = set()  # ids of routers and public IPs whose undoing failed

        def step(what: str, target: Any, call: Any, *args: Any) -> Any:
            try:
                result = call(*args)
            except DriverError as err:
                if err.reason != NOT_FOUND:
                    report.failures.append(f"{what}: {err}")
                    failed.add(target.id)
                    return None
                result = None
            report.undone.append(what)
            return result or True

        for fip in self.cache.all("public_ip", name):
            if fip.owned:
                if step(f"released public IP {fip.name}", fip, driver.release_public_ip,
                        fip.id):
                    deletes.append(fip)
            elif fip.id in associated and fip.instance_id:
                updated = step(f"disassociated public IP {fip.name}", fip,
                               driver.disassociate_public_ip, fip.id)
                if isinstance(updated, PublicIP):
                    puts[(updated.kind, updated.id)] = updated
        for inst in self.cache.all("instance", name):
            if inst.owned and step(f"deleted instance {inst.name}", inst, driver.delete_server,
                                   inst.id):
                deletes.append(inst)
        for router in self.cache.all("router", name):
            for net_id in router.interface_network_ids:
                if router.owned or (router.id, net_id) in interfaces:
                    updated = step(f"detached a network from router {router.name}", router,
                                   driver.remove_router_interface, router.id, net_id)
                    if isinstance(updated, Router):
                        puts[(updated.kind, updated.id)] = updated
            if router.owned:
                if router.id not in failed and step(f"deleted router {router.name}", router,
                                                    driver.delete_router, router.id):
                    deletes.append(router)
                    puts.pop((router.kind, router.id), None)
            elif router.id in gateways and router.gateway_network_id:
                updated = step(f"cleared the gateway of router {router.name}", router,
                               driver.clear_router_gateway, router.id)
                if isinstance(updated, Router):
                    puts[(updated.kind, updated.id)] = updated
        for net in self.cache.all("network", name):
            if net.owned and step(f"deleted network {net.name}", net, driver.delete_network,
                                  net.id):
                deletes.append(net)
        for group in self.cache.all("security_group", name):
            if group.owned and step(f"deleted security group {group.name}", group,
                                    driver.delete_security_group, group.id):
                deletes.append(group)
        try:
            pairs = driver.list_keypairs()  # not part of a sync: read when needed
        except DriverError as err:
            report.failures.append(f"list key pairs: {err}")
            pairs = []
        for pair in pairs:
            if pair.owned:
                step(f"deleted key pair {pair.name}", pair, driver.delete_keypair, pair.name)
        with self.app.inventory.write() as tx:
            for obj in deletes:
                tx.delete(obj, force=True)
            for obj in puts.values():
                tx.put(obj, force=True)
            for change in changes:
                if change.target_id not in failed:
                    tx.delete(change, force=True)
            for pair in self.cache.all("keypair", name):
                tx.delete(pair, force=True)

    def destroy(self) -> ResetReport:
        """Reset, then forget every cloud and drop MiniCloud's tables."""
        report = self.reset()
        if report.failures:
            return report
        for cloud in self.list():
            driver = self.app.synced_driver(cloud.name) or self.app.make_driver_for(cloud)
            driver.forget()
            self.app.drop_driver(cloud.name)
        self.app.passwords.clear()
        self.app.store.drop_all()
        self.app.inventory.cache.clear()
        self.app.inventory.loaded = False
        return report
