"""The cloud types this MiniCloud knows, and what each asks when a cloud is added.

Read from the drivers' declarations, without a store or a driver: the command-line parser
needs them for ``clouds add``'s flags, and help must stay fast.
"""

from __future__ import annotations

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
