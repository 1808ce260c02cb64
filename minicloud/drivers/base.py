"""The interface every cloud type implements.

A driver speaks to one cloud.  It returns model objects and raises only
:class:`minicloud.model.errors.DriverError`.  Everything it creates it marks as MiniCloud's own (the
``owned`` flag it reports back comes from that mark, so a resync knows what Reset may delete).

A cloud type declares, once, on its class: the ``settings`` it needs when a cloud is added
(:class:`Setting`: the menu's questions, the ``clouds add`` flags, environment variables,
secrets), the ``features`` it has (:class:`Features`: what the managers and the contract suite
may ask of it, and how: a type that cannot attach an existing network to a router is handed
the router when the network is created, one whose networks cannot leave their router has them
deleted instead of detached), and the ``status_map`` from its cloud's server statuses to
MiniCloud's own :class:`~minicloud.model.objects.State`, and the ``name_rules`` its cloud puts
on names beyond MiniCloud's own (:class:`NameRule`, checked at the question and before any cloud
call).  Its secret setting
(:meth:`Driver.secret_setting`) names the value the managers hand it and words the menu's
question.  A setting that names a database (``Setting.location``, the Stub's state) is
handed to the driver resolved, as a complete URL (:mod:`minicloud.drivers.pool`).  A driver
gets its cloud's settings and secrets, nothing else: no store, no session.

What every driver says follows the same rules (drivers/support.py, ``error_detail``): one
line, cut at a word, no URL query (a signed request carries its key and signature there),
secrets masked; a wait for a cloud says what it waits for every ``heartbeat`` seconds
(:meth:`Driver._heartbeat`, :meth:`Driver.poll`).
"""

from __future__ import annotations

import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from ..model.errors import TIMEOUT, DriverError, ValidationError
from ..model.kinds import label
from ..model.objects import (
    Cloud,
    CloudSnapshot,
    Flavor,
    Image,
    Instance,
    KeyPair,
    Network,
    PublicIP,
    Router,
    SecurityGroup,
    SecurityRule,
    State,
)
from ..model.printable import quoted

HEARTBEAT = 5.0

# Metadata key on servers that holds the cluster; tag/metadata value marking MiniCloud's objects.
CLUSTER_KEY = "minicloud_cluster"
OWNER_TAG = "minicloud"

R = TypeVar("R")  # what a poll returns


@dataclass
class ServerSpec:
    name: str
    image_id: str
    flavor_id: str
    network_id: str
    security_groups: list[str] = field(default_factory=lambda: ["default"])
    fixed_ip: str | None = None
    key_name: str | None = None
    cluster: str | None = None
    availability_zone: str | None = None


@dataclass(frozen=True)
class Setting:
    """Something a cloud type needs to know, declared once: the menu asks it, ``clouds add``
    takes it as a flag, ``--help`` describes it, an environment variable may supply it."""

    # Key in ``Cloud.settings``, or in the driver's secrets for a secret.
    name: str
    # The menu's question.
    prompt: str
    # The ``clouds add`` long option (e.g. ``--os-cloud``); None for a secret: secrets never
    # come on a command line.
    flag: str | None
    # One line for ``--help``.
    help: str
    default: str = ""
    # Environment variable that supplies the value when it is not given (e.g. ``OS_PASSWORD``).
    env: str | None = None
    # Never stored: kept in memory for the session (see :meth:`Driver.secret`).
    secret: bool = False
    # Checks a value and returns it normalised; raises ValidationError with one line.
    check: Callable[[str], str] | None = None
    # Values to offer (e.g. clouds.yaml entries); when one is chosen and ``alone`` is set,
    # no other setting is asked.
    choices: Callable[[], list[str]] | None = None
    alone: bool = False
    # May be left empty (otherwise a value or the default is required).
    optional: bool = False
    # Names a database: a path (relative: to the folder of MiniCloud's store) or a URL; empty
    # means the store's own place.  Stored as given; the driver pool hands the driver the
    # complete URL it resolves to (drivers/pool.py), so a copied or moved home uses its own.
    location: bool = False

    def __post_init__(self) -> None:
        if self.secret and self.flag is not None:
            raise ValueError(f"setting {self.name}: a secret never comes on a command line")
        if self.flag is not None and not self.flag.startswith("--"):
            raise ValueError(f"setting {self.name}: flag {self.flag!r} must start with --")

    def from_env(self) -> str | None:
        """The value its environment variable supplies, if any."""
        return (os.environ.get(self.env) or None) if self.env else None


@dataclass(frozen=True)
class Features:
    """What a cloud type can do.  Code that depends on a capability asks here, never for the
    type's name."""

    routers: bool = True
    # An existing network can be attached to a router (add_router_interface).  False: a
    # network joins a router only when it is created on it (``create_network(router_id=)``),
    # as a CloudStack tier is born in its VPC.
    attach_network: bool = True
    # A network can leave its router (remove_router_interface).  False: it leaves only by
    # being deleted (delete_network takes it off), so a router's networks go before it.
    detach_network: bool = True
    # A router's gateway can be cleared (clear_router_gateway).  False: a router keeps its
    # gateway until it is removed, as a CloudStack VPC keeps its source NAT.
    clear_gateway: bool = True
    public_ips: bool = True
    # A public IP can be asked for by its address (allocate_public_ip(address=)).
    public_ip_by_address: bool = True
    # The external networks' address ranges are known (their subnets are listed).
    public_ranges: bool = True
    # Clusters are placed in the availability zones of the same name.
    zones: bool = False
    # False: SSH is opened by a firewall/ACL rule instead of a security group.
    security_groups: bool = True
    keypairs: bool = True
    # Real hosts to SSH into (the Stub has none: connect only says what it would run).
    hosts: bool = True


@dataclass(frozen=True)
class NameRule:
    """What a cloud type's own API asks of a name, beyond MiniCloud's rule (which every name
    follows first): ``pattern`` must match the whole name; ``words`` says the rule in the
    type's own words, as the refusal shows it."""

    pattern: str
    words: str

    def check(self, name: str, what: str) -> str:
        if not re.fullmatch(self.pattern, name):
            raise ValidationError(f"invalid {what} {quoted(name)}: {self.words}")
        return name


def map_state(status_map: Mapping[str, str], native: str | None) -> str:
    """MiniCloud's state for a native status; unmapped ones pass through upper-cased (an
    operator still sees them), a missing one is UNKNOWN."""
    if not native:
        return State.UNKNOWN
    return status_map.get(native, native.upper())


Progress = Callable[[str], None]


class Driver(ABC):
    """One cloud's driver."""

    type_name: ClassVar[str]
    features: ClassVar[Features]
    settings: ClassVar[tuple[Setting, ...]] = ()
    # Native server status -> State value.  Every Instance a driver returns carries a State.
    status_map: ClassVar[dict[str, str]]
    # Kind (a model kind: "instance", "network"...) -> what the type's API asks of its names.
    name_rules: ClassVar[Mapping[str, NameRule]] = {}
    poll_interval: ClassVar[float] = 0.5  # first delay between polls; grows to 5 s

    def __init__(self, cloud: Cloud, secrets: Mapping[str, str] | None = None):
        self.cloud = cloud
        # Values of secret settings given for this session (never stored); see secret().
        self._secrets: dict[str, str] = {k: v for k, v in (secrets or {}).items() if v}
        self.progress: Progress | None = None
        # Seconds between the progress lines of a request that has no answer yet.
        self.heartbeat = HEARTBEAT
        # Seconds one request may wait for an answer (None: the driver's own default); set
        # from minicloud.ini by the session for the types that have such an option.
        self.request_timeout: float | None = None
        # What this cloud lets this account do: the type's ``features``, narrowed at login by
        # what the server's version and the account's role allow (a CloudStack user key sees
        # no public IP ranges).  The managers plan from ``features``; the driver refuses in
        # one line what its account cannot do.
        self.granted: Features = self.features
        self._beating = threading.local()  # a heartbeat runs in this thread already

    @classmethod
    def check_name(cls, kind: str, name: str) -> str:
        """``name`` for a new object of ``kind`` when the type's own rule allows it; else
        ValidationError in the type's words (MiniCloud's own rule is checked before)."""
        rule = cls.name_rules.get(kind)
        return rule.check(name, f"{label(kind)} name") if rule is not None else name

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings if s.name == name), None)

    @classmethod
    def secret_setting(cls) -> Setting | None:
        """The type's secret (its first secret setting), or None.  Its ``prompt`` is what the
        menu asks when a cloud of this type needs it, and the driver receives the value under
        its ``name`` (e.g. ``password`` for OpenStack, ``secret_key`` for CloudStack)."""
        return next((s for s in cls.settings if s.secret), None)

    def secret(self, name: str) -> str | None:
        """A secret setting's value: the one given to the driver, else its ``env`` variable."""
        if name in self._secrets:
            return self._secrets[name]
        setting = self.setting(name)
        return setting.from_env() if setting is not None and setting.secret else None

    @classmethod  # noqa: B027 - optional hook
    def check_complete(cls, settings: Mapping[str, str]) -> None:
        """Raise ConfigError (one line) when ``settings`` cannot make a connection, e.g. none
        of two alternative ways given.  Called before a cloud is added, so that what is
        missing is said rather than a login failure."""

    def state(self, native: str | None) -> str:
        """MiniCloud's :class:`State` for one of this cloud's server statuses."""
        return map_state(self.status_map, native)

    def error(self, operation: str, reason: str, detail: str = "") -> DriverError:
        return DriverError(self.cloud.name, operation, reason, detail)

    # -- life cycle ----------------------------------------------------------------------------

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Called once when the cloud is added: check access, make what a new cloud has..."""

    def forget(self) -> None:  # noqa: B027 - optional hook
        """Called when MiniCloud forgets the cloud: release what the driver holds.  The
        cloud's resources stay where they are, whatever its type."""

    @classmethod  # noqa: B027 - optional hook
    def take_over(cls, cloud: Cloud, store_url: str) -> None:
        """Called by the driver pool before the first driver of ``cloud`` in a session, with
        its settings resolved: a type whose earlier versions kept state in MiniCloud's store
        (``store_url``) moves it to where it keeps it now.  Upgrades only: a driver never
        reads the store otherwise."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    # -- reads ---------------------------------------------------------------------------------

    def snapshot(self) -> CloudSnapshot:
        """A full sync: a constant number of list calls, never one per server.

        Key pairs are left out (listed only when needed): they cost a request per sync and
        matter only to instance creation and reset.
        """
        return CloudSnapshot(
            networks=self.list_networks(),
            routers=self.list_routers(),
            instances=self.list_servers(),
            public_ips=self.list_public_ips(),
            security_groups=self.list_security_groups(),
            images=self.list_images(),
            flavors=self.list_flavors(),
        )

    @abstractmethod
    def list_images(self) -> list[Image]: ...

    @abstractmethod
    def list_flavors(self) -> list[Flavor]: ...

    @abstractmethod
    def list_networks(self) -> list[Network]: ...

    @abstractmethod
    def list_routers(self) -> list[Router]: ...

    @abstractmethod
    def list_servers(self) -> list[Instance]: ...

    @abstractmethod
    def get_server(self, server_id: str) -> Instance: ...

    @abstractmethod
    def list_public_ips(self) -> list[PublicIP]: ...

    @abstractmethod
    def list_security_groups(self) -> list[SecurityGroup]: ...

    @abstractmethod
    def list_keypairs(self) -> list[KeyPair]: ...

    def availability_zones(self) -> list[str]:
        """Zone names; a cluster of the same name places its servers there."""
        return []

    # -- servers -------------------------------------------------------------------------------

    @abstractmethod
    def create_server(self, spec: ServerSpec) -> Instance:
        """Start building a server; it may still be in BUILD.  See :meth:`wait_server`."""

    @abstractmethod
    def delete_server(self, server_id: str) -> None: ...

    @abstractmethod
    def start_server(self, server_id: str) -> Instance: ...

    @abstractmethod
    def stop_server(self, server_id: str) -> Instance: ...

    @abstractmethod
    def reboot_server(self, server_id: str) -> Instance: ...

    @abstractmethod
    def add_server_security_group(self, server_id: str, group_id: str) -> Instance: ...

    @abstractmethod
    def remove_server_security_group(self, server_id: str, group_id: str) -> Instance: ...

    @contextmanager
    def _heartbeat(self, what: str,
                   state: Callable[[], str] | None = None) -> Iterator[None]:
        """Around a block that waits on the cloud: a progress line every ``heartbeat`` seconds
        saying what it waits for (``what``: the operation and the cloud) and how it stands
        (``state()``, by default "no answer yet"), so that a server that accepts and never
        answers is not silence until the timeout.  Nested blocks of one thread share the
        outer one's line."""
        report = self.progress
        if report is None or getattr(self._beating, "on", False):
            yield
            return
        done = threading.Event()
        start = time.monotonic()

        def beat() -> None:
            while not done.wait(self.heartbeat):
                now = state() if state is not None else "no answer yet"
                report(f"{what}: {now}, {time.monotonic() - start:.0f} s")

        ticker = threading.Thread(target=beat, name="minicloud-heartbeat", daemon=True)
        self._beating.on = True
        ticker.start()
        try:
            yield
        finally:
            self._beating.on = False
            done.set()
            ticker.join()

    def poll(self, probe: Callable[[], tuple[bool, R, str]], operation: str,
             timeout: float) -> R:
        """Call ``probe`` with backoff until it says done; it returns (done, result, state).

        Progress goes to ``self.progress``: what is waited for and how it stands, at the first
        wait and then every ``heartbeat`` seconds; Ctrl-C simply interrupts.
        """
        start = time.monotonic()
        delay = self.poll_interval
        said: float | None = None
        while True:
            done, result, state = probe()
            if done:
                return result
            elapsed = time.monotonic() - start
            if elapsed > timeout:
                raise self.error(operation, TIMEOUT, f"still {state} after {elapsed:.0f} s")
            if self.progress and (said is None or elapsed - said >= self.heartbeat):
                self.progress(f"{operation}: {state}, {elapsed:.0f} s")
                said = elapsed
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)

    def wait_server(self, server_id: str, status: str, timeout: float = 600.0) -> Instance:
        """Poll one server with backoff until it reaches ``status``, a :class:`State` value
        (ERROR fails at once)."""
        first = [self.get_server(server_id)]  # its name says what is waited for

        def probe() -> tuple[bool, Instance, str]:
            server = first.pop() if first else self.get_server(server_id)
            if server.status == State.ERROR:
                raise self.error(f"server {server.name}", "failed", "status ERROR")
            return server.status == status, server, f"{server.name}: {server.status}"

        return self.poll(probe, f"wait for server {first[0].name} to be {status}", timeout)

    # -- networks and routers ------------------------------------------------------------------

    @abstractmethod
    def create_network(self, name: str, cidr: str, router_id: str | None = None) -> Network:
        """A network with one subnet ``NAME-subnet``; all or nothing.

        With ``router_id`` the network is born on that router (its interface made too, still
        all or nothing).  The managers pass it only to a type whose ``features.attach_network``
        is false (a network joins a router only at creation); other types are attached by a
        separate :meth:`add_router_interface`, which they may also do here
        (:meth:`_born_on`)."""

    @abstractmethod
    def delete_network(self, network_id: str) -> None:
        """Where ``features.detach_network`` is false this also takes the network off its
        router (the managers make no remove_router_interface call first)."""

    def _born_on(self, network: Network, router_id: str | None) -> Network:
        """``create_network(router_id=)`` for a type that attaches existing networks: the new
        network's interface on the router, the network deleted again if that fails."""
        if router_id is None:
            return network
        try:
            self.add_router_interface(router_id, network.id)
        except DriverError as err:
            try:
                self.delete_network(network.id)
            except DriverError as undo:
                note = f"could not delete network {network.name} ({undo.reason}): it is left " \
                       "behind"
                raise self.error(err.operation, err.reason,
                                 f"{err.detail}; {note}" if err.detail else note) from None
            raise
        return network

    @abstractmethod
    def create_router(self, name: str, gateway_network_id: str | None = None) -> Router: ...

    @abstractmethod
    def delete_router(self, router_id: str) -> None: ...

    @abstractmethod
    def set_router_gateway(self, router_id: str, network_id: str) -> Router: ...

    @abstractmethod
    def clear_router_gateway(self, router_id: str) -> Router: ...

    @abstractmethod
    def add_router_interface(self, router_id: str, network_id: str) -> Router: ...

    @abstractmethod
    def remove_router_interface(self, router_id: str, network_id: str) -> Router: ...

    # -- public IPs ----------------------------------------------------------------------------

    @abstractmethod
    def allocate_public_ip(self, network_id: str, address: str | None = None,
                           router_id: str | None = None) -> PublicIP:
        """A public IP on the external network ``network_id``.  ``router_id`` is the router
        that routes the instance's network there (the managers pass the one they found): a
        cloud that acquires addresses for a router (CloudStack: for a VPC) needs it; others
        ignore it."""

    @abstractmethod
    def associate_public_ip(self, ip_id: str, server_id: str) -> PublicIP: ...

    @abstractmethod
    def disassociate_public_ip(self, ip_id: str) -> PublicIP: ...

    @abstractmethod
    def release_public_ip(self, ip_id: str) -> None: ...

    # -- security groups and key pairs ---------------------------------------------------------

    @abstractmethod
    def create_security_group(self, name: str, description: str = "") -> SecurityGroup: ...

    @abstractmethod
    def delete_security_group(self, group_id: str) -> None: ...

    @abstractmethod
    def add_security_group_rule(self, group_id: str, rule: SecurityRule) -> SecurityGroup:
        """Add a rule; a rule that already exists counts as success."""

    @abstractmethod
    def create_keypair(self, name: str, public_key: str) -> KeyPair: ...

    @abstractmethod
    def delete_keypair(self, name: str) -> None: ...
