"""The application object: configuration, store, cache, drivers and the four managers.

Every client (the menu, the one-shot commands, tests) builds one of these and calls its
managers; nothing here reads a keyboard or prints.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .cache import Inventory
from .config import Config
from .drivers import create_driver
from .drivers.base import Driver
from .errors import NotFoundError
from .managers.clouds import CloudManager
from .managers.instances import InstanceManager
from .managers.networks import NetworkManager
from .managers.routers import RouterManager
from .model import Cloud
from .store import Store

log = logging.getLogger("minicloud")


class MiniCloud:
    def __init__(self, config: Config, notify: Callable[[str], None] | None = None):
        self.config = config
        self.store = Store(config.db_url)
        self.inventory = Inventory(self.store)
        # One-line notices for the user (a dropped object, an unreachable cloud...).
        self.notify: Callable[[str], None] = notify or (lambda text: log.warning("%s", text))
        # Progress of long waits (a server booting), for clients that show it.
        self.progress: Callable[[str], None] | None = None
        # Passwords typed at a prompt live here, for this session only.
        self.passwords: dict[str, str] = {}
        self._drivers: dict[str, Driver] = {}
        self.clouds = CloudManager(self)
        self.routers = RouterManager(self)
        self.networks = NetworkManager(self)
        self.instances = InstanceManager(self)

    def open(self) -> MiniCloud:
        """Load the cache from the store; start-up reads nothing else (and writes nothing)."""
        self.inventory.ensure_loaded()
        return self

    def make_driver_for(self, cloud: Cloud, password: str | None = None) -> Driver:
        pw = password or self.passwords.get(cloud.name)
        driver = create_driver(cloud, {"password": pw} if pw else {}, self.store)
        driver.progress = self.progress
        return driver

    def driver(self, cloud_name: str) -> Driver:
        """The cloud's driver; the first use in a session syncs the cloud first."""
        if cloud_name not in self._drivers:
            cloud = self.inventory.ensure_loaded().get("cloud", cloud_name, cloud_name)
            if cloud is None:
                raise NotFoundError(f"no cloud named {cloud_name!r}")
            driver = self.make_driver_for(cloud)
            self._drivers[cloud_name] = driver
            try:
                self.clouds.sync(cloud_name, driver)
            except Exception:
                self._drivers.pop(cloud_name, None)
                raise
        return self._drivers[cloud_name]

    def synced_driver(self, cloud_name: str) -> Driver | None:
        return self._drivers.get(cloud_name)

    def adopt_driver(self, cloud_name: str, driver: Driver) -> None:
        self._drivers[cloud_name] = driver

    def drop_driver(self, cloud_name: str) -> None:
        driver = self._drivers.pop(cloud_name, None)
        if driver is not None:
            driver.close()

    def close(self) -> None:
        for name in list(self._drivers):
            self.drop_driver(name)
        self.store.close()
