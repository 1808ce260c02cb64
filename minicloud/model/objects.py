"""MiniCloud's object model: plain dataclasses, no I/O.

Every cloud-side object carries the name of the cloud it lives in and the id the cloud gave it;
``(cloud, id)`` is its key everywhere (cache, store, ownership records).  ``owned`` says that
MiniCloud created the object, so that Reset may delete it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .names import DEFAULT_GROUP, KEYPAIR_PREFIX, PUBLIC_SSH  # noqa: F401 - re-exported
from .validation import NAME_RULE, valid_name  # noqa: F401 - the name rule lives there


class State:
    """MiniCloud's own instance states (what the tree shows); every driver maps its cloud's
    statuses onto these in its ``status_map``."""

    BUILD = "BUILD"
    ACTIVE = "ACTIVE"
    SHUTOFF = "SHUTOFF"
    REBOOT = "REBOOT"
    ERROR = "ERROR"
    UNKNOWN = "UNKNOWN"

    # A server in one of these is running, or about to be: stopped, then started again, it is
    # as it was.
    RUNNING = (ACTIVE, BUILD, REBOOT)

    @classmethod
    def restored(cls, before: str | None, now: str) -> bool:
        """Is a server whose power MiniCloud changed, recorded ``before``, back as it was?
        One that was still building (or rebooting) is when it runs."""
        return now == before or (before in cls.RUNNING and now == cls.ACTIVE)




@dataclass
class Cloud:
    name: str
    type: str  # a key of drivers.registry.DRIVERS
    location: str = ""
    # Non-secret settings the driver needs (clouds.yaml entry, auth URL, stub external network).
    settings: dict[str, str] = field(default_factory=dict)
    # False when the last contact with the cloud failed; the tree then shows its last known state.
    reachable: bool = True
    # When it was last read whole (the store's clock), and how many changes made outside
    # MiniCloud that read found (``minicloud drift``, ``clouds list``).
    synced_at: float | None = None
    drift: int = 0
    # Drawn at random when the cloud is added: a cloud removed and added again is another
    # incarnation, into which nothing read from the first one is written ("" before there
    # were incarnations).
    incarnation: str = ""
    version: int = 0

    kind: ClassVar[str] = "cloud"

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.name)


@dataclass
class Cluster:
    cloud: str
    name: str
    version: int = 0

    kind: ClassVar[str] = "cluster"

    @property
    def id(self) -> str:
        return self.name

    @property
    def key(self) -> tuple[str, str]:
        return (self.cloud, self.name)


@dataclass
class Resource:
    """Something that lives in a cloud and that the cloud named with an id."""

    cloud: str
    id: str
    name: str
    owned: bool = False
    version: int = 0

    kind: ClassVar[str] = "resource"

    @property
    def key(self) -> tuple[str, str]:
        return (self.cloud, self.id)


@dataclass
class Subnet:
    id: str
    name: str
    cidr: str
    gateway_ip: str | None = None


@dataclass
class Network(Resource):
    subnets: list[Subnet] = field(default_factory=list)
    external: bool = False

    kind: ClassVar[str] = "network"

    @property
    def cidrs(self) -> list[str]:
        return [s.cidr for s in self.subnets]


@dataclass
class Router(Resource):
    gateway_network_id: str | None = None
    # Networks with an interface on this router, in the order they were attached.
    interface_network_ids: list[str] = field(default_factory=list)

    kind: ClassVar[str] = "router"


@dataclass
class Nic:
    network_id: str
    ip: str | None = None
    port_id: str | None = None


@dataclass
class Instance(Resource):
    image: str = ""
    flavor: str = ""
    cluster: str | None = None
    nics: list[Nic] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)
    status: str = State.BUILD
    key_name: str | None = None

    kind: ClassVar[str] = "instance"

    @property
    def primary_nic(self) -> Nic | None:
        return self.nics[0] if self.nics else None

    @property
    def private_ip(self) -> str | None:
        nic = self.primary_nic
        return nic.ip if nic else None


@dataclass
class PublicIP(Resource):
    """A floating IP. ``name`` is its address."""

    network_id: str = ""
    instance_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None
    # The router whose NAT holds the address, on clouds that acquire addresses for one router
    # (it can then serve only instances that router routes out); None where any router of its
    # network may use it.  Rows stored before this field read as None.
    router_id: str | None = None

    kind: ClassVar[str] = "public_ip"

    @property
    def address(self) -> str:
        return self.name


@dataclass
class SecurityRule:
    direction: str = "ingress"
    protocol: str | None = "tcp"
    port_min: int | None = None
    port_max: int | None = None
    ethertype: str = "IPv4"
    remote_ip_prefix: str | None = None

    def allows_tcp(self, port: int) -> bool:
        if self.direction != "ingress" or self.protocol not in (None, "tcp", "6"):
            return False
        low = self.port_min if self.port_min is not None else 1
        high = self.port_max if self.port_max is not None else 65535
        return low <= port <= high


@dataclass
class SecurityGroup(Resource):
    rules: list[SecurityRule] = field(default_factory=list)
    description: str = ""

    kind: ClassVar[str] = "security_group"

    def allows_ssh(self) -> bool:
        return any(rule.allows_tcp(22) for rule in self.rules)


@dataclass
class KeyPair(Resource):
    """``id`` and ``name`` are both the key pair's name (Nova keys them by name)."""

    fingerprint: str = ""
    public_key: str = ""

    kind: ClassVar[str] = "keypair"


@dataclass
class Image(Resource):
    properties: dict[str, str] = field(default_factory=dict)

    kind: ClassVar[str] = "image"


@dataclass
class Flavor(Resource):
    vcpus: int = 1
    ram: int = 512
    disk: int = 1

    kind: ClassVar[str] = "flavor"


@dataclass
class Port:
    """A network port, as drivers report them; not cached on its own."""

    id: str
    network_id: str
    device_id: str = ""
    device_owner: str = ""
    fixed_ips: list[str] = field(default_factory=list)


@dataclass
class Change(Resource):
    """A change MiniCloud made to something it did not create, so that Reset can undo it.

    ``name`` says what was done, ``target_id`` to what: ``interface`` / ``interface_removed``
    (a router's interface on ``network_id``), ``gateway`` / ``gateway_removed`` (a router's
    gateway ``network_id``), ``association`` / ``disassociation`` (a public IP; ``detail`` is
    the server it was associated with), ``server_group`` / ``server_group_removed`` (a
    server's security group named ``detail``), ``power`` (a server; ``detail`` is the state
    it had).  Each has a constructor; ``opposite`` names what cancels it.
    """

    target_id: str = ""
    network_id: str | None = None
    detail: str | None = None

    kind: ClassVar[str] = "change"

    OPPOSITES: ClassVar[dict[str, str]] = {
        "interface": "interface_removed", "interface_removed": "interface",
        "gateway": "gateway_removed", "gateway_removed": "gateway",
        "association": "disassociation", "disassociation": "association",
        "server_group": "server_group_removed", "server_group_removed": "server_group",
    }

    @staticmethod
    def make_id(what: str, target_id: str, extra: str | None = None) -> str:
        return f"{what}-{target_id}" + (f"-{extra}" if extra else "")

    @classmethod
    def of(cls, cloud: str, what: str, target_id: str, network_id: str | None = None,
           detail: str | None = None) -> Change:
        extra = network_id if what.startswith("interface") else \
            detail if what.startswith("server_group") else None
        return cls(cloud, cls.make_id(what, target_id, extra), what, owned=True,
                   target_id=target_id, network_id=network_id, detail=detail)

    @property
    def opposite_id(self) -> str | None:
        other = self.OPPOSITES.get(self.name)
        if other is None:
            return None
        extra = self.network_id if other.startswith("interface") else \
            self.detail if other.startswith("server_group") else None
        return self.make_id(other, self.target_id, extra)

    # The ones the managers make most.
    @classmethod
    def interface(cls, router: Router, network_id: str) -> Change:
        return cls.of(router.cloud, "interface", router.id, network_id)

    @classmethod
    def gateway(cls, router: Router, network_id: str) -> Change:
        return cls.of(router.cloud, "gateway", router.id, network_id)

    @classmethod
    def association(cls, ip: PublicIP) -> Change:
        return cls.of(ip.cloud, "association", ip.id)


@dataclass
class DriftRecord(Resource):
    """The changes made outside MiniCloud that one sync of a cloud absorbed (``id``: when and
    which sync; ``differences``: :meth:`minicloud.model.drift.Difference.as_dict` each), so that
    ``minicloud drift --since`` reports what the menu's and refresh's syncs saw."""

    at: float = 0.0
    differences: list[dict[str, Any]] = field(default_factory=list)

    kind: ClassVar[str] = "drift"


@dataclass
class Intent(Resource):
    """A write in progress, recorded before its first cloud call (DESIGN.md section 7).

    ``name`` says what it does (``create network Net1``).  ``claims`` are what it will take,
    which no other write may take meanwhile: ``kind:name`` names, ``cidr:`` networks,
    ``ip:`` addresses.  ``changes`` are the change records of other people's resources it
    will make (``Change`` fields; a network named but not yet created has ``network_name``).
    ``owner`` is the process (host, pid, start time) and its session; ``lease_until`` is
    renewed while it waits, on the store's clock.  ``incarnation`` is the cloud's it was
    recorded in: it is settled in that one only.
    """

    claims: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    owner: dict[str, Any] = field(default_factory=dict)
    lease_until: float = 0.0
    incarnation: str = ""

    kind: ClassVar[str] = "intent"


@dataclass
class CloudSnapshot:
    """Everything a full sync of one cloud reports."""

    networks: list[Network] = field(default_factory=list)
    routers: list[Router] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    public_ips: list[PublicIP] = field(default_factory=list)
    security_groups: list[SecurityGroup] = field(default_factory=list)
    keypairs: list[KeyPair] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    flavors: list[Flavor] = field(default_factory=list)

    def resources(self) -> list[Resource]:
        out: list[Resource] = []
        for f in dataclasses.fields(self):
            out.extend(getattr(self, f.name))
        return out


@dataclass
class Deployment:
    """Everything MiniCloud knows, across clouds: what the topology and JSON views read."""

    clouds: list[Cloud] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    networks: list[Network] = field(default_factory=list)
    routers: list[Router] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    public_ips: list[PublicIP] = field(default_factory=list)
    security_groups: list[SecurityGroup] = field(default_factory=list)


def ip_sort_key(ip: str | None) -> tuple[int, bytes]:
    """IPv4 before IPv6, numerically (packed addresses compare as numbers); no or unparsable
    address last.  The C parser first: the tree sorts tens of thousands of addresses."""
    if not ip:
        return (2, b"")
    try:
        return (0, socket.inet_pton(socket.AF_INET, ip))
    except (OSError, ValueError):
        pass
    try:
        addr = ipaddress.ip_address(ip)  # IPv6, with a scope too
    except ValueError:
        return (2, b"")
    return (0 if addr.version == 4 else 1, addr.packed)
