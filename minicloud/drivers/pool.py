"""One session's drivers: one per cloud, built with its settings resolved and the secrets typed
during the session (memory only).

A setting that names a database (``Setting.location``: the Stub's ``state``) is stored as the
user gave it, often empty; here it becomes the complete URL the driver is handed, resolved
against the place of MiniCloud's store when the driver is built:

- empty: for an SQLite store, the file ``<store name>-stub.db`` beside the store (one file for
  every such cloud of that store); for a MySQL store, the store's own database (through the
  store's URLs: a cluster's nodes, when it names several);
- a relative path (or ``sqlite:///relative``): relative to the store's folder (for a MySQL
  store, to MiniCloud's data folder);
- an absolute path or a URL: itself (a MySQL URL with a user and no password takes the store's
  password when it is on the same server as the store).

So a home that is copied or moved uses its own copy, and nothing in the store pins where a
folder used to be.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import create_driver, driver_class

if TYPE_CHECKING:
    from ..model.objects import Cloud
    from .base import Driver

# Where long waits (a login, a server booting) are reported, for a front end that shows them.
Progress = Callable[[str], None]
# What the default location of an SQLite store is called, beside it.
LOCATION_SUFFIX = "-stub.db"


def _sqlite_path(url: str) -> str | None:
    """The file of an SQLite URL (None for another backend)."""
    from sqlalchemy.engine import make_url

    if not url.startswith("sqlite"):
        return None
    return make_url(url).database or ""


def _sqlite_url(path: Path) -> str:
    from sqlalchemy.engine import URL

    return URL.create("sqlite", database=str(path)).render_as_string(hide_password=False)


def resolve_location(value: str, store_url: str, home: Path) -> str:
    """The complete URL a location setting stands for (see the module's docstring)."""
    from sqlalchemy.engine import make_url

    store_file = _sqlite_path(store_url)
    in_memory = store_file in ("", ":memory:")
    folder = Path(store_file).resolve().parent if store_file and not in_memory else home
    value = value.strip()
    if not value:
        if store_file is None:
            return store_url
        if in_memory:
            return "sqlite:///:memory:"
        return _sqlite_url(folder / f"{Path(store_file).stem}{LOCATION_SUFFIX}")
    if "://" not in value:
        return _sqlite_url(folder / Path(value).expanduser())
    path = _sqlite_path(value)
    if path is not None:
        if not path or path == ":memory:" or os.path.isabs(path):
            return value
        return _sqlite_url(folder / path)
    url = make_url(value)
    if store_file is None and url.password is None and url.username:
        store = make_url(store_url.split()[0])
        if (url.host, url.port, url.username) == (store.host, store.port, store.username) \
                and store.password:
            url = url.set(password=store.password)
    return url.render_as_string(hide_password=False)


class DriverPool:
    """One driver per cloud for the session, and the secrets typed during it (memory only)."""

    def __init__(self, store_url: str, home: Path, timeouts: dict[str, float] | None = None,
                 progress: Progress | None = None) -> None:
        # Where MiniCloud's store is: location settings are resolved against it.
        self.store_url = store_url
        self.home = home
        # Seconds a request may wait for an answer, by cloud type (minicloud.ini).
        self._timeouts = dict(timeouts or {})
        # Where every driver built here reports long waits.
        self._progress = progress
        self._secrets: dict[str, dict[str, str]] = {}
        self._drivers: dict[str, Driver] = {}
        # The clouds whose type had its take_over hook called in this session.
        self._taken: set[str] = set()

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

    def resolved(self, cloud: Cloud) -> Cloud:
        """``cloud`` with its location settings as complete URLs (a copy: the stored cloud
        keeps what the user gave)."""
        from dataclasses import replace

        cls = driver_class(cloud.type)
        settings = dict(cloud.settings)
        for setting in cls.settings:
            if setting.location:
                settings[setting.name] = resolve_location(settings.get(setting.name, ""),
                                                          self.store_url, self.home)
        return replace(cloud, settings=settings) if settings != cloud.settings else cloud

    def build(self, cloud: Cloud, secrets: dict[str, str] | None = None) -> Driver:
        """A new driver, not kept (for a cloud being added, or a second view of one)."""
        complete = self.resolved(cloud)
        if cloud.name not in self._taken:
            driver_class(cloud.type).take_over(complete, self.store_url)
            self._taken.add(cloud.name)
        driver = create_driver(complete, {**self.secrets(cloud.name), **(secrets or {})})
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

    def forget(self, cloud: str) -> None:
        """MiniCloud forgets ``cloud``: its driver, if this session built one, is told so and
        closed.  No driver is built for it (a cloud that cannot be reached is forgotten all
        the same); its resources stay in the cloud, whatever its type.  Its secrets stay
        until the caller drops them (:meth:`forget_secrets`), once the store forgot it."""
        driver = self._drivers.pop(cloud, None)
        if driver is not None:
            try:
                driver.forget()
            finally:
                driver.close()

    def close(self) -> None:
        for name in list(self._drivers):
            self.drop(name)
