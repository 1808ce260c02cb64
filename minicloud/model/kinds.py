"""Every kind of object MiniCloud keeps, declared once: model class, table, label, sync role.

The store names its tables from here, the cache keeps one map per kind, and messages use the
labels.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Kind:
    name: str
    cls: type
    table: str
    label: str
    # Reported by a full sync of a cloud (the others are MiniCloud's own records).
    synced: bool = False
    # Its disappearance from a cloud is worth a notice (images and flavors come and go quietly).
    noticed: bool = False

    @property
    def plural(self) -> str:
        return f"{self.label}s"


# In the order a load restores them.
KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("cloud", Cloud, "clouds", "cloud"),
    Kind("cluster", Cluster, "clusters", "cluster"),
    Kind("network", Network, "networks", "network", synced=True, noticed=True),
    Kind("router", Router, "routers", "router", synced=True, noticed=True),
    Kind("instance", Instance, "instances", "instance", synced=True, noticed=True),
    Kind("public_ip", PublicIP, "public_ips", "public IP", synced=True, noticed=True),
    Kind("security_group", SecurityGroup, "security_groups", "security group", synced=True,
         noticed=True),
    Kind("keypair", KeyPair, "keypairs", "key pair"),
    Kind("image", Image, "images", "image", synced=True),
    Kind("flavor", Flavor, "flavors", "flavor", synced=True),
    Kind("change", Change, "changes", "change"),
    Kind("intent", Intent, "intents", "write in progress"),
    Kind("drift", DriftRecord, "drifts", "drift record"),
)}

SYNCED = tuple(k.name for k in KINDS.values() if k.synced)
TABLES = {k.name: k.table for k in KINDS.values()}


def label(kind: str) -> str:
    return KINDS[kind].label if kind in KINDS else kind.replace("_", " ")
