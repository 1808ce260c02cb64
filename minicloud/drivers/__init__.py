"""Cloud drivers.  A new cloud type is one module here plus one line in ``DRIVERS``."""

from __future__ import annotations

import importlib

from .base import Driver

# type name -> "module:Class", imported only when a cloud of that type is used (openstacksdk
# is slow to import, and most sessions never need it).
DRIVERS: dict[str, str] = {
    "stub": "minicloud.drivers.stub:StubDriver",
    "openstack": "minicloud.drivers.openstack:OpenStackDriver",
}


def driver_class(type_name: str) -> type[Driver]:
    module, _, cls = DRIVERS[type_name].partition(":")
    return getattr(importlib.import_module(module), cls)


__all__ = ["DRIVERS", "Driver", "driver_class"]
