"""Cloud drivers.  A new cloud type is one module here plus one line in ``DRIVERS``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .base import Driver

if TYPE_CHECKING:
    from ..model import Cloud
    from ..store import Store

# type name -> "module:Class", imported only when a cloud of that type is used (openstacksdk
# is slow to import, and most sessions never need it).
DRIVERS: dict[str, str] = {
    "stub": "minicloud.drivers.stub:StubDriver",
    "openstack": "minicloud.drivers.openstack:OpenStackDriver",
}


def driver_class(type_name: str) -> type[Driver]:
    module, _, cls = DRIVERS[type_name].partition(":")
    return getattr(importlib.import_module(module), cls)


def create_driver(cloud: Cloud, secrets: Mapping[str, str] | None, store: Store) -> Driver:
    return driver_class(cloud.type)(cloud, store, (secrets or {}).get("password"))


__all__ = ["DRIVERS", "Driver", "create_driver", "driver_class"]
