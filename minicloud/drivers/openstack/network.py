"""The OpenStack driver's Neutron half: networks, routers, public IPs, security groups.

:class:`OpenStackNetwork` is the base of :class:`~.driver.OpenStackDriver`,
which adds the declarations, the full sync, servers (Nova), images, flavors and key pairs.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

from ...model.errors import FAILED, NOT_FOUND, DriverError
from ...model.objects import Network, PublicIP, Router, SecurityGroup, SecurityRule
from .convert import (
    ROUTER_INTERFACE_OWNERS,
    group_by,
    in_creation_order,
    to_network,
    to_public_ip,
    to_router,
    to_security_group,
)
from .errors import message_of, with_note
from .session import OpenStackSession

log = logging.getLogger("minicloud.drivers.openstack")


class OpenStackNetwork(OpenStackSession):
    """Neutron: networks, routers, public IPs and security groups."""

    # -- reads ---------------------------------------------------------------------------------

    def list_networks(self) -> list[Network]:
        with self._call("list networks"):
            subnets = list(self.conn.network.subnets())
            return self._networks(self.conn.network.networks(), subnets)

    def list_routers(self) -> list[Router]:
        with self._call("list routers"):
            ports = list(self.conn.network.ports())
            return self._routers(self.conn.network.routers(), ports)

    def list_public_ips(self) -> list[PublicIP]:
        with self._call("list public IPs"):
            ports_by_id = {p.id: p for p in self.conn.network.ports()}
            return [to_public_ip(self.cloud.name, f, ports_by_id)
                    for f in self.conn.network.ips()]

    def list_security_groups(self) -> list[SecurityGroup]:
        with self._call("list security groups"):
            return [to_security_group(self.cloud.name, g)
                    for g in self.conn.network.security_groups()]

    def _networks(self, networks: Iterable[Any], subnets: Iterable[Any]) -> list[Network]:
        by_network = group_by(subnets, "network_id")
        return [to_network(self.cloud.name, n, by_network.get(n.id, [])) for n in networks]

    def _routers(self, routers: Iterable[Any], ports: Iterable[Any]) -> list[Router]:
        by_device = group_by(ports, "device_id")
        return [to_router(self.cloud.name, r, by_device.get(r.id, [])) for r in routers]

    # -- networks and routers ------------------------------------------------------------------

    def create_network(self, name: str, cidr: str, router_id: str | None = None) -> Network:
        operation = f"create network {name}"
        with self._call(operation):
            subnet_range = ipaddress.ip_network(cidr, strict=False)
            gateway = str(next(iter(subnet_range.hosts()), subnet_range.network_address))
            network = self._create_tagged(self.conn.network.create_network, name=name)
        try:
            with self._call(operation):
                subnet = self._create_tagged(
                    self.conn.network.create_subnet, name=f"{name}-subnet",
                    network_id=network.id, cidr=str(subnet_range),
                    ip_version=subnet_range.version, gateway_ip=gateway)
        except DriverError as err:
            note = self._undo(f"delete network {name}",
                              lambda: self.conn.network.delete_network(network.id))
            raise with_note(err, note) from None
        return self._born_on(to_network(self.cloud.name, network, [subnet]), router_id)

    def delete_network(self, network_id: str) -> None:
        with self._call(f"delete network {network_id}"):
            self.conn.network.delete_network(network_id, ignore_missing=False)

    def _router(self, router: Any) -> Router:
        ports = self.conn.network.ports(device_id=router.id)
        return to_router(self.cloud.name, router, ports)

    def create_router(self, name: str, gateway_network_id: str | None = None) -> Router:
        attrs: dict[str, Any] = {"name": name}
        if gateway_network_id:
            attrs["external_gateway_info"] = {"network_id": gateway_network_id}
        with self._call(f"create router {name}"):
            router = self._create_tagged(self.conn.network.create_router, **attrs)
            return to_router(self.cloud.name, router, [])

    def delete_router(self, router_id: str) -> None:
        with self._call(f"delete router {router_id}"):
            self.conn.network.delete_router(router_id, ignore_missing=False)

    def set_router_gateway(self, router_id: str, network_id: str) -> Router:
        with self._call(f"set gateway of router {router_id}"):
            router = self.conn.network.update_router(
                router_id, external_gateway_info={"network_id": network_id})
            return self._router(router)

    def clear_router_gateway(self, router_id: str) -> Router:
        with self._call(f"clear gateway of router {router_id}"):
            router = self.conn.network.update_router(router_id, external_gateway_info={})
            return self._router(router)

    def add_router_interface(self, router_id: str, network_id: str) -> Router:
        operation = f"attach network {network_id} to router {router_id}"
        with self._call(operation):
            subnets = list(self.conn.network.subnets(network_id=network_id))
            if not subnets:
                raise self.error(operation, FAILED, "the network has no subnet")
            subnet = next((s for s in subnets if s.ip_version == 4), subnets[0])
            self.conn.network.add_interface_to_router(router_id, subnet=subnet.id)
            return self._router(self.conn.network.get_router(router_id))

    def remove_router_interface(self, router_id: str, network_id: str) -> Router:
        operation = f"detach network {network_id} from router {router_id}"
        with self._call(operation):
            ports = [p for p in self.conn.network.ports(device_id=router_id,
                                                        network_id=network_id)
                     if p.device_owner in ROUTER_INTERFACE_OWNERS]
            if not ports:
                raise self.error(operation, NOT_FOUND, "the router has no interface there")
            for port in ports:
                self.conn.network.remove_interface_from_router(router_id, port=port.id)
            return self._router(self.conn.network.get_router(router_id))

    # -- public IPs ----------------------------------------------------------------------------

    def allocate_public_ip(self, network_id: str, address: str | None = None,
                           router_id: str | None = None) -> PublicIP:
        # A floating IP belongs to the external network, not to a router: router_id unused.
        attrs: dict[str, Any] = {"floating_network_id": network_id}
        if address:
            attrs["floating_ip_address"] = address
        what = f"public IP {address}" if address else "a public IP"
        with self._call(f"allocate {what} on network {network_id}"):
            fip = self._create_tagged(self.conn.network.create_ip, **attrs)
            return to_public_ip(self.cloud.name, fip, {})

    def _routed_port(self, ports: list[Any], external_network_id: str) -> Any:
        """The server port whose network a router joins to the external network, else the
        first port."""
        routed: set[str] = set()
        for router in self.conn.network.routers():
            if (router.external_gateway_info or {}).get("network_id") != external_network_id:
                continue
            for port in self.conn.network.ports(device_id=router.id):
                if port.device_owner in ROUTER_INTERFACE_OWNERS:
                    routed.add(port.network_id)
        return next((p for p in ports if p.network_id in routed), ports[0])

    def associate_public_ip(self, ip_id: str, server_id: str) -> PublicIP:
        operation = f"associate public IP {ip_id} with server {server_id}"
        with self._call(operation):
            fip = self.conn.network.get_ip(ip_id)
            ports = in_creation_order(self.conn.network.ports(device_id=server_id))
            if not ports:
                raise self.error(operation, FAILED, "the server has no network port yet")
            port = self._routed_port(ports, fip.floating_network_id)
            attrs: dict[str, Any] = {"port_id": port.id}
            v4 = [f["ip_address"] for f in port.fixed_ips or []
                  if ipaddress.ip_address(f["ip_address"]).version == 4]
            if v4:
                attrs["fixed_ip_address"] = v4[0]
            fip = self.conn.network.update_ip(fip, **attrs)
            return to_public_ip(self.cloud.name, fip, {port.id: port})

    def disassociate_public_ip(self, ip_id: str) -> PublicIP:
        with self._call(f"disassociate public IP {ip_id}"):
            fip = self.conn.network.update_ip(ip_id, port_id=None)
            return to_public_ip(self.cloud.name, fip, {})

    def release_public_ip(self, ip_id: str) -> None:
        with self._call(f"release public IP {ip_id}"):
            self.conn.network.delete_ip(ip_id, ignore_missing=False)

    # -- security groups and key pairs ---------------------------------------------------------

    def create_security_group(self, name: str, description: str = "") -> SecurityGroup:
        with self._call(f"create security group {name}"):
            group = self._create_tagged(self.conn.network.create_security_group, name=name,
                                        description=description)
            return to_security_group(self.cloud.name, group)

    def delete_security_group(self, group_id: str) -> None:
        with self._call(f"delete security group {group_id}"):
            self.conn.network.delete_security_group(group_id, ignore_missing=False)

    def add_security_group_rule(self, group_id: str, rule: SecurityRule) -> SecurityGroup:
        from openstack import exceptions as sdk

        attrs = {"security_group_id": group_id, "direction": rule.direction,
                 "ethertype": rule.ethertype, "protocol": rule.protocol,
                 "port_range_min": rule.port_min, "port_range_max": rule.port_max,
                 "remote_ip_prefix": rule.remote_ip_prefix}
        attrs = {k: v for k, v in attrs.items() if v is not None}
        with self._call(f"add rule to security group {group_id}"):
            try:
                self.conn.network.create_security_group_rule(**attrs)
            except sdk.ConflictException as exc:
                if "quota" in message_of(exc).lower():
                    raise
                log.debug("rule already in security group %s", group_id)
            group = self.conn.network.get_security_group(group_id)
            return to_security_group(self.cloud.name, group)
