"""CloudStack API objects (the JSON of its responses) -> MiniCloud's model objects.

Pure functions: no request is sent here.  Field names are those of CloudStack's response
classes (UserVmResponse, NicResponse, NetworkResponse, VpcResponse, IPAddressResponse,
SecurityGroupResponse, SSHKeyPairResponse, TemplateResponse, ServiceOfferingResponse,
VlanIpRangeResponse).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ...model.names import KEYPAIR_PREFIX
from ...model.objects import (
    Flavor,
    Image,
    Instance,
    KeyPair,
    Network,
    Nic,
    PublicIP,
    Router,
    SecurityGroup,
    SecurityRule,
    Subnet,
)
from ..base import CLUSTER_KEY
from .session import owned, tags_of

Item = Mapping[str, Any]
# Tag on a virtual machine: the groups MiniCloud gave it (advanced zones enforce none: their
# rules become firewall or ACL rules, see network.py).
GROUPS_TAG = "minicloud_groups"
PUBLIC_NAME = "public"  # the zone's public network, when CloudStack gives it no name


def cidr_of(item: Item) -> str | None:
    """A network's CIDR: its ``cidr``, else its gateway and netmask."""
    if item.get("cidr"):
        return str(item["cidr"])
    if item.get("gateway") and item.get("netmask"):
        net = ipaddress.ip_network(f"{item['gateway']}/{item['netmask']}", strict=False)
        return str(net)
    return None


def to_network(cloud: str, net: Item) -> Network:
    cidr = cidr_of(net)
    name = net.get("name") or ""
    subnets = [Subnet(id=str(net["id"]), name=f"{name}-subnet", cidr=cidr,
                      gateway_ip=net.get("gateway"))] if cidr else []
    return Network(cloud=cloud, id=str(net["id"]), name=name, owned=owned(net),
                   subnets=subnets)


def to_public_network(cloud: str, net: Item, ranges: Iterable[Item]) -> Network:
    """The zone's public network; its subnets are its public IP ranges (none for an account
    that may not list them: a regular user's)."""
    subnets = []
    for vlan in ranges:
        if vlan.get("networkid") not in (None, net["id"]):
            continue
        cidr = cidr_of(vlan)
        if cidr:
            subnets.append(Subnet(id=str(vlan["id"]), name=vlan.get("description") or "",
                                  cidr=cidr, gateway_ip=vlan.get("gateway")))
    return Network(cloud=cloud, id=str(net["id"]), name=net.get("name") or PUBLIC_NAME,
                   owned=False, subnets=subnets, external=True)


def to_router(cloud: str, vpc: Item, tiers: Iterable[Item],
              source_nats: Mapping[str, str]) -> Router:
    """A VPC: its tiers are its interfaces, the network of its source NAT its gateway."""
    ordered = sorted((t for t in tiers if t.get("vpcid") == vpc["id"]),
                     key=lambda t: t.get("created") or "")
    return Router(cloud=cloud, id=str(vpc["id"]), name=vpc.get("name") or "", owned=owned(vpc),
                  gateway_network_id=source_nats.get(str(vpc["id"])),
                  interface_network_ids=[str(t["id"]) for t in ordered])


def source_nats(ips: Iterable[Item]) -> dict[str, str]:
    """VPC id -> the public network its source NAT address is on."""
    return {str(ip["vpcid"]): str(ip.get("networkid") or "") for ip in ips
            if ip.get("issourcenat") and ip.get("vpcid")}


def groups_of(vm: Item) -> list[str]:
    tagged = [g for g in tags_of(vm).get(GROUPS_TAG, "").split(",") if g]
    native = [g.get("name", "") for g in vm.get("securitygroup") or []]
    return list(dict.fromkeys(g for g in [*native, *tagged] if g))


def to_instance(cloud: str, vm: Item, state: Callable[[str | None], str]) -> Instance:
    """A virtual machine; ``state`` is the driver's status map."""
    nics = sorted(vm.get("nic") or [], key=lambda n: not n.get("isdefault"))
    tags = tags_of(vm)
    return Instance(cloud=cloud, id=str(vm["id"]), name=vm.get("name") or "",
                    owned=owned(vm), image=vm.get("templatename") or "",
                    flavor=vm.get("serviceofferingname") or "",
                    cluster=tags.get(CLUSTER_KEY) or None,
                    nics=[Nic(network_id=str(n.get("networkid")), ip=n.get("ipaddress"),
                              port_id=n.get("id")) for n in nics],
                    security_groups=groups_of(vm), status=state(vm.get("state")),
                    key_name=key_of(vm))


def key_of(vm: Item) -> str | None:
    """The machine's (first) key pair: UserVmResponse's ``keypairs``, comma-separated, on
    current servers; ``keypair`` on those before 4.17."""
    names = str(vm.get("keypairs") or vm.get("keypair") or "")
    return next((n.strip() for n in names.split(",") if n.strip()), None)


def to_public_ip(cloud: str, ip: Item) -> PublicIP:
    """An acquired address.  It belongs to the VPC it was acquired for (``vpcid``), or to the
    isolated network whose virtual router holds it (``associatednetworkid``, when there is
    no ``vpcid``): static NAT works only towards that one's machines, hence ``router_id``."""
    holder = ip.get("vpcid") or ip.get("associatednetworkid")
    return PublicIP(cloud=cloud, id=str(ip["id"]), name=ip.get("ipaddress") or "",
                    owned=owned(ip), network_id=str(ip.get("networkid") or ""),
                    instance_id=ip.get("virtualmachineid") or None,
                    fixed_ip=ip.get("vmipaddress") or None,
                    router_id=str(holder) if holder else None)


def to_rule(rule: Item, direction: str) -> SecurityRule:
    """A rule as CloudStack keeps it: "all" with ports 0-0 (no ports), tcp/udp with both."""
    cidr = rule.get("cidr")
    protocol = str(rule.get("protocol") or "all").lower()
    ports = (None, None) if protocol == "all" else (_port(rule.get("startport")),
                                                    _port(rule.get("endport")))
    return SecurityRule(direction=direction, protocol=protocol, port_min=ports[0],
                        port_max=ports[1], ethertype="IPv6" if cidr and ":" in cidr else "IPv4",
                        remote_ip_prefix=cidr)


def as_stored(rule: SecurityRule) -> SecurityRule:
    """``rule`` as CloudStack stores it once authorised (SecurityGroupManagerImpl
    authorizeSecurityGroupRule): no protocol is "all" and has no ports; tcp/udp without ports
    is every port, 0-65535 (0-0 is stored so); one port is that port; no CIDR is the whole
    address family's.  Comparing stored forms finds a rule the group has already."""
    protocol = (rule.protocol or "all").lower()
    cidr = rule.remote_ip_prefix or ("::/0" if rule.ethertype == "IPv6" else "0.0.0.0/0")
    low, high = rule.port_min, rule.port_max
    if protocol == "all":
        low = high = None
    elif protocol in ("tcp", "udp"):
        if low is None and high is None:
            low, high = 0, 65535
        low = high if low is None else low
        high = low if high is None else high
        if low == 0 and high == 0:
            high = 65535
    return SecurityRule(rule.direction, protocol, low, high,
                        "IPv6" if ":" in cidr else "IPv4", cidr)


def _port(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


def to_security_group(cloud: str, group: Item) -> SecurityGroup:
    rules = [to_rule(r, "ingress") for r in group.get("ingressrule") or []]
    rules += [to_rule(r, "egress") for r in group.get("egressrule") or []]
    return SecurityGroup(cloud=cloud, id=str(group["id"]), name=group.get("name") or "",
                         owned=owned(group), rules=rules,
                         description=group.get("description") or "")


def to_keypair(cloud: str, pair: Item) -> KeyPair:
    name = str(pair.get("name") or "")
    return KeyPair(cloud=cloud, id=name, name=name, owned=name.startswith(KEYPAIR_PREFIX),
                   fingerprint=pair.get("fingerprint") or "")


def to_image(cloud: str, template: Item) -> Image:
    properties = {k: str(template[k]) for k in ("ostypename", "format", "hypervisor")
                  if template.get(k)}
    return Image(cloud=cloud, id=str(template["id"]), name=template.get("name") or "",
                 properties=properties)


def to_flavor(cloud: str, offering: Item) -> Flavor:
    return Flavor(cloud=cloud, id=str(offering["id"]), name=offering.get("name") or "",
                  vcpus=int(offering.get("cpunumber") or 0),
                  ram=int(offering.get("memory") or 0),
                  disk=int(offering.get("rootdisksize") or 0))
