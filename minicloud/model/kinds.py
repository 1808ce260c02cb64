"""Every kind of object MiniCloud keeps, declared once: model class, table, label, sync role.

The store names its tables from here, the cache keeps one map per kind, and messages use the
labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .objects import (
    Change,
    Cloud,
    Cluster,
    DriftRecord,
    Flavor,
    Image,
    Instance,
    Intent,
    KeyPair,
    Network,
    PublicIP,
    Router,
    SecurityGroup,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Kind(Generic[T]):
    """A kind is also the typed reference readers pass: ``cache.get(NETWORK, cloud, id)`` is a
    ``Network | None`` to the type checker."""

    name: str
    cls: type[T]
    table: str
    label: str
    # Reported by a full sync of a cloud (the others are MiniCloud's own records).
    synced: bool = False
    # Its disappearance from a cloud is worth a notice (images and flavors come and go quietly).
    noticed: bool = False

    @property
    def plural(self) -> str:
        return f"{self.label}s"


CLOUD: Kind[Cloud] = Kind("cloud", Cloud, "clouds", "cloud")
CLUSTER: Kind[Cluster] = Kind("cluster", Cluster, "clusters", "cluster")
NETWORK: Kind[Network] = Kind("network", Network, "networks", "network", synced=True,
                              noticed=True)
ROUTER: Kind[Router] = Kind("router", Router, "routers", "router", synced=True, noticed=True)
INSTANCE: Kind[Instance] = Kind("instance", Instance, "instances", "instance", synced=True,
                                noticed=True)
PUBLIC_IP: Kind[PublicIP] = Kind("public_ip", PublicIP, "public_ips", "public IP", synced=True,
                                 noticed=True)
SECURITY_GROUP: Kind[SecurityGroup] = Kind("security_group", SecurityGroup, "security_groups",
                                           "security group", synced=True, noticed=True)
KEYPAIR: Kind[KeyPair] = Kind("keypair", KeyPair, "keypairs", "key pair")
IMAGE: Kind[Image] = Kind("image", Image, "images", "image", synced=True)
FLAVOR: Kind[Flavor] = Kind("flavor", Flavor, "flavors", "flavor", synced=True)
CHANGE: Kind[Change] = Kind("change", Change, "changes", "change")
INTENT: Kind[Intent] = Kind("intent", Intent, "intents", "write in progress")
DRIFT: Kind[DriftRecord] = Kind("drift", DriftRecord, "drifts", "drift record")

# In the order a load restores them.
KINDS: dict[str, Kind[Any]] = {k.name: k for k in (
    CLOUD, CLUSTER, NETWORK, ROUTER, INSTANCE, PUBLIC_IP, SECURITY_GROUP, KEYPAIR, IMAGE, FLAVOR,
    CHANGE, INTENT, DRIFT,
)}


def kind_name(kind: Kind[Any] | str) -> str:
    return kind if isinstance(kind, str) else kind.name


SYNCED = tuple(k.name for k in KINDS.values() if k.synced)
TABLES = {k.name: k.table for k in KINDS.values()}


def label(kind: Kind[Any] | str) -> str:
    name = kind_name(kind)
    return KINDS[name].label if name in KINDS else name.replace("_", " ")
