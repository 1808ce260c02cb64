"""The fake's Neutron: networks, subnets, routers, ports, floating IPs, security groups, tags."""

from __future__ import annotations

import copy
import ipaddress
import uuid
from typing import Any

from tests.drivers.fake_common import (
    EXTENSIONS,
    NETWORK,
    ROUTER_INTERFACE,
    Ctx,
    FakeError,
    Reply,
    utc_now,
)

# Neutron collections: URL name -> (singular body key, attribute holding the dict).
NEUTRON = {
    "networks": ("network", "networks"),
    "subnets": ("subnet", "subnets"),
    "routers": ("router", "routers"),
    "ports": ("port", "ports"),
    "floatingips": ("floatingip", "floating_ips"),
    "security-groups": ("security_group", "security_groups"),
    "security-group-rules": ("security_group_rule", "security_group_rules"),
}


def same_value(value: Any, wanted: str) -> bool:
    """Neutron's query filters: strings compare as given, booleans as true/false."""
    if value is None:
        return wanted == ""
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    return str(value) == wanted


def new_mac() -> str:
    raw = uuid.uuid4().bytes[:3]
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in raw)


class FakeNeutron:
    """Neutron's handlers; the state they serve lives on the fake (FakeOpenStack)."""

    # -- Neutron -------------------------------------------------------------------------------

    def _network_versions(self, ctx: Ctx) -> Reply:
        return 200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
            {"rel": "self", "href": f"{NETWORK}/v2.0/"}]}]}, {}

    def _extensions(self, ctx: Ctx) -> Reply:
        return 200, {"extensions": [{"alias": a, "name": a, "description": a, "links": [],
                                     "updated": "2013-01-01T00:00:00-00:00"}
                                    for a in EXTENSIONS]}, {}

    def _collection(self, name: str) -> tuple[str, dict[str, dict[str, Any]]]:
        if name not in NEUTRON:
            raise FakeError(404, f"The resource could not be found: {name}", "HTTPNotFound")
        key, attr = NEUTRON[name]
        return key, getattr(self, attr)

    def _find(self, name: str, ident: str) -> dict[str, Any]:
        key, items = self._collection(name)
        if ident not in items:
            kind = key.replace("_", " ").title().replace(" ", "")
            raise FakeError(404, f"{kind} {ident} could not be found.", f"{kind}NotFound")
        return items[ident]

    def _view(self, name: str, item: dict[str, Any]) -> dict[str, Any]:
        view = copy.deepcopy(item)
        if name == "floatingips":
            port = self.ports.get(item["port_id"] or "")
            view["port_details"] = None if port is None else {
                "name": port["name"], "network_id": port["network_id"],
                "mac_address": port["mac_address"], "admin_state_up": True,
                "status": port["status"], "device_id": port["device_id"],
                "device_owner": port["device_owner"]}
        return view

    def _neutron_list(self, ctx: Ctx, name: str) -> Reply:
        _, items = self._collection(name)
        found = []
        for item in items.values():
            if all(same_value(item.get(k), v) for k, v in ctx.query.items()
                   if k in item and k != "tags"):
                found.append(self._view(name, item))
        if "tags" in ctx.query:
            wanted = set(ctx.query["tags"].split(","))
            found = [i for i in found if wanted <= set(i.get("tags", []))]
        return 200, {name.replace("-", "_"): found}, {}

    def _neutron_show(self, ctx: Ctx, name: str, ident: str) -> Reply:
        key, _ = self._collection(name)
        return 200, {key: self._view(name, self._find(name, ident))}, {}

    def _neutron_create(self, ctx: Ctx, name: str) -> Reply:
        key, _ = self._collection(name)
        body = (ctx.body or {}).get(key)
        if not isinstance(body, dict):
            raise FakeError(400, f"Resource body required: {key}", "HTTPBadRequest")
        if "tags" in body and not self.tags_on_create:
            raise FakeError(400, "Unrecognized attribute(s) 'tags'", "HTTPBadRequest")
        tags = body.get("tags") or []
        if name == "networks":
            item = self.add_network(body.get("name", ""), body.get("router:external", False),
                                    tags)
        elif name == "subnets":
            item = self.add_subnet(body.get("network_id", ""), body.get("name", ""),
                                   body.get("cidr", ""), body.get("gateway_ip", ""), tags,
                                   body.get("ip_version"))
        elif name == "routers":
            item = self._base(name=body.get("name", ""), status="ACTIVE", admin_state_up=True,
                              external_gateway_info=None, routes=[],
                              availability_zone_hints=[], availability_zones=["nova"],
                              flavor_id=None)
            item["tags"] = list(tags)
            self._set_gateway(item, body.get("external_gateway_info"))
            self.routers[item["id"]] = item
        elif name == "ports":
            item = self._create_port(body)
        elif name == "floatingips":
            item = self._create_floating_ip(body)
        elif name == "security-groups":
            item = self.add_security_group(body.get("name", ""), body.get("description", ""),
                                           tags)
        else:
            item = self.add_rule(body)
        return 201, {key: self._view(name, item)}, {}

    def _neutron_update(self, ctx: Ctx, name: str, ident: str) -> Reply:
        key, _ = self._collection(name)
        item = self._find(name, ident)
        body = (ctx.body or {}).get(key) or {}
        if name == "routers" and "external_gateway_info" in body:
            self._set_gateway(item, body.pop("external_gateway_info"))
        if name == "floatingips" and "port_id" in body:
            self._associate(item, body.pop("port_id"), body.pop("fixed_ip_address", None))
        if name == "ports" and "security_groups" in body:
            for group in body["security_groups"]:
                self._find("security-groups", group)
        for field in ("name", "description", "admin_state_up", "security_groups"):
            if field in body:
                item[field] = body[field]
        item["updated_at"] = utc_now()
        item["revision_number"] = item.get("revision_number", 0) + 1
        return 200, {key: self._view(name, item)}, {}

    def _neutron_delete(self, ctx: Ctx, name: str, ident: str) -> Reply:
        item = self._find(name, ident)
        if name == "networks":
            if any(p["network_id"] == ident for p in self.ports.values()) or any(
                    f["floating_network_id"] == ident for f in self.floating_ips.values()) or \
                    any((r["external_gateway_info"] or {}).get("network_id") == ident
                        for r in self.routers.values()):
                raise FakeError(409, f"Unable to complete operation on network {ident}. There "
                                     "are one or more ports still in use on the network.",
                                "NetworkInUse")
            for subnet_id in item["subnets"]:
                del self.subnets[subnet_id]
            del self.networks[ident]
        elif name == "subnets":
            if any(f["subnet_id"] == ident for p in self.ports.values()
                   for f in p["fixed_ips"]):
                raise FakeError(409, f"Unable to complete operation on subnet {ident}: One or "
                                     "more ports have an IP allocation from this subnet.",
                                "SubnetInUse")
            self.networks[item["network_id"]]["subnets"].remove(ident)
            del self.subnets[ident]
        elif name == "routers":
            if any(p["device_id"] == ident for p in self.ports.values()):
                raise FakeError(409, f"Router {ident} still has ports", "RouterInUse")
            del self.routers[ident]
        elif name == "ports":
            if item["device_owner"] == ROUTER_INTERFACE:
                raise FakeError(409, f"Port {ident} cannot be deleted directly via the port "
                                     "API: has device owner network:router_interface.",
                                "ServicePortInUse")
            self._remove_port(ident)
        elif name == "floatingips":
            del self.floating_ips[ident]
        elif name == "security-groups":
            if item["name"] == "default":
                raise FakeError(409, "Insufficient rights for removing default security "
                                     "group.", "SecurityGroupCannotRemoveDefault")
            if any(ident in p["security_groups"] for p in self.ports.values()):
                raise FakeError(409, f"Security Group {ident} in use.", "SecurityGroupInUse")
            for rule in item["security_group_rules"]:
                del self.security_group_rules[rule["id"]]
            del self.security_groups[ident]
        else:
            group = self.security_groups[item["security_group_id"]]
            group["security_group_rules"] = [r for r in group["security_group_rules"]
                                             if r["id"] != ident]
            del self.security_group_rules[ident]
        return 204, None, {}

    # tags -------------------------------------------------------------------------------------

    def _get_tags(self, ctx: Ctx, name: str, ident: str) -> Reply:
        return 200, {"tags": list(self._find(name, ident)["tags"])}, {}

    def _put_tags(self, ctx: Ctx, name: str, ident: str) -> Reply:
        item = self._find(name, ident)
        item["tags"] = list(dict.fromkeys((ctx.body or {}).get("tags") or []))
        return 200, {"tags": list(item["tags"])}, {}

    def _add_tag(self, ctx: Ctx, name: str, ident: str, tag: str) -> Reply:
        item = self._find(name, ident)
        if tag not in item["tags"]:
            item["tags"].append(tag)
        return 201, None, {}

    def _delete_tag(self, ctx: Ctx, name: str, ident: str, tag: str) -> Reply:
        item = self._find(name, ident)
        if tag not in item["tags"]:
            raise FakeError(404, f"Tag {tag} could not be found.", "TagNotFound")
        item["tags"].remove(tag)
        return 204, None, {}

    # addresses, ports, routers, floating IPs ---------------------------------------------------

    def _used_ips(self, subnet_id: str) -> set[str]:
        used = {f["ip_address"] for p in self.ports.values() for f in p["fixed_ips"]
                if f["subnet_id"] == subnet_id}
        used |= {f["floating_ip_address"] for f in self.floating_ips.values()}
        for router in self.routers.values():
            for fixed in (router["external_gateway_info"] or {}).get("external_fixed_ips", []):
                used.add(fixed["ip_address"])
        return used

    def _allocate(self, network_id: str, wanted: str | None = None, subnet_id: str | None = None,
                  gateway_ok: bool = False) -> dict[str, str]:
        """A fixed IP on the network: ``wanted`` if free (else 409 in use, 400 not an address
        of its subnets, as Neutron answers), or when nothing was asked the lowest free host
        after .1."""
        subnets = [self.subnets[s] for s in self.networks[network_id]["subnets"]
                   if subnet_id in (None, s)]
        if not subnets:
            raise FakeError(400, f"Network {network_id} has no subnet {subnet_id or ''}",
                            "BadRequest")
        if wanted:
            for subnet in subnets:
                cidr = ipaddress.ip_network(subnet["cidr"])
                try:
                    addr = ipaddress.ip_address(wanted)
                except ValueError:
                    addr = None
                # Neutron gives only hosts: the network address (and v4 broadcast) is invalid.
                inside = addr is not None and addr in cidr and addr != cidr.network_address \
                    and not (cidr.version == 4 and addr == cidr.broadcast_address)
                if not inside:
                    continue
                taken = wanted in self._used_ips(subnet["id"]) or (
                    wanted == subnet["gateway_ip"] and not gateway_ok)
                if not taken:
                    return {"subnet_id": subnet["id"], "ip_address": wanted}
                raise FakeError(409, f"IP address {wanted} already allocated in subnet "
                                     f"{subnet['id']}", "IpAddressAlreadyAllocated")
            raise FakeError(400, f"Invalid input for operation: IP address {wanted} is "
                                 "not a valid IP for the specified subnet.", "InvalidInput")
        for subnet in subnets:
            net = ipaddress.ip_network(subnet["cidr"])
            used = self._used_ips(subnet["id"]) | {subnet["gateway_ip"]}
            for host in net.hosts():
                if int(host) - int(net.network_address) >= 2 and str(host) not in used:
                    return {"subnet_id": subnet["id"], "ip_address": str(host)}
        raise FakeError(409, f"No more IP addresses available on network {network_id}.",
                        "IpAddressGenerationFailure")

    def _create_port(self, body: dict[str, Any]) -> dict[str, Any]:
        network_id = body.get("network_id") or ""
        if network_id not in self.networks:
            raise FakeError(404, f"Network {network_id} could not be found.", "NetworkNotFound")
        gateway_ok = body.get("device_owner") == ROUTER_INTERFACE
        fixed_ips = []
        for wanted in body.get("fixed_ips") or [{}]:
            fixed_ips.append(self._allocate(network_id, wanted.get("ip_address"),
                                            wanted.get("subnet_id"), gateway_ok))
        groups = body.get("security_groups")
        if groups is None:
            groups = [g["id"] for g in self.security_groups.values() if g["name"] == "default"]
        for group in groups:
            self._find("security-groups", group)
        port = self._base(name=body.get("name", ""), network_id=network_id,
                          mac_address=new_mac(), fixed_ips=fixed_ips,
                          device_id=body.get("device_id", ""),
                          device_owner=body.get("device_owner", ""),
                          status="ACTIVE", admin_state_up=True, security_groups=list(groups),
                          allowed_address_pairs=[], extra_dhcp_opts=[],
                          port_security_enabled=True, dns_name="", dns_assignment=[])
        port["binding:vnic_type"] = "normal"
        port["tags"] = list(body.get("tags") or [])
        self.ports[port["id"]] = port
        return port

    def _remove_port(self, port_id: str) -> None:
        for fip in self.floating_ips.values():
            if fip["port_id"] == port_id:
                fip.update(port_id=None, fixed_ip_address=None, router_id=None, status="DOWN")
        del self.ports[port_id]

    def _set_gateway(self, router: dict[str, Any], info: dict[str, Any] | None) -> None:
        if not info or not info.get("network_id"):
            if any(f["router_id"] == router["id"] for f in self.floating_ips.values()):
                raise FakeError(409, f"Gateway cannot be updated for router {router['id']}, "
                                     "since a gateway to external network is required by one "
                                     "or more floating IPs.",
                                "RouterExternalGatewayInUseByFloatingIp")
            router["external_gateway_info"] = None
            return
        network = self.networks.get(info["network_id"])
        if network is None:
            raise FakeError(404, f"Network {info['network_id']} could not be found.",
                            "NetworkNotFound")
        if not network["router:external"]:
            raise FakeError(400, f"Bad router request: Network {network['id']} is not a valid "
                                 "external network.", "BadRequest")
        current = router["external_gateway_info"] or {}
        if current.get("network_id") == network["id"]:
            return
        router["external_gateway_info"] = None
        fixed = self._allocate(network["id"])
        router["external_gateway_info"] = {"network_id": network["id"], "enable_snat": True,
                                           "external_fixed_ips": [fixed]}

    def _router_interface(self, ctx: Ctx, router_id: str, action: str) -> Reply:
        router = self._find("routers", router_id)
        body = ctx.body or {}
        if action == "add":
            if body.get("port_id"):
                port = self._find("ports", body["port_id"])
                if port["device_id"]:
                    raise FakeError(409, f"Port {port['id']} is in use", "PortInUse")
                port.update(device_id=router_id, device_owner=ROUTER_INTERFACE)
            else:
                subnet = self._find("subnets", body.get("subnet_id", ""))
                for port in self.ports.values():
                    if port["device_id"] == router_id and any(
                            f["subnet_id"] == subnet["id"] for f in port["fixed_ips"]):
                        raise FakeError(400, f"Bad router request: Router already has a port "
                                             f"on subnet {subnet['id']}.", "BadRequest")
                if not subnet["gateway_ip"]:
                    raise FakeError(400, f"Bad router request: Subnet {subnet['id']} does not "
                                         "have a gateway IP.", "BadRequest")
                if subnet["gateway_ip"] in self._used_ips(subnet["id"]):
                    raise FakeError(409, f"IP address {subnet['gateway_ip']} already allocated "
                                         f"in subnet {subnet['id']}", "IpAddressAlreadyAllocated")
                port = self._create_port({
                    "network_id": subnet["network_id"], "device_id": router_id,
                    "device_owner": ROUTER_INTERFACE, "security_groups": [],
                    "fixed_ips": [{"subnet_id": subnet["id"],
                                   "ip_address": subnet["gateway_ip"]}]})
        else:
            port = None
            for candidate in self.ports.values():
                if candidate["device_id"] != router_id:
                    continue
                if candidate["id"] == body.get("port_id") or any(
                        f["subnet_id"] == body.get("subnet_id") for f in candidate["fixed_ips"]):
                    port = candidate
                    break
            if port is None:
                raise FakeError(404, f"Router {router_id} does not have an interface with id "
                                     f"{body.get('port_id') or body.get('subnet_id')}",
                                "RouterInterfaceNotFound")
            if any(f["router_id"] == router_id and self.ports.get(f["port_id"] or "", {})
                   .get("network_id") == port["network_id"] for f in self.floating_ips.values()):
                raise FakeError(409, f"Router interface for subnet on router {router_id} cannot "
                                     "be deleted, as it is required by one or more floating "
                                     "IPs.", "RouterInterfaceInUseByFloatingIP")
            del self.ports[port["id"]]
        subnet_ids = [f["subnet_id"] for f in port["fixed_ips"]]
        return 200, {"id": router["id"], "tenant_id": self.project_id,
                     "project_id": self.project_id, "port_id": port["id"],
                     "network_id": port["network_id"], "subnet_id": subnet_ids[0],
                     "subnet_ids": subnet_ids}, {}

    def _create_floating_ip(self, body: dict[str, Any]) -> dict[str, Any]:
        network = self.networks.get(body.get("floating_network_id") or "")
        if network is None:
            raise FakeError(404, f"Network {body.get('floating_network_id')} could not be "
                                 "found.", "NetworkNotFound")
        if not network["router:external"]:
            raise FakeError(400, f"Bad floatingip request: Network {network['id']} is not a "
                                 "valid external network.", "BadRequest")
        if len(self.floating_ips) >= self.quotas["floatingip"]:
            raise FakeError(409, "Quota exceeded for resources: ['floatingip'].", "OverQuota")
        fixed = self._allocate(network["id"], body.get("floating_ip_address"))
        fip = self._base(floating_ip_address=fixed["ip_address"],
                         floating_network_id=network["id"], router_id=None, port_id=None,
                         fixed_ip_address=None, status="DOWN", port_forwardings=[],
                         qos_policy_id=None, dns_domain="", dns_name="")
        fip["description"] = body.get("description") or ""
        fip["tags"] = list(body.get("tags") or [])
        self.floating_ips[fip["id"]] = fip
        if body.get("port_id"):
            self._associate(fip, body["port_id"], body.get("fixed_ip_address"))
        return fip

    def _associate(self, fip: dict[str, Any], port_id: str | None,
                   fixed_ip: str | None) -> None:
        if not port_id:
            fip.update(port_id=None, fixed_ip_address=None, router_id=None, status="DOWN")
            return
        port = self._find("ports", port_id)
        if fixed_ip is None:
            v4 = [f for f in port["fixed_ips"]
                  if ipaddress.ip_address(f["ip_address"]).version == 4]
            if not v4:
                raise FakeError(400, f"Bad floatingip request: Port {port_id} does not have "
                                     "any IPv4 address.", "BadRequest")
            fixed = v4[0]
        else:
            fixed = next((f for f in port["fixed_ips"] if f["ip_address"] == fixed_ip), None)
            if fixed is None:
                raise FakeError(400, f"Bad floatingip request: Port {port_id} does not have "
                                     f"fixed ip {fixed_ip}.", "BadRequest")
        router_id = self._router_for(fip["floating_network_id"], fixed["subnet_id"])
        if router_id is None:
            raise FakeError(404, f"External network {fip['floating_network_id']} is not "
                                 f"reachable from subnet {fixed['subnet_id']}.  Therefore, "
                                 f"cannot associate Port {port_id} with a Floating IP.",
                            "ExternalGatewayForFloatingIPNotFound")
        for other in self.floating_ips.values():
            if other["id"] != fip["id"] and other["port_id"] == port_id and \
                    other["fixed_ip_address"] == fixed["ip_address"]:
                raise FakeError(409, f"Cannot associate floating IP {fip['floating_ip_address']}"
                                     f" with port {port_id} using fixed IP "
                                     f"{fixed['ip_address']}, as that fixed IP already has a "
                                     "floating IP on external network.",
                                "FloatingIPPortAlreadyAssociated")
        fip.update(port_id=port_id, fixed_ip_address=fixed["ip_address"], router_id=router_id,
                   status="ACTIVE")

    def _router_for(self, external_network_id: str, subnet_id: str) -> str | None:
        for router in self.routers.values():
            if (router["external_gateway_info"] or {}).get("network_id") != external_network_id:
                continue
            for port in self.ports.values():
                if port["device_id"] == router["id"] and any(
                        f["subnet_id"] == subnet_id for f in port["fixed_ips"]):
                    return router["id"]
        return None
