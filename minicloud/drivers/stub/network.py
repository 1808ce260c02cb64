"""The Stub cloud's plumbing and its networking: networks, routers, public IPs.

:class:`StubNetwork` is the base of :class:`~.driver.StubDriver`, which adds the
declarations, servers, security groups and key pairs.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

from ...model.codec import from_dict, to_dict
from ...model.errors import CONFLICT, FAILED, INVALID, NOT_FOUND, ConfigError
from ...model.kinds import INSTANCE, NETWORK, PUBLIC_IP, ROUTER, Kind
from ...model.objects import Cloud, Network, PublicIP, Resource, Router, Subnet
from ..base import Driver
from .location import Location
from .state import StubState, api_call

# The setting that names a Stub cloud's location (resolved by the driver pool: the driver is
# handed a database URL).
STATE = "state"


def new_id() -> str:
    return str(uuid.uuid4())


M = TypeVar("M")  # a model object, copied



class StubNetwork(Driver):
    """A Stub cloud's objects (``self.sim``) and its Neutron-like half."""

    def __init__(self, cloud: Cloud, secrets: Mapping[str, str] | None = None):
        super().__init__(cloud, secrets)
        url = cloud.settings.get(STATE, "")
        if "://" not in url:
            raise ConfigError(f"cloud {cloud.name}: its Stub location is no database URL "
                              f"({url or 'none'}): the driver pool resolves the {STATE} "
                              "setting before a driver is built")
        self.sim = StubState(Location(url), cloud.name)

    def close(self) -> None:
        self.sim.location.close()

    # -- the simulated objects -----------------------------------------------------------------

    def _save(self, *objs: Resource, deleted: tuple[Resource, ...] = ()) -> None:
        self.sim.save(*objs, deleted=deleted)

    def _get(self, kind: Kind[M], ident: str) -> M:
        obj: M | None = self.sim.get(kind.name, ident)
        if obj is None:
            raise self.error(f"find {kind.label} {ident}", NOT_FOUND)
        return obj

    def _copy(self, obj: M) -> M:
        # Callers get copies: nothing they change reaches the simulated cloud unsaved.
        return from_dict(type(obj), to_dict(obj))

    def _all(self, kind: str) -> list[Any]:
        return [self._copy(o) for o in self.sim.of(kind).values()]

    # -- reads ---------------------------------------------------------------------------------

    @api_call
    def list_networks(self) -> list[Network]:
        return self._all("network")

    @api_call
    def list_routers(self) -> list[Router]:
        return self._all("router")

    @api_call
    def list_public_ips(self) -> list[PublicIP]:
        return self._all("public_ip")

    # -- networks and routers ------------------------------------------------------------------

    def _free_ip(self, network: Network, wanted: str | None) -> str:
        if not network.subnets:
            raise self.error(f"allocate an address on {network.name}", FAILED, "no subnet")
        if wanted:
            return self._requested_ip(network, wanted)
        address = self.sim.free_ip(network)
        if address is None:
            raise self.error(f"allocate an address on {network.name}", FAILED,
                             "no free address")
        return address

    def _requested_ip(self, network: Network, wanted: str) -> str:
        """A requested address, refused as Neutron refuses it: in use (409), or not a host
        of the subnet (400)."""
        operation = f"use address {wanted[:45]} on {network.name}"
        subnet = ipaddress.ip_network(network.subnets[0].cidr)
        try:
            address = ipaddress.ip_address(wanted)
        except ValueError:
            raise self.error(operation, INVALID, "not an IP address") from None
        reserved = address in (subnet.network_address, subnet.broadcast_address) \
            and subnet.version == 4 or address == subnet.network_address
        if address not in subnet or reserved:
            raise self.error(operation, INVALID, f"not a host address of {subnet}")
        holder = self.sim.holders(network).get(str(address))
        if holder is not None:
            raise self.error(operation, CONFLICT, f"in use by {holder}")
        return str(address)

    def _new_network(self, name: str, cidr: str, external: bool, subnet_name: str,
                     owned: bool) -> Network:
        net = ipaddress.ip_network(cidr, strict=False)
        gateway = str(next(net.hosts()))
        subnet = Subnet(new_id(), subnet_name, str(net), gateway)
        network = Network(self.cloud.name, new_id(), name, owned=owned, subnets=[subnet],
                          external=external)
        self._save(network)
        return self._copy(network)

    @api_call
    def create_network(self, name: str, cidr: str, router_id: str | None = None) -> Network:
        # One transaction: a network whose interface fails is not kept.
        network = self._new_network(name, cidr, False, f"{name}-subnet", owned=True)
        return self._born_on(network, router_id)

    @api_call
    def delete_network(self, network_id: str) -> None:
        network = self._get(NETWORK, network_id)
        if self.sim.network_in_use(network_id):
            raise self.error(f"delete network {network.name}", CONFLICT, "network in use")
        self._save(deleted=(network,))

    @api_call
    def create_router(self, name: str, gateway_network_id: str | None = None) -> Router:
        if gateway_network_id is not None:
            self._external(gateway_network_id, f"create router {name}")
        return self._new_router(name, gateway_network_id, owned=True)

    def _new_router(self, name: str, gateway_network_id: str | None, owned: bool) -> Router:
        router = Router(self.cloud.name, new_id(), name, owned=owned,
                        gateway_network_id=gateway_network_id)
        self._save(router)
        return self._copy(router)

    def _external(self, network_id: str, operation: str) -> Network:
        network = self._get(NETWORK, network_id)
        if not network.external:
            raise self.error(operation, CONFLICT, f"{network.name} is not an external network")
        return network

    @api_call
    def delete_router(self, router_id: str) -> None:
        router = self._get(ROUTER, router_id)
        if router.interface_network_ids:
            raise self.error(f"delete router {router.name}", CONFLICT, "router has interfaces")
        self._save(deleted=(router,))

    @api_call
    def set_router_gateway(self, router_id: str, network_id: str) -> Router:
        router = self._copy(self._get(ROUTER, router_id))
        self._external(network_id, f"set gateway of {router.name}")
        router.gateway_network_id = network_id
        self._save(router)
        return self._copy(router)

    @api_call
    def clear_router_gateway(self, router_id: str) -> Router:
        router = self._copy(self._get(ROUTER, router_id))
        if any(f.port_id for f in self.sim.of("public_ip").values()
               if f.network_id == router.gateway_network_id and self._routed_by(f, router)):
            raise self.error(f"clear gateway of {router.name}", CONFLICT,
                             "public IPs still use it")
        router.gateway_network_id = None
        self._save(router)
        return self._copy(router)

    def _routed_by(self, fip: PublicIP, router: Router) -> bool:
        server = self.sim.get("instance", fip.instance_id or "")
        return server is not None and any(n.network_id in router.interface_network_ids
                                          for n in server.nics)

    @api_call
    def add_router_interface(self, router_id: str, network_id: str) -> Router:
        router = self._copy(self._get(ROUTER, router_id))
        network = self._get(NETWORK, network_id)
        if network.external:
            raise self.error(f"attach {network.name} to {router.name}", CONFLICT,
                             "an external network is a gateway, not an interface")
        if network_id in router.interface_network_ids:
            raise self.error(f"attach {network.name} to {router.name}", CONFLICT,
                             "already attached")
        router.interface_network_ids.append(network_id)
        self._save(router)
        return self._copy(router)

    @api_call
    def remove_router_interface(self, router_id: str, network_id: str) -> Router:
        router = self._copy(self._get(ROUTER, router_id))
        if network_id not in router.interface_network_ids:
            raise self.error(f"detach network from {router.name}", NOT_FOUND, "no such interface")
        router.interface_network_ids.remove(network_id)
        self._save(router)
        return self._copy(router)

    # -- public IPs ----------------------------------------------------------------------------

    @api_call
    def allocate_public_ip(self, network_id: str, address: str | None = None,
                           router_id: str | None = None) -> PublicIP:
        return self._allocate(network_id, address, owned=True)

    def _allocate(self, network_id: str, address: str | None, owned: bool) -> PublicIP:
        network = self._external(network_id, "allocate public IP")
        fip = PublicIP(self.cloud.name, new_id(), self._free_ip(network, address), owned=owned,
                       network_id=network_id)
        self._save(fip)
        return self._copy(fip)

    @api_call
    def associate_public_ip(self, ip_id: str, server_id: str) -> PublicIP:
        fip = self._copy(self._get(PUBLIC_IP, ip_id))
        server = self._get(INSTANCE, server_id)
        if fip.port_id and fip.instance_id != server_id:
            raise self.error(f"associate {fip.name}", CONFLICT, "already associated")
        routed = {n for r in self.sim.of("router").values()
                  if r.gateway_network_id == fip.network_id for n in r.interface_network_ids}
        nic = next((n for n in server.nics if n.network_id in routed), None)
        if nic is None:
            raise self.error(f"associate {fip.name} with {server.name}", CONFLICT,
                             "no route from the instance's networks to the IP's network")
        fip.instance_id, fip.port_id, fip.fixed_ip = server.id, nic.port_id, nic.ip
        self._save(fip)
        return self._copy(fip)

    @api_call
    def disassociate_public_ip(self, ip_id: str) -> PublicIP:
        fip = self._copy(self._get(PUBLIC_IP, ip_id))
        fip.instance_id = fip.port_id = fip.fixed_ip = None
        self._save(fip)
        return self._copy(fip)

    @api_call
    def release_public_ip(self, ip_id: str) -> None:
        self._save(deleted=(self._get(PUBLIC_IP, ip_id),))
