"""The cloud types this MiniCloud knows, and what each asks when a cloud is added.

Read from the drivers' declarations, without a store or a driver: the command-line parser
needs them for ``clouds add``'s flags, and help must stay fast.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..drivers import DRIVERS, Setting, driver_class
from ..model.errors import ConfigError, ValidationError


def types() -> list[str]:
    return sorted(DRIVERS)


def settings_for(type_name: str) -> tuple[Setting, ...]:
    """What a cloud of this type asks for when it is added (flags and questions)."""
    if type_name not in DRIVERS:
        raise ValidationError(f"unknown cloud type {type_name!r}: use one of "
                              f"{', '.join(sorted(DRIVERS))}")
    try:
        return tuple(driver_class(type_name).settings)
    except ImportError as err:
        raise ConfigError(f"cloud type {type_name} is not available here: {err}") from None


def check_setting(type_name: str, setting: Setting, value: str) -> str:
    """A value of one of the type's settings, as a cloud of it stores it: the setting's own
    check, after MiniCloud's rule for every setting of every type: settings are stored as
    text, so a URL never carries a password (it is refused without being repeated).  Asked
    at the menu's question and again by ``add``."""
    if _password_in(value):
        secret = driver_class(type_name).secret_setting()
        if secret is None:
            where = "MiniCloud stores settings as plain text"
        else:
            source = f"taken from {secret.env} or " if secret.env else ""
            where = (f"the {secret.prompt.lower()} is {source}asked with no echo, and "
                     "never stored")
        raise ValidationError(f"{setting.prompt}: put no password in this URL, it would be "
                              f"stored ({where})")
    return setting.check(value) if setting.check is not None else value


def _password_in(value: str) -> bool:
    """Whether ``value`` is a URL whose authority names a password (``user:pw@host``)."""
    parts = urlsplit(value.strip())
    try:
        return bool(parts.netloc) and parts.password is not None
    except ValueError:  # an authority urlsplit cannot parse has ':' and '@' nonetheless
        return "@" in parts.netloc and ":" in parts.netloc.rsplit("@", 1)[0]
