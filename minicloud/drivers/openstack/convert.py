"""openstacksdk resources (or the API's JSON, see :class:`Body`) -> MiniCloud's model objects.

Pure functions: no request is sent here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
from ..base import CLUSTER_KEY, OWNER_TAG

ROUTER_INTERFACE_OWNERS = (
    "network:router_interface",
    "network:router_interface_distributed",
    "network:ha_router_replicated_interface",
)

# openstacksdk attribute names that differ from the API's JSON keys.
_ALIASES = {"is_router_external": "router:external"}


class Body:
    """A resource as the API sent it, read with openstacksdk's attribute names."""

    __slots__ = ("_body",)

    def __init__(self, body: dict[str, Any]):
        self._body = body

    def __getattr__(self, name: str) -> Any:
        return self._body.get(_ALIASES.get(name, name))


def group_by(items: Iterable[Any], attr: str) -> dict[str, list[Any]]:
    """Items by the value of one attribute (ports by device_id, subnets by network_id)."""
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(getattr(item, attr) or "", []).append(item)
    return groups


def tagged(resource: Any) -> bool:
    return OWNER_TAG in (getattr(resource, "tags", None) or [])


def in_creation_order(ports: Iterable[Any]) -> list[Any]:
    """Ports oldest first; the API's order breaks ties (created_at has second resolution)."""
    return sorted(ports, key=lambda p: p.created_at or "")


def first_ip(port: Any) -> str | None:
    for fixed in port.fixed_ips or []:
        if fixed.get("ip_address"):
            return str(fixed["ip_address"])
    return None


def to_subnet(subnet: Any) -> Subnet:
    return Subnet(id=subnet.id, name=subnet.name or "", cidr=subnet.cidr,
                  gateway_ip=subnet.gateway_ip)


def to_network(cloud: str, net: Any, subnets: Iterable[Any]) -> Network:
    return Network(cloud=cloud, id=net.id, name=net.name or "", owned=tagged(net),
                   subnets=[to_subnet(s) for s in subnets if s.network_id == net.id],
                   external=bool(net.is_router_external))


def to_router(cloud: str, router: Any, ports: Iterable[Any]) -> Router:
    gateway = router.external_gateway_info or {}
    interfaces = [p.network_id for p in in_creation_order(ports)
                  if p.device_id == router.id and p.device_owner in ROUTER_INTERFACE_OWNERS]
    return Router(cloud=cloud, id=router.id, name=router.name or "", owned=tagged(router),
                  gateway_network_id=gateway.get("network_id") or None,
                  interface_network_ids=list(dict.fromkeys(interfaces)))


def raw_ref(server: Any, field: str) -> dict[str, Any]:
    """``image`` or ``flavor`` of a server as Nova sent it.

    openstacksdk's typed ``server.image`` / ``server.flavor`` build a whole resource on every
    access (milliseconds each: seconds for a few hundred servers), so the raw body is read.
    """
    body = getattr(server, "_body", None)
    value = body.get(field) if body is not None else getattr(server, field, None)
    if isinstance(value, dict):
        return value
    as_dict = getattr(value, "to_dict", None)
    return as_dict() if callable(as_dict) else {}


def image_id_of(server: Any) -> str:
    return raw_ref(server, "image").get("id") or ""  # "" when booted from a volume


def flavor_id_of(server: Any) -> str:
    """The flavor id, or "" when Nova embeds the flavor (microversion 2.47+: no id)."""
    flavor = raw_ref(server, "flavor")
    return "" if flavor.get("original_name") else flavor.get("id") or ""


def to_instance(cloud: str, server: Any, ports: Iterable[Any], image_names: dict[str, str],
                 flavor_names: dict[str, str], state: Callable[[str | None], str]) -> Instance:
    """The server; ``state`` turns Nova's status into MiniCloud's (the driver's status map)."""
    metadata = server.metadata or {}
    nics = [Nic(network_id=p.network_id, ip=first_ip(p), port_id=p.id)
            for p in in_creation_order(ports) if p.device_id == server.id]
    groups = [g.get("name", "") for g in server.security_groups or []]
    image_id = image_id_of(server)
    flavor_name = raw_ref(server, "flavor").get("original_name")
    if not flavor_name:
        flavor_id = flavor_id_of(server)
        flavor_name = flavor_names.get(flavor_id, flavor_id)
    return Instance(cloud=cloud, id=server.id, name=server.name or "",
                    owned=metadata.get(OWNER_TAG) == "true",
                    image=image_names.get(image_id, image_id), flavor=flavor_name,
                    cluster=metadata.get(CLUSTER_KEY) or None, nics=nics,
                    security_groups=list(dict.fromkeys(g for g in groups if g)),
                    status=state(server.status), key_name=server.key_name or None)


def to_public_ip(cloud: str, fip: Any, ports_by_id: dict[str, Any]) -> PublicIP:
    instance_id = None
    if fip.port_id:
        port = ports_by_id.get(fip.port_id)
        details = getattr(fip, "port_details", None) or {}
        instance_id = (port.device_id if port is not None else details.get("device_id")) or None
    return PublicIP(cloud=cloud, id=fip.id, name=fip.floating_ip_address, owned=tagged(fip),
                    network_id=fip.floating_network_id, instance_id=instance_id,
                    port_id=fip.port_id or None, fixed_ip=fip.fixed_ip_address or None)


def to_rule(rule: dict[str, Any]) -> SecurityRule:
    return SecurityRule(direction=rule.get("direction") or "ingress",
                        protocol=rule.get("protocol"), port_min=rule.get("port_range_min"),
                        port_max=rule.get("port_range_max"),
                        ethertype=rule.get("ethertype") or "IPv4",
                        remote_ip_prefix=rule.get("remote_ip_prefix"))


def to_security_group(cloud: str, group: Any) -> SecurityGroup:
    return SecurityGroup(cloud=cloud, id=group.id, name=group.name or "", owned=tagged(group),
                         rules=[to_rule(r) for r in group.security_group_rules or []],
                         description=group.description or "")


def to_keypair(cloud: str, keypair: Any) -> KeyPair:
    return KeyPair(cloud=cloud, id=keypair.name, name=keypair.name,
                   owned=keypair.name.startswith(KEYPAIR_PREFIX),
                   fingerprint=keypair.fingerprint or "", public_key=keypair.public_key or "")


IMAGE_PROPERTIES = ("os_distro", "os_version", "os_admin_user", "architecture", "disk_format",
                    "min_disk", "min_ram", "status", "visibility")


def to_image(cloud: str, image: Any) -> Image:
    """The image with its useful properties (``os_admin_user`` names the SSH user)."""
    extra = getattr(image, "properties", None) or {}
    properties = {k: str(v) for k, v in extra.items() if isinstance(v, (str, int, float, bool))}
    for key in IMAGE_PROPERTIES:
        value = getattr(image, key, None)
        if value not in (None, ""):
            properties[key] = str(value)
    return Image(cloud=cloud, id=image.id, name=image.name or image.id, properties=properties)


def to_flavor(cloud: str, flavor: Any) -> Flavor:
    return Flavor(cloud=cloud, id=flavor.id, name=flavor.name or flavor.id,
                  vcpus=flavor.vcpus or 0, ram=flavor.ram or 0, disk=flavor.disk or 0)
