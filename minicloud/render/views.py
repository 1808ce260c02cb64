"""Model -> plain dicts for ``--json`` output (pure functions, no I/O).

The shapes are a documented interface (README.md, "One-shot commands"); keep them stable:
add keys if needed, never rename or remove one.

- cloud: ``name, type, location, reachable, clusters, instances`` where ``clusters`` is a list
  of ``{name, instances}`` and ``instances`` holds the cloud's instances outside any cluster;
- instance: ``name, cloud, cluster, id, status, image, flavor, private_ip, network, networks,
  security_groups, public_ip`` (``network``: the primary network's name);
- router: ``name, cloud, id, gateway, networks, owned`` (``gateway``: the external network's
  name or null; ``networks``: the names of the networks attached to it, gateway excluded);
- network: ``name, cloud, id, cidrs, external, subnet, routers, instances, owned``
  (``subnet``: the first subnet's name or null; ``routers``: the names of the routers attached
  to it or using it as their gateway; ``instances``: how many instances it carries);
- topology: ``{"clouds": [cloud...], "routers": [router...], "networks": [network...]}``.

Orders follow the topology tree: clouds, clusters, routers and networks by name; instances by
private IP (as addresses), then name.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..model.objects import (
    Cloud,
    Cluster,
    Deployment,
    Flavor,
    Image,
    Instance,
    Network,
    PublicIP,
    Router,
    SecurityGroup,
    ip_sort_key,
)
from .topology import Placement, by_cloud, instance_counts, placement, public_ip_by_instance

Key = tuple[str, str]
Dict = dict[str, Any]


def _instance_order(inst: Instance) -> tuple[Any, ...]:
    return (ip_sort_key(inst.private_ip), inst.name, inst.cloud, inst.id)


def _name_order(obj: Any) -> tuple[str, str, str]:
    return (obj.name, obj.key[0], obj.key[1])


class Views:
    """Dict views of one deployment; lookups are indexed once, at construction."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self.networks: dict[Key, Network] = {n.key: n for n in dep.networks}
        self.instances: dict[Key, Instance] = {i.key: i for i in dep.instances}
        self.public_ip = public_ip_by_instance(dep)
        self.instance_count = instance_counts(dep)
        self.routers_of: dict[Key, list[str]] = defaultdict(list)
        for router in sorted(dep.routers, key=_name_order):
            ids = list(router.interface_network_ids)
            if router.gateway_network_id and router.gateway_network_id not in ids:
                ids.append(router.gateway_network_id)
            for network_id in ids:
                self.routers_of[(router.cloud, network_id)].append(router.name)
        self.clusters: dict[str, list[str]] = defaultdict(list)
        for cluster in dep.clusters:
            self.clusters[cluster.cloud].append(cluster.name)
        self._placement: Placement | None = None

    def network_name(self, cloud: str, network_id: str | None) -> str | None:
        if network_id is None:
            return None
        net = self.networks.get((cloud, network_id))
        return net.name if net is not None else network_id

    # -- one object ----------------------------------------------------------------------------

    def instance(self, inst: Instance) -> Dict:
        nics = inst.nics
        cloud = inst.cloud
        names = [self.network_name(cloud, n.network_id) for n in nics]
        return {
            "name": inst.name,
            "cloud": cloud,
            "cluster": inst.cluster,
            "id": inst.id,
            "status": inst.status,
            "image": inst.image,
            "flavor": inst.flavor,
            "private_ip": nics[0].ip if nics else None,
            "network": names[0] if names else None,
            "networks": names,
            "security_groups": list(inst.security_groups),
            "public_ip": self.public_ip.get((cloud, inst.id)),
        }

    def _members(self, cloud: str, cluster: str | None) -> list[Dict]:
        if self._placement is None:  # grouped and sorted once, as the tree does
            self._placement = placement(self.dep)
        return [self.instance(i) for i in self._placement.members(cloud, cluster)]

    def cluster(self, cluster: Cluster) -> Dict:
        return {"name": cluster.name, "cloud": cluster.cloud,
                "instances": self._members(cluster.cloud, cluster.name)}

    def cloud(self, cloud: Cloud) -> Dict:
        return {**cloud_head(cloud), **self._placed(cloud.name)}

    def _placed(self, cloud: str) -> Dict:
        return {"clusters": [{"name": name, "instances": self._members(cloud, name)}
                             for name in sorted(self.clusters.get(cloud, ()))],
                "instances": self._members(cloud, None)}

    def router(self, router: Router) -> Dict:
        gateway = router.gateway_network_id
        return {
            "name": router.name,
            "cloud": router.cloud,
            "id": router.id,
            "gateway": self.network_name(router.cloud, gateway),
            "networks": [self.network_name(router.cloud, nid)
                         for nid in router.interface_network_ids if nid != gateway],
            "owned": router.owned,
        }

    def network(self, net: Network) -> Dict:
        first = net.subnets[0] if net.subnets else None
        return {
            "name": net.name,
            "cloud": net.cloud,
            "id": net.id,
            "cidrs": list(net.cidrs),
            "external": net.external,
            "subnet": (first.name or None) if first is not None else None,
            "routers": list(self.routers_of.get(net.key, ())),
            "instances": self.instance_count.get(net.key, 0),
            "owned": net.owned,
        }

    def public_ip_view(self, pip: PublicIP) -> Dict:
        inst = self.instances.get((pip.cloud, pip.instance_id or ""))
        return {
            "address": pip.name,
            "cloud": pip.cloud,
            "id": pip.id,
            "network": self.network_name(pip.cloud, pip.network_id or None),
            "instance": inst.name if inst is not None else pip.instance_id,
            "fixed_ip": pip.fixed_ip,
            "owned": pip.owned,
        }

    # -- the whole deployment ------------------------------------------------------------------

    def topology(self) -> Dict:
        """Everything the tree shows, for the deployment's clouds only."""
        parts = {name: cloud_part(part) for name, part in by_cloud(self.dep).items()}
        return assemble(self.dep.clouds, parts)


def cloud_head(cloud: Cloud) -> Dict:
    """What the view says of a cloud itself (from its own row)."""
    return {"name": cloud.name, "type": cloud.type, "location": cloud.location,
            "reachable": cloud.reachable, "synced_at": cloud.synced_at, "drift": cloud.drift}


# A cloud's part of the topology view depends on that cloud's rows alone, as the tree's does
# (topology.cloud_parts): it is saved and used again while the cloud's generation stays.
JsonParts = dict[str, list[Dict]]


def cloud_part(dep: Deployment) -> JsonParts:
    """One cloud's clusters, instances, routers and networks; ``dep`` holds that cloud alone."""
    views = Views(dep)
    cloud = dep.clouds[0].name
    return {**views._placed(cloud),
            "routers": [views.router(r) for r in sorted(dep.routers, key=_name_order)],
            "networks": [views.network(n) for n in sorted(dep.networks, key=_name_order)]}


def _view_order(view: Dict) -> tuple[str, str, str]:
    return (view["name"], view["cloud"], view["id"])  # as _name_order, on the views


def assemble(clouds: list[Cloud], parts: dict[str, JsonParts]) -> Dict:
    """The topology view from each cloud's part."""
    ordered = sorted(clouds, key=lambda c: c.name)
    return {
        "clouds": [{**cloud_head(c), "clusters": parts[c.name]["clusters"],
                    "instances": parts[c.name]["instances"]} for c in ordered],
        "routers": sorted((r for c in ordered for r in parts[c.name]["routers"]),
                          key=_view_order),
        "networks": sorted((n for c in ordered for n in parts[c.name]["networks"]),
                           key=_view_order),
    }


# -- objects that need no lookups -----------------------------------------------------------


def security_group_view(group: SecurityGroup) -> Dict:
    return {
        "name": group.name,
        "cloud": group.cloud,
        "id": group.id,
        "description": group.description,
        "rules": [{"direction": r.direction, "protocol": r.protocol, "port_min": r.port_min,
                   "port_max": r.port_max, "ethertype": r.ethertype,
                   "remote_ip_prefix": r.remote_ip_prefix} for r in group.rules],
        "owned": group.owned,
    }


def image_view(image: Image) -> Dict:
    return {"name": image.name, "cloud": image.cloud, "id": image.id,
            "properties": dict(image.properties)}


def flavor_view(flavor: Flavor) -> Dict:
    return {"name": flavor.name, "cloud": flavor.cloud, "id": flavor.id,
            "vcpus": flavor.vcpus, "ram": flavor.ram, "disk": flavor.disk}


def topology_view(dep: Deployment) -> Dict:
    """``{"clouds": [...], "routers": [...], "networks": [...]}`` (see the module docstring)."""
    return Views(dep).topology()
