"""The application: composes one session (its unit of work handed the settler of interrupted
writes when it is built) with the managers, each with one job: clouds, clusters, routers,
networks, instances; synchronisation (sync); Reset and Destroy (resetter); the topology;
deployment files (deployments: export, plan and apply, driving the others).

Every front end (the menu, the one-shot commands, tests) builds one of these and calls its
managers; nothing here reads a keyboard or prints, and nothing here holds logic of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from .config import Config
from .drivers.base import Driver
from .managers.access import AccessManager
from .managers.clouds import CloudManager
from .managers.clusters import ClusterManager
from .managers.deployments import DeploymentManager
from .managers.instances import InstanceManager
from .managers.networks import NetworkManager
from .managers.public_ips import PublicIPManager
from .managers.reconciler import Reconciler
from .managers.recovery import Recovery
from .managers.reset import Resetter
from .managers.routers import RouterManager
from .managers.session import Session
from .managers.sync import Synchronizer
from .managers.topology import Topology
from .model.kinds import CLOUD
from .model.objects import Cloud
from .state.cache import Inventory
from .state.store import Store


class MiniCloud:
    def __init__(self, config: Config, notify: Callable[[str], None] | None = None,
                 progress: Callable[[str], None] | None = None):
        """``notify``: where one-line notices go; ``progress``: where long waits (a login, a
        server booting) are reported, for a front end that shows them."""
        # Before a write to a cloud (and at the menu's start, on refresh), the unit of work
        # hands what killed processes left pending there to Recovery, given to it here.
        self.session = Session(config, notify, progress, settler=Recovery)
        self.reconciler = Reconciler(self.session)
        self.resetter = Resetter(self.session, self.reconciler)
        self.sync = Synchronizer(self.session, self.reconciler, self.resetter)
        self.clouds = CloudManager(self.session)
        self.clusters = ClusterManager(self.session)
        self.routers = RouterManager(self.session)
        self.networks = NetworkManager(self.session)
        self.public_ips = PublicIPManager(self.session)
        self.instances = InstanceManager(self.session, self.public_ips)
        # Reaching an instance: its public IP, its security groups, the SSH session.
        self.access = AccessManager(self.session, self.public_ips)
        self.topology = Topology(self.session)
        self.deployments = DeploymentManager(self.session, self.clouds, self.clusters,
                                             self.routers, self.networks, self.instances,
                                             self.access, self.sync)

    # Shortcuts for tests and benchmarks, which look under the managers on purpose.
    @property
    def config(self) -> Config:
        return self.session.config

    @property
    def store(self) -> Store:
        return self.session.store

    @property
    def inventory(self) -> Inventory:
        return self.session.inventory

    def open(self, load: bool = True) -> MiniCloud:
        """Load the cache from the store (the menu's start; with ``load`` false, as a
        one-shot command does, rows are read as they are asked for).  Start-up reads nothing
        else, and writes nothing."""
        inventory = self.session.inventory
        if load and not inventory.loaded:
            inventory.ensure_loaded()
            self.report_skipped()
        elif not load:
            inventory.cache.all(CLOUD)  # every command needs them; a bad store fails here
        return self

    def expire_reads(self) -> None:
        """Time has passed since this session last read (a long-lived front end's user
        answered a question): its next read first asks the store which clouds moved, in one
        query, and reads those again; so every screen, picker, list, show and precondition
        answers with what the store holds now.  A one-shot command never needs this."""
        self.session.inventory.expire()

    def read_only(self) -> None:
        """This session must change nothing in the store (``drift``): not even bring an
        older schema up to date."""
        self.session.store.upgrade = False

    def report_skipped(self) -> None:
        """One notice for the rows read so far that are no valid object (the cache's reads,
        and the store's own: the write protocol's checks, the meta rows)."""
        skipped = list(dict.fromkeys([*self.session.inventory.take_skipped(),
                                      *self.session.store.take_skipped()]))
        if skipped:
            self.session.notify(f"skipped {len(skipped)} unreadable row(s) of the "
                                f"store (a newer MiniCloud's, or damaged): "
                                f"{', '.join(skipped[:5])}"
                                f"{', ...' if len(skipped) > 5 else ''}")

    def make_driver_for(self, cloud: Cloud, secret: str | None = None) -> Driver:
        """A new driver for ``cloud`` that shares nothing with the session's own (``secret``:
        the value of its type's secret setting)."""
        return self.session.drivers.build(cloud, self.clouds.secrets_for(cloud.type, secret))

    def driver(self, cloud_name: str) -> Driver:
        """The session's driver for a cloud (not synced: call ``clouds.sync`` for that)."""
        return self.clouds.driver(cloud_name)

    def close(self) -> None:
        self.session.close()
