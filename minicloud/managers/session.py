"""One user's session: configuration, store, cached inventory, the unit of work every change
to the store goes through, drivers and the ways to speak.

Managers are handed a session instead of reaching into an application object.  Nothing here
syncs a cloud: getting a driver only builds it (the reconciler syncs, when it is asked to).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..config import Config
from ..drivers import DRIVERS, create_driver
from ..state.cache import Inventory
from ..state.store import Store
from ..state.unit_of_work import Settler, UnitOfWork

if TYPE_CHECKING:
    from ..drivers.base import Driver
    from ..model.objects import Cloud

log = logging.getLogger("minicloud")

Notify = Callable[[str], None]
# Where long waits (a login, a server booting) are reported, for a front end that shows them.
Progress = Callable[[str], None]


class DriverPool:
    """One driver per cloud for the session, and the secrets typed during it (memory only)."""

    def __init__(self, store: Store, timeouts: dict[str, float] | None = None,
                 progress: Progress | None = None) -> None:
        self.store = store
        # Seconds a request may wait for an answer, by cloud type (minicloud.ini).
        self._timeouts = dict(timeouts or {})
        # Drivers that keep state in the store (the Stub) get a connection of their own: they
        # commit on it, never inside one of the session's transactions.
        self._state_store: Store | None = None
        # Where every driver built here reports long waits.
        self._progress = progress
        self._secrets: dict[str, dict[str, str]] = {}
        self._drivers: dict[str, Driver] = {}

    def secrets(self, cloud: str) -> dict[str, str]:
        return dict(self._secrets.get(cloud, {}))

    def keep_secrets(self, cloud: str, secrets: dict[str, str]) -> None:
        """Secrets for ``cloud`` from now on; its driver is rebuilt at its next use."""
        self._secrets.setdefault(cloud, {}).update(secrets)
        self.drop(cloud)

    def forget_secrets(self, cloud: str | None = None) -> None:
        if cloud is None:
            self._secrets.clear()
        else:
            self._secrets.pop(cloud, None)

    def build(self, cloud: Cloud, secrets: dict[str, str] | None = None) -> Driver:
        """A new driver, not kept (for a cloud being added, or a second view of one)."""
        if self._state_store is None:
            self._state_store = Store(self.store.url)
        driver = create_driver(cloud, {**self.secrets(cloud.name), **(secrets or {})},
                               self._state_store)
        driver.progress = self._progress
        if cloud.type in self._timeouts:
            driver.request_timeout = self._timeouts[cloud.type]
        return driver

    def get(self, cloud: Cloud) -> Driver:
        """The session's driver for ``cloud``, built at its first use."""
        driver = self._drivers.get(cloud.name)
        if driver is None:
            driver = self._drivers[cloud.name] = self.build(cloud)
        return driver

    def built(self) -> list[str]:
        """The clouds this session has a driver for (tests check that reads build none)."""
        return sorted(self._drivers)

    def adopt(self, cloud: str, driver: Driver) -> None:
        if self._drivers.get(cloud) is not driver:
            self.drop(cloud)
            self._drivers[cloud] = driver

    def drop(self, cloud: str) -> None:
        driver = self._drivers.pop(cloud, None)
        if driver is not None:
            driver.close()

    def close(self) -> None:
        for name in list(self._drivers):
            self.drop(name)
        if self._state_store is not None:
            self._state_store.close()


class Session:
    def __init__(self, config: Config, notify: Notify | None = None,
                 progress: Progress | None = None,
                 settler: Callable[[Session], Settler] | None = None) -> None:
        """``notify``: where one-line notices go; ``progress``: where long waits are reported
        (a front end that shows them hands its observer here; nothing sets it later);
        ``settler``: makes, from this session, what the unit of work hands the writes killed
        processes left pending (the composition root chooses it; without one they stay
        pending, counted as taken)."""
        self.config = config
        self.store = Store(config.db_url)
        self.inventory = Inventory(self.store, readable=_readable)
        self.drivers = DriverPool(self.store, config.timeouts, progress=self._waiting)
        # One-line notices for the user (a dropped object, an unreachable cloud...).
        self.notify: Notify = notify or (lambda text: log.warning("%s", text))
        # The store's too (a write that lost its database node and ran again on another).
        self.store.notify = lambda text: self.notify(text)
        self._progress = progress
        self.work = UnitOfWork(self.store, self.inventory,
                               settler(self) if settler is not None else None)

    def _waiting(self, text: str) -> None:
        self.work.renew()  # a long wait keeps this session's intents alive
        if self._progress is not None:
            self._progress(text)

    def close(self) -> None:
        self.drivers.close()
        self.store.close()


def _readable(obj: object) -> bool:
    """A cloud of a type this MiniCloud does not know is skipped (a newer one may share the
    store), and so is everything in it."""
    return getattr(obj, "kind", "") != "cloud" or getattr(obj, "type", None) in DRIVERS
