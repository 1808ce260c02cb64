"""A complete simulated cloud, for local use and tests.

Its state lives in tables of its own in MiniCloud's store (``stub_*``), so a Stub cloud survives
a restart; it never reads MiniCloud's tables.  ``MINICLOUD_STUB_FAIL=call[,call:N]`` makes the
named calls (the N-th one, or every one) raise :class:`DriverError`, for fault-injection tests.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import CONFLICT, FAILED, NOT_FOUND
from ..kinds import KINDS
from ..model import (
    DEFAULT_GROUP,
    KEYPAIR_PREFIX,
    Cloud,
    CloudSnapshot,
    Flavor,
    Image,
    Instance,
    KeyPair,
    Network,
    Nic,
    Port,
    PublicIP,
    Resource,
    Router,
    SecurityGroup,
    SecurityRule,
    Subnet,
    from_dict,
    to_dict,
)
from ..validation import check_name, check_optional_name, parse_cidr
from .base import Driver, ServerSpec, Setting

F = TypeVar("F", bound=Callable[..., Any])

STUB_KINDS: dict[str, type[Resource]] = {k.name: k.cls for k in KINDS.values() if k.simulated}
TABLES = {kind: f"stub_{KINDS[kind].table}" for kind in STUB_KINDS}
IMAGES = (("cirros", {"os_admin_user": "cirros"}), ("ubuntu", {"os_admin_user": "ubuntu"}))
FLAVORS = (("m1.tiny", 1, 512, 1), ("m1.small", 1, 2048, 20), ("m1.medium", 2, 4096, 40))
DEFAULT_EXTERNAL = ("public", "203.0.113.0/24")

log = logging.getLogger(__name__)

# Calls made so far in this process, by name, for MINICLOUD_STUB_FAIL's call:N form.
_calls: Counter[str] = Counter()


def reset_fault_counters() -> None:
    _calls.clear()


def _fault_plan() -> dict[str, int | None]:
    plan: dict[str, int | None] = {}
    for item in os.environ.get("MINICLOUD_STUB_FAIL", "").split(","):
        name, _, nth = item.strip().partition(":")
        if name:
            plan[name] = int(nth) if nth.isdigit() else None
    return plan


def faultable(method: F) -> F:
    """Count the call and fail it when MINICLOUD_STUB_FAIL says so."""

    @functools.wraps(method)
    def wrapper(self: StubDriver, *args: Any, **kwargs: Any) -> Any:
        name = method.__name__
        log.debug("cloud %s (stub): %s", self.cloud.name, name)
        _calls[name] += 1
        plan = _fault_plan()
        if name in plan and (plan[name] is None or plan[name] == _calls[name]):
            raise self.error(name.replace("_", " "), FAILED, "injected fault")
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _new_id() -> str:
    return str(uuid.uuid4())


class StubDriver(Driver):
    type_name = "stub"
    has_hosts = False
    settings = (
        Setting("external_network", "External network name", DEFAULT_EXTERNAL[0],
                check=lambda v: check_name(v, "external network name")),
        Setting("external_cidr", "External network CIDR", DEFAULT_EXTERNAL[1],
                check=lambda v: str(parse_cidr(v))),
        Setting("external_subnet", "External subnet name (empty: none)", "",
                check=lambda v: check_optional_name(v, "external subnet name"), optional=True),
    )

    def __init__(self, cloud: Cloud, store: Any, password: str | None = None):
        super().__init__(cloud, store, password)
        store.add_tables(TABLES.values())
        self._state: dict[str, dict[str, Any]] | None = None

    # -- state ---------------------------------------------------------------------------------

    @property
    def state(self) -> dict[str, dict[str, Any]]:
        if self._state is None:
            self._state = {}
            for kind, cls in STUB_KINDS.items():
                rows = self.store.table(TABLES[kind]).rows(self.cloud.name)
                self._state[kind] = {data["id"]: from_dict(cls, data) for data, _ in rows}
        return self._state

    def _save(self, *objs: Resource, deleted: tuple[Resource, ...] = ()) -> None:
        with self.store.transaction(write=True):
            for obj in objs:
                self.store.table(TABLES[obj.kind]).put(f"{self.cloud.name}/{obj.id}",
                                                       self.cloud.name, to_dict(obj))
            for obj in deleted:
                self.store.table(TABLES[obj.kind]).delete(f"{self.cloud.name}/{obj.id}")
        for obj in objs:
            self.state[obj.kind][obj.id] = obj
        for obj in deleted:
            self.state[obj.kind].pop(obj.id, None)

    def _get(self, kind: str, ident: str) -> Any:
        obj = self.state[kind].get(ident)
        if obj is None:
            raise self.error(f"find {kind.replace('_', ' ')} {ident}", NOT_FOUND)
        return obj

    def _copy(self, obj: Any) -> Any:
        # Callers get copies: nothing they change reaches the simulated cloud unsaved.
        return from_dict(type(obj), to_dict(obj))

    def _all(self, kind: str) -> list[Any]:
        return [self._copy(o) for o in self.state[kind].values()]

    # -- life cycle ----------------------------------------------------------------------------

    def setup(self) -> None:
        """A new Stub cloud: its own external network and a ``default`` group."""
        if self.state["network"]:
            return
        opts = self.cloud.settings
        name = opts.get("external_network") or DEFAULT_EXTERNAL[0]
        cidr = opts.get("external_cidr") or DEFAULT_EXTERNAL[1]
        self.seed_network(name, cidr, external=True, subnet_name=opts.get("external_subnet", ""))
        self._save(SecurityGroup(self.cloud.name, _new_id(), DEFAULT_GROUP,
                                 description="Default security group"))

    def forget(self) -> None:
        with self.store.transaction(write=True):
            for table in TABLES.values():
                self.store.table(table).delete_cloud(self.cloud.name)
        self._state = None

    # -- seeding (what existed before MiniCloud; tests and the demo use it) --------------------

    def seed_network(self, name: str, cidr: str, external: bool = False,
                     subnet_name: str = "", owned: bool = False) -> Network:
        net = ipaddress.ip_network(cidr, strict=False)
        gateway = str(next(net.hosts()))
        subnet = Subnet(_new_id(), subnet_name, str(net), gateway)
        network = Network(self.cloud.name, _new_id(), name, owned=owned, subnets=[subnet],
                          external=external)
        self._save(network)
        return self._copy(network)

    def seed_router(self, name: str, gateway_network_id: str | None = None) -> Router:
        router = Router(self.cloud.name, _new_id(), name, gateway_network_id=gateway_network_id)
        self._save(router)
        return self._copy(router)

    def seed_server(self, spec: ServerSpec) -> Instance:
        return self._create_server(spec, owned=False)

    def seed_public_ip(self, network_id: str, address: str | None = None) -> PublicIP:
        return self._allocate(network_id, address, owned=False)

    # -- reads ---------------------------------------------------------------------------------

    def snapshot(self) -> CloudSnapshot:
        # A sync re-reads the simulated cloud: another process may have changed it.
        self._state = None
        return super().snapshot()

    def list_images(self) -> list[Image]:
        return [Image(self.cloud.name, f"image-{n}", n, properties=dict(p)) for n, p in IMAGES]

    def list_flavors(self) -> list[Flavor]:
        return [Flavor(self.cloud.name, f"flavor-{n}", n, vcpus=c, ram=r, disk=d)
                for n, c, r, d in FLAVORS]

    @faultable
    def list_networks(self) -> list[Network]:
        return self._all("network")

    @faultable
    def list_routers(self) -> list[Router]:
        return self._all("router")

    @faultable
    def list_servers(self) -> list[Instance]:
        return [self._settle(s) for s in self._all("instance")]

    @faultable
    def get_server(self, server_id: str) -> Instance:
        server = self._get("instance", server_id)
        if server.status == "BUILD":
            server.status = "ACTIVE"
            self._save(server)
        return self._copy(server)

    def _settle(self, server: Instance) -> Instance:
        # Listing shows a BUILD server as it would be a moment later.
        if server.status == "BUILD":
            server.status = "ACTIVE"
        return server

    @faultable
    def list_ports(self) -> list[Port]:
        ports = []
        for server in self.state["instance"].values():
            for nic in server.nics:
                ports.append(Port(nic.port_id or "", nic.network_id, server.id, "compute:nova",
                                  [nic.ip] if nic.ip else []))
        for router in self.state["router"].values():
            for net_id in router.interface_network_ids:
                ports.append(Port(f"{router.id}-{net_id}", net_id, router.id,
                                  "network:router_interface",
                                  [self._gateway_ip(net_id)]))
        return ports

    @faultable
    def list_public_ips(self) -> list[PublicIP]:
        return self._all("public_ip")

    @faultable
    def list_security_groups(self) -> list[SecurityGroup]:
        return self._all("security_group")

    @faultable
    def list_keypairs(self) -> list[KeyPair]:
        return self._all("keypair")

    # -- servers -------------------------------------------------------------------------------

    @faultable
    def create_server(self, spec: ServerSpec) -> Instance:
        return self._create_server(spec, owned=True)

    def _create_server(self, spec: ServerSpec, owned: bool) -> Instance:
        network = self._get("network", spec.network_id)
        groups = {g.name for g in self.state["security_group"].values()}
        for group in spec.security_groups:
            if group not in groups:
                raise self.error(f"create server {spec.name}", NOT_FOUND,
                                 f"security group {group}")
        images = {i.id: i.name for i in self.list_images()}
        flavors = {f.id: f.name for f in self.list_flavors()}
        if spec.image_id not in images or spec.flavor_id not in flavors:
            raise self.error(f"create server {spec.name}", NOT_FOUND, "image or flavor")
        if spec.key_name and spec.key_name not in self.state["keypair"]:
            raise self.error(f"create server {spec.name}", NOT_FOUND, f"key pair {spec.key_name}")
        ip = self._free_ip(network, spec.fixed_ip)
        server = Instance(self.cloud.name, _new_id(), spec.name, owned=owned,
                          image=images[spec.image_id], flavor=flavors[spec.flavor_id],
                          cluster=spec.cluster, nics=[Nic(network.id, ip, _new_id())],
                          security_groups=list(spec.security_groups), status="BUILD",
                          key_name=spec.key_name)
        self._save(server)
        return self._copy(server)

    @faultable
    def delete_server(self, server_id: str) -> None:
        server = self._get("instance", server_id)
        changed = []
        for fip in self.state["public_ip"].values():
            if fip.instance_id == server.id:
                fip = self._copy(fip)
                fip.instance_id = fip.port_id = fip.fixed_ip = None
                changed.append(fip)
        self._save(*changed, deleted=(server,))

    def _set_status(self, server_id: str, status: str) -> Instance:
        server = self._copy(self._get("instance", server_id))
        server.status = status
        self._save(server)
        return self._copy(server)

    @faultable
    def start_server(self, server_id: str) -> Instance:
        return self._set_status(server_id, "ACTIVE")

    @faultable
    def stop_server(self, server_id: str) -> Instance:
        return self._set_status(server_id, "SHUTOFF")

    @faultable
    def reboot_server(self, server_id: str) -> Instance:
        return self._set_status(server_id, "ACTIVE")

    @faultable
    def add_server_security_group(self, server_id: str, group_id: str) -> Instance:
        server = self._copy(self._get("instance", server_id))
        group = self._get("security_group", group_id)
        if group.name not in server.security_groups:
            server.security_groups.append(group.name)
            self._save(server)
        return self._copy(server)

    @faultable
    def remove_server_security_group(self, server_id: str, group_id: str) -> Instance:
        server = self._copy(self._get("instance", server_id))
        group = self._get("security_group", group_id)
        if group.name in server.security_groups:
            server.security_groups.remove(group.name)
            self._save(server)
        return self._copy(server)

    # -- networks and routers ------------------------------------------------------------------

    def _free_ip(self, network: Network, wanted: str | None) -> str:
        if not network.subnets:
            raise self.error(f"allocate an address on {network.name}", FAILED, "no subnet")
        subnet = ipaddress.ip_network(network.subnets[0].cidr)
        used = {nic.ip for s in self.state["instance"].values() for nic in s.nics
                if nic.network_id == network.id}
        used |= {f.name for f in self.state["public_ip"].values() if f.network_id == network.id}
        used.add(network.subnets[0].gateway_ip)
        if wanted and wanted not in used:
            try:
                if ipaddress.ip_address(wanted) in subnet:
                    return wanted
            except ValueError:
                pass
        for host in subnet.hosts():
            if str(host) not in used:
                return str(host)
        raise self.error(f"allocate an address on {network.name}", FAILED, "no free address")

    def _gateway_ip(self, network_id: str) -> str:
        network = self.state["network"].get(network_id)
        if network and network.subnets and network.subnets[0].gateway_ip:
            return network.subnets[0].gateway_ip
        return ""

    @faultable
    def create_network(self, name: str, cidr: str) -> Network:
        return self.seed_network(name, cidr, subnet_name=f"{name}-subnet", owned=True)

    @faultable
    def delete_network(self, network_id: str) -> None:
        network = self._get("network", network_id)
        in_use = any(nic.network_id == network_id for s in self.state["instance"].values()
                     for nic in s.nics)
        in_use |= any(network_id in r.interface_network_ids or r.gateway_network_id == network_id
                      for r in self.state["router"].values())
        in_use |= any(f.network_id == network_id for f in self.state["public_ip"].values())
        if in_use:
            raise self.error(f"delete network {network.name}", CONFLICT, "network in use")
        self._save(deleted=(network,))

    @faultable
    def create_router(self, name: str, gateway_network_id: str | None = None) -> Router:
        if gateway_network_id is not None:
            self._external(gateway_network_id, f"create router {name}")
        router = Router(self.cloud.name, _new_id(), name, owned=True,
                        gateway_network_id=gateway_network_id)
        self._save(router)
        return self._copy(router)

    def _external(self, network_id: str, operation: str) -> Network:
        network = self._get("network", network_id)
        if not network.external:
            raise self.error(operation, CONFLICT, f"{network.name} is not an external network")
        return network

    @faultable
    def delete_router(self, router_id: str) -> None:
        router = self._get("router", router_id)
        if router.interface_network_ids:
            raise self.error(f"delete router {router.name}", CONFLICT, "router has interfaces")
        self._save(deleted=(router,))

    @faultable
    def set_router_gateway(self, router_id: str, network_id: str) -> Router:
        router = self._copy(self._get("router", router_id))
        self._external(network_id, f"set gateway of {router.name}")
        router.gateway_network_id = network_id
        self._save(router)
        return self._copy(router)

    @faultable
    def clear_router_gateway(self, router_id: str) -> Router:
        router = self._copy(self._get("router", router_id))
        if any(f.port_id for f in self.state["public_ip"].values()
               if f.network_id == router.gateway_network_id and self._routed_by(f, router)):
            raise self.error(f"clear gateway of {router.name}", CONFLICT,
                             "public IPs still use it")
        router.gateway_network_id = None
        self._save(router)
        return self._copy(router)

    def _routed_by(self, fip: PublicIP, router: Router) -> bool:
        server = self.state["instance"].get(fip.instance_id or "")
        return bool(server) and any(n.network_id in router.interface_network_ids
                                    for n in server.nics)

    @faultable
    def add_router_interface(self, router_id: str, network_id: str) -> Router:
        router = self._copy(self._get("router", router_id))
        network = self._get("network", network_id)
        if network.external:
            raise self.error(f"attach {network.name} to {router.name}", CONFLICT,
                             "an external network is a gateway, not an interface")
        if network_id in router.interface_network_ids:
            raise self.error(f"attach {network.name} to {router.name}", CONFLICT,
                             "already attached")
        router.interface_network_ids.append(network_id)
        self._save(router)
        return self._copy(router)

    @faultable
    def remove_router_interface(self, router_id: str, network_id: str) -> Router:
        router = self._copy(self._get("router", router_id))
        if network_id not in router.interface_network_ids:
            raise self.error(f"detach network from {router.name}", NOT_FOUND, "no such interface")
        router.interface_network_ids.remove(network_id)
        self._save(router)
        return self._copy(router)

    # -- public IPs ----------------------------------------------------------------------------

    @faultable
    def allocate_public_ip(self, network_id: str, address: str | None = None) -> PublicIP:
        return self._allocate(network_id, address, owned=True)

    def _allocate(self, network_id: str, address: str | None, owned: bool) -> PublicIP:
        network = self._external(network_id, "allocate public IP")
        fip = PublicIP(self.cloud.name, _new_id(), self._free_ip(network, address), owned=owned,
                       network_id=network_id)
        self._save(fip)
        return self._copy(fip)

    @faultable
    def associate_public_ip(self, ip_id: str, server_id: str) -> PublicIP:
        fip = self._copy(self._get("public_ip", ip_id))
        server = self._get("instance", server_id)
        if fip.port_id and fip.instance_id != server_id:
            raise self.error(f"associate {fip.name}", CONFLICT, "already associated")
        routed = {n for r in self.state["router"].values() if r.gateway_network_id == fip.network_id
                  for n in r.interface_network_ids}
        nic = next((n for n in server.nics if n.network_id in routed), None)
        if nic is None:
            raise self.error(f"associate {fip.name} with {server.name}", CONFLICT,
                             "no route from the instance's networks to the IP's network")
        fip.instance_id, fip.port_id, fip.fixed_ip = server.id, nic.port_id, nic.ip
        self._save(fip)
        return self._copy(fip)

    @faultable
    def disassociate_public_ip(self, ip_id: str) -> PublicIP:
        fip = self._copy(self._get("public_ip", ip_id))
        fip.instance_id = fip.port_id = fip.fixed_ip = None
        self._save(fip)
        return self._copy(fip)

    @faultable
    def release_public_ip(self, ip_id: str) -> None:
        self._save(deleted=(self._get("public_ip", ip_id),))

    # -- security groups and key pairs ---------------------------------------------------------

    @faultable
    def create_security_group(self, name: str, description: str = "") -> SecurityGroup:
        if any(g.name == name for g in self.state["security_group"].values()):
            raise self.error(f"create security group {name}", CONFLICT, "name in use")
        group = SecurityGroup(self.cloud.name, _new_id(), name, owned=True,
                              description=description)
        self._save(group)
        return self._copy(group)

    @faultable
    def delete_security_group(self, group_id: str) -> None:
        group = self._get("security_group", group_id)
        if any(group.name in s.security_groups for s in self.state["instance"].values()):
            raise self.error(f"delete security group {group.name}", CONFLICT, "group in use")
        self._save(deleted=(group,))

    @faultable
    def add_security_group_rule(self, group_id: str, rule: SecurityRule) -> SecurityGroup:
        group = self._copy(self._get("security_group", group_id))
        if rule not in group.rules:
            group.rules.append(rule)
            self._save(group)
        return self._copy(group)

    @faultable
    def create_keypair(self, name: str, public_key: str) -> KeyPair:
        if name in self.state["keypair"]:
            raise self.error(f"create key pair {name}", CONFLICT, "name in use")
        pair = KeyPair(self.cloud.name, name, name, owned=name.startswith(KEYPAIR_PREFIX),
                       fingerprint=uuid.uuid5(uuid.NAMESPACE_OID, public_key).hex,
                       public_key=public_key)
        self._save(pair)
        return self._copy(pair)

    @faultable
    def delete_keypair(self, name: str) -> None:
        self._save(deleted=(self._get("keypair", name),))
