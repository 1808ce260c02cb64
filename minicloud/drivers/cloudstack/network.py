"""The CloudStack driver's networking: isolated networks, VPCs (routers) and their tiers, the
zone's public network, public IPs (static NAT).

:class:`CloudStackNetwork` is the base of :class:`~.access.CloudStackAccess`
(security groups as firewall/ACL rules), itself the base of the driver.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ...model.errors import FAILED, INVALID, NOT_FOUND
from ...model.objects import Network, PublicIP, Router
from .convert import (
    source_nats,
    to_network,
    to_public_ip,
    to_public_network,
    to_router,
)
from .session import CloudStackSession, JobFailed

# CloudStack's default offerings (names as a fresh management server creates them).
NETWORK_OFFERING = "DefaultIsolatedNetworkOfferingWithSourceNatService"
TIER_OFFERING = "DefaultIsolatedNetworkOfferingForVpcNetworks"
VPC_OFFERING = "Default VPC offering"
VPC_CIDR = "10.0.0.0/8"  # the VPC's super CIDR: every tier's CIDR lies in it

NO_ATTACH = ("CloudStack cannot attach an existing network to a VPC: create the network on "
             "the router (as a VPC tier)")
NO_DETACH = "a VPC tier cannot leave its VPC: remove the network instead"


class CloudStackNetwork(CloudStackSession):
    """Networks, VPCs and public IPs."""

    # -- reads ---------------------------------------------------------------------------------

    # Lists name no ``listall``: without it every role lists its own account's resources
    # (with it, a root admin's list holds every account's: another account's ``default``).

    def _guest_networks(self) -> list[dict[str, Any]]:
        return self._list("listNetworks", zoneid=self.zone_id)

    def _public_networks(self) -> list[dict[str, Any]]:
        """The zone's public network: listed by a root admin; anyone else finds it the way a
        user can, as the network of a public IP address (IPAddressResponse's ``networkid``
        and ``networkname``), for which one free address of the zone is enough."""
        if self.login.root_admin:
            return self._list("listNetworks", zoneid=self.zone_id, issystem=True,
                              traffictype="Public")
        page = self._sync("listPublicIpAddresses", zoneid=self.zone_id, allocatedonly=False,
                          forvirtualnetwork=True, page=1, pagesize=1)
        ips = page.get("publicipaddress") or []
        return [{"id": ip["networkid"], "name": ip.get("networkname") or ""}
                for ip in ips[:1] if ip.get("networkid")]

    def _ranges(self) -> list[dict[str, Any]]:
        """The public IP ranges: listVlanIpRanges is a root admin's command."""
        if not self.login.root_admin:
            return []
        return self._list("listVlanIpRanges", zoneid=self.zone_id, forvirtualnetwork=True)

    def _ips(self, **params: Any) -> list[dict[str, Any]]:
        return self._list("listPublicIpAddresses", zoneid=self.zone_id, allocatedonly=True,
                          **params)

    def _vpcs(self, **params: Any) -> list[dict[str, Any]]:
        return self._list("listVPCs", zoneid=self.zone_id, **params)

    def _networks(self, guests: list[dict[str, Any]], public: list[dict[str, Any]],
                  ranges: list[dict[str, Any]]) -> list[Network]:
        name = self.cloud.name
        return [to_network(name, n) for n in guests] + \
            [to_public_network(name, n, ranges) for n in public]

    def _routers(self, vpcs: list[dict[str, Any]], guests: list[dict[str, Any]],
                 ips: list[dict[str, Any]]) -> list[Router]:
        nats = source_nats(ips)
        return [to_router(self.cloud.name, v, guests, nats) for v in vpcs]

    def _public_ips(self, ips: list[dict[str, Any]]) -> list[PublicIP]:
        """Public IPs MiniCloud may use: a VPC's or a network's source NAT is its gateway."""
        return [to_public_ip(self.cloud.name, ip) for ip in ips if not ip.get("issourcenat")]

    def list_networks(self) -> list[Network]:
        with self._call("list networks"):
            return self._networks(self._guest_networks(), self._public_networks(),
                                  self._ranges())

    def list_routers(self) -> list[Router]:
        with self._call("list routers"):
            return self._routers(self._vpcs(), self._guest_networks(), self._ips())

    def list_public_ips(self) -> list[PublicIP]:
        with self._call("list public IPs"):
            return self._public_ips(self._ips())

    def _router(self, vpc_id: str) -> Router:
        vpc = self._get("listVPCs", vpc_id, "router")
        tiers = self._list("listNetworks", vpcid=vpc_id)
        return self._routers([vpc], tiers, self._ips(vpcid=vpc_id))[0]

    def _network(self, network_id: str) -> dict[str, Any]:
        return self._get("listNetworks", network_id, "network")

    # -- networks ------------------------------------------------------------------------------

    def create_network(self, name: str, cidr: str, router_id: str | None = None) -> Network:
        """An isolated network, or a tier of the VPC ``router_id`` (CloudStack makes a tier
        only at creation: it cannot attach an existing network to a VPC)."""
        operation = f"create network {name}"
        subnet = ipaddress.ip_network(cidr, strict=False)
        if subnet.version != 4:
            raise self.error(operation, INVALID, "CloudStack guest networks are IPv4")
        gateway = str(next(iter(subnet.hosts()), subnet.network_address))
        with self._call(operation):
            params: dict[str, Any] = {
                "name": name, "displaytext": name, "zoneid": self.zone_id,
                "gateway": gateway, "netmask": str(subnet.netmask)}
            if router_id:
                params["vpcid"] = router_id
                params["networkofferingid"] = self._offering("listNetworkOfferings",
                                                             TIER_OFFERING)
            else:
                params["networkofferingid"] = self._offering("listNetworkOfferings",
                                                             NETWORK_OFFERING)
            net = self._sync("createNetwork", **params).get("network") or {}
        ident = str(net["id"])
        self._mark("Network", ident, what=f"network {name}",
                   undo=lambda: self._job("deleteNetwork", id=ident))
        with self._call(operation):
            return to_network(self.cloud.name, self._network(ident))

    def delete_network(self, network_id: str) -> None:
        operation = f"delete network {network_id}"
        with self._call(operation):
            try:
                self._job("deleteNetwork", id=network_id)
            except JobFailed as failed:
                err = self._error(operation, failed)
                if self.login.may_expunge:
                    raise err from None
                # A machine destroyed without expunge keeps its network until the server
                # expunges it (NetworkOrchestrator.destroyNetwork): this account may not.
                raise self.error(operation, err.reason,
                                 f"{err.detail}; instances removed from it stay until "
                                 "CloudStack expunges them (expunge.delay): this API key may "
                                 "not expunge, so remove the network again later") from None

    # -- routers (VPCs) ------------------------------------------------------------------------

    def create_router(self, name: str, gateway_network_id: str | None = None) -> Router:
        """A VPC.  CloudStack gives every VPC a source NAT address on the zone's public
        network: that is its gateway, asked for or not."""
        operation = f"create router {name}"
        with self._call(operation):
            if gateway_network_id:
                public = {n["id"] for n in self._public_networks()}
                if gateway_network_id not in public:
                    raise self.error(operation, INVALID,
                                     "a VPC's gateway is the zone's public network")
            try:
                vpc = self._job("createVPC", name=name, displaytext=name, zoneid=self.zone_id,
                                cidr=self.cloud.settings.get("vpc_cidr") or VPC_CIDR,
                                vpcofferingid=self._offering("listVPCOfferings", VPC_OFFERING),
                                start=True).get("vpc") or {}
            except JobFailed as failed:
                raise self._failed_create(operation, failed, "Vpc", f"router {name}",
                                          lambda i: self._job("deleteVPC", id=i)) from None
        ident = str(vpc["id"])
        self._mark("Vpc", ident, what=f"router {name}",
                   undo=lambda: self._job("deleteVPC", id=ident))
        with self._call(operation):
            return self._router(ident)

    def delete_router(self, router_id: str) -> None:
        with self._call(f"delete router {router_id}"):
            self._job("deleteVPC", id=router_id)

    def set_router_gateway(self, router_id: str, network_id: str) -> Router:
        operation = f"set gateway of router {router_id}"
        with self._call(operation):
            router = self._router(router_id)
        if router.gateway_network_id != network_id:
            raise self.error(operation, FAILED, "a VPC's gateway is the source NAT CloudStack "
                                                "gave it on the zone's public network")
        return router

    def clear_router_gateway(self, router_id: str) -> Router:
        raise self.error(f"clear gateway of router {router_id}", FAILED,
                         "CloudStack keeps a VPC's source NAT: remove the router instead")

    def add_router_interface(self, router_id: str, network_id: str) -> Router:
        operation = f"attach network {network_id} to router {router_id}"
        with self._call(operation):
            net = self._network(network_id)
            if net.get("vpcid") == router_id:
                return self._router(router_id)  # a tier of it already
        raise self.error(operation, FAILED, NO_ATTACH)

    def remove_router_interface(self, router_id: str, network_id: str) -> Router:
        operation = f"detach network {network_id} from router {router_id}"
        with self._call(operation):
            net = self._network(network_id)
        if net.get("vpcid") != router_id:
            raise self.error(operation, NOT_FOUND, "the network is not a tier of the router")
        raise self.error(operation, FAILED, NO_DETACH)

    # -- public IPs ----------------------------------------------------------------------------

    def _ip_target(self, network_id: str, router_id: str | None) -> dict[str, str]:
        """Where CloudStack acquires the address: ``router_id`` (a VPC, or an isolated
        network, whose own virtual router holds it), else the only VPC whose source NAT is on
        ``network_id``."""
        if router_id:
            vpcs = {v["id"] for v in self._vpcs()}
            return {"vpcid": router_id} if router_id in vpcs else {"networkid": router_id}
        nats = source_nats(self._ips())
        users = [vpc for vpc, net in nats.items() if net == network_id]
        if len(users) != 1:
            raise self.error(f"allocate a public IP on network {network_id}", FAILED,
                             "CloudStack acquires a public IP for a VPC: "
                             f"{len(users)} VPCs use this network; name the router")
        return {"vpcid": users[0]}

    def allocate_public_ip(self, network_id: str, address: str | None = None,
                           router_id: str | None = None) -> PublicIP:
        what = f"public IP {address}" if address else "a public IP"
        operation = f"allocate {what} on network {network_id}"
        with self._call(operation):
            params = self._ip_target(network_id, router_id)
            if address:
                # A server whose associateIpAddress has no ``ipaddress`` would ignore it and
                # give another address: refused before asking.
                if not self._accepts("associateIpAddress", "ipaddress"):
                    raise self.error(operation, INVALID,
                                     "this CloudStack cannot acquire a given public IP "
                                     "(its associateIpAddress takes no ipaddress): leave the "
                                     "address out")
                params["ipaddress"] = address
            try:
                ip = self._job("associateIpAddress", zoneid=self.zone_id,
                               **params).get("ipaddress") or {}
            except JobFailed as failed:
                raise self._failed_create(operation, failed, "PublicIpAddress", "public IP",
                                          lambda i: self._job("disassociateIpAddress",
                                                              id=i)) from None
        ident = str(ip["id"])
        self._mark("PublicIpAddress", ident, what=f"public IP {ip.get('ipaddress')}",
                   undo=lambda: self._job("disassociateIpAddress", id=ident))
        with self._call(operation):
            return to_public_ip(self.cloud.name, self._ip(ident))

    def _ip(self, ip_id: str) -> dict[str, Any]:
        return self._get("listPublicIpAddresses", ip_id, "public IP")

    def release_public_ip(self, ip_id: str) -> None:
        with self._call(f"release public IP {ip_id}"):
            self._job("disassociateIpAddress", id=ip_id)
