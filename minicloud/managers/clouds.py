"""Clouds: add, update, remove; their settings, secrets and catalogues."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..drivers import DRIVERS, driver_class
from ..drivers.base import Driver, Setting
from ..model.errors import ValidationError
from ..model.kinds import CLOUD, FLAVOR, IMAGE
from ..model.objects import Cloud, Flavor, Image
from ..model.validation import check_location
from ..state.cache import clone
from ..state.claims import Claims
from . import catalog
from .base import Manager, check_name
from .recovery import forget

if TYPE_CHECKING:
    pass


class CloudManager(Manager):
    # -- clouds --------------------------------------------------------------------------------

    def all(self) -> list[Cloud]:
        return sorted(self.cache.all(CLOUD), key=lambda c: c.name)

    def get(self, name: str) -> Cloud:
        return self.cloud(name)

    def types(self) -> list[str]:
        return catalog.types()

    def settings_for(self, type_name: str) -> tuple[Setting, ...]:
        """What a cloud of this type asks for when it is added (flags and questions)."""
        return catalog.settings_for(type_name)

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
        # Built first: a cloud whose driver cannot even be made (a Stub location that
        # cannot be opened) is refused before anything is recorded.
        driver = self.session.drivers.build(cloud, secrets)
        # The store-wide lock and the claim make a second "add" of the name wait, then fail,
        # before it touches the cloud (a loser must never clean up the winner's cloud).
        try:
            intent = self.work.begin_add(cloud)
        except BaseException:
            driver.close()
            raise
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

    # -- catalogues ----------------------------------------------------------------------------

    def images(self, cloud: str) -> list[Image]:
        self.get(cloud)
        return sorted(self.cache.all(IMAGE, cloud), key=lambda i: i.name)

    def flavors(self, cloud: str) -> list[Flavor]:
        self.get(cloud)
        return sorted(self.cache.all(FLAVOR, cloud), key=lambda f: (f.ram, f.name))
