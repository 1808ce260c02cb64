"""Cloud drivers.  A new cloud type is one package here plus one line in ``DRIVERS``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .base import Driver, Features, Setting

if TYPE_CHECKING:
    from ..model.objects import Cloud

# type name -> "module:Class", imported only when a cloud of that type is used (openstacksdk
# is slow to import, and most sessions never need it).
DRIVERS: dict[str, str] = {
    "stub": "minicloud.drivers.stub.driver:StubDriver",
    "openstack": "minicloud.drivers.openstack.driver:OpenStackDriver",
    "cloudstack": "minicloud.drivers.cloudstack.driver:CloudStackDriver",
}


def driver_class(type_name: str) -> type[Driver]:
    module, _, cls = DRIVERS[type_name].partition(":")
    driver: type[Driver] = getattr(importlib.import_module(module), cls)
    return driver


def create_driver(cloud: Cloud, secrets: Mapping[str, str] | None) -> Driver:
    """The driver of ``cloud``: its settings (a location already resolved, see pool.py) and
    its secrets, nothing else."""
    return driver_class(cloud.type)(cloud, secrets)


__all__ = ["DRIVERS", "Driver", "Features", "Setting", "create_driver", "driver_class"]
