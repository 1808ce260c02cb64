"""The deployment as a graph, for pictures: model -> boxes, nodes and edges (pure, no I/O).

The picture formats (:mod:`.topology_dot`, :mod:`.topology_mermaid`) draw this one graph, so
both show the same objects as the tree, in the tree's order (the orderings of
:mod:`.topology`): one box per cloud holding its instances outside any cluster, a box per
cluster, then its routers and networks; node ids (``n1``, ``n2``...) and box ids are
numbered in that order, so the same deployment always gives the same graph.

Text is made safe once, here: every control or line-separator character of a name becomes a
visible symbol, so that each label line is one printable line whatever a cloud calls its
objects; each format then escapes only its own syntax.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..model.objects import Cloud, Deployment, Instance, Network, Router
from ..model.printable import visible
from .topology import (
    EMPTY,
    Index,
    Placement,
    by_name,
    known_clouds_only,
    network_or_placeholder,
    placement,
    router_network_ids,
    sorted_clouds,
    unattached_networks,
)

# What a node is (each format gives each its shape).
ROUTER, NETWORK, EXTERNAL, INSTANCE, NOTE = "router", "network", "external", "instance", "note"
# What an edge is: a router's interface, its external gateway, an instance's port.
INTERFACE, GATEWAY, ATTACHMENT = "interface", "gateway", "attachment"
# Every picture's caption: what its dashed outlines mean.
LEGEND = "MiniCloud topology (dashed outline: not created by MiniCloud)"





@dataclass(frozen=True, slots=True)
class Item:
    """A node: its id, what it is, its label lines (made visible), and whether MiniCloud
    created it (foreign objects are drawn differently)."""

    id: str
    kind: str
    lines: tuple[str, ...]
    owned: bool = True


@dataclass(frozen=True, slots=True)
class Edge:
    """A link from a router or an instance (``source``) to a network (``target``)."""

    source: str
    target: str
    kind: str


@dataclass(slots=True)
class Box:
    """A frame around nodes: a cloud (holding its cluster boxes) or a cluster; ``parts`` are
    its nodes and inner boxes, in display order."""

    id: str
    lines: tuple[str, ...]
    parts: list[Item | Box] = field(default_factory=list)
    unreachable: bool = False

    def walk(self) -> Iterator[Item]:
        for part in self.parts:
            if isinstance(part, Box):
                yield from part.walk()
            else:
                yield part


@dataclass(slots=True)
class Graph:
    """Boxes (one per cloud), nodes outside any box (only the empty deployment's note), and
    the edges, each in display order."""

    boxes: list[Box] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def walk(self) -> Iterator[Item]:
        yield from self.items
        for box in self.boxes:
            yield from box.walk()


def _lines(*texts: str) -> tuple[str, ...]:
    return tuple(visible(text) for text in texts)


class _Builder:
    """Numbers the nodes and boxes as they come, and remembers each object's node id."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self.idx = Index(dep)
        self.where: Placement = placement(dep)
        self.node_ids: dict[tuple[str, tuple[str, str]], str] = {}
        self.nodes = 0
        self.boxes = 0
        self.edges: list[Edge] = []
        self.routers: dict[str, list[Router]] = defaultdict(list)
        for router in sorted(dep.routers, key=by_name):
            self.routers[router.cloud].append(router)

    def item(self, kind: str, key: tuple[str, str], lines: tuple[str, ...],
             owned: bool) -> Item:
        self.nodes += 1
        node_id = f"n{self.nodes}"
        self.node_ids[(kind, key)] = node_id
        return Item(node_id, kind, lines, owned)

    def box(self, lines: tuple[str, ...], unreachable: bool = False) -> Box:
        self.boxes += 1
        return Box(f"box{self.boxes}", lines, unreachable=unreachable)

    def network_id(self, net: Network) -> str | None:
        return self.node_ids.get((NETWORK, net.key))


def _instance_item(b: _Builder, inst: Instance) -> Item:
    lines = [inst.name, f"private {inst.private_ip or '-'}"]
    public = b.idx.public_ip.get(inst.key)
    if public:
        lines.append(f"public {public}")
    lines.append(inst.status)
    return b.item(INSTANCE, inst.key, _lines(*lines), inst.owned)


def _network_item(b: _Builder, net: Network) -> Item:
    lines = [net.name, ", ".join(net.cidrs) or "no subnet"]
    if net.external:
        first = net.subnets[0] if net.subnets else None
        lines.append(f"external, subnet {first.name}" if first and first.name else "external")
    # Networks share one id space whatever their kind, so edges find them by key.
    item = b.item(NETWORK, net.key, _lines(*lines), net.owned)
    return Item(item.id, EXTERNAL if net.external else NETWORK, item.lines, item.owned)


def _router_item(b: _Builder, router: Router) -> Item:
    lines = [router.name]
    if router.gateway_network_id:
        lines.append(f"gateway {b.idx.network_name(router.cloud, router.gateway_network_id)}")
    return b.item(ROUTER, router.key, _lines(*lines), router.owned)


def _cloud_lines(cloud: Cloud) -> tuple[str, ...]:
    lines = [f"Cloud: {cloud.name}", ", ".join(filter(None, [cloud.type, cloud.location]))]
    if not cloud.reachable:
        lines.append("unreachable: last known state")
    return _lines(*lines)


Placed = list[tuple[Item, Instance]]


def _compute(b: _Builder, cloud: Cloud, box: Box) -> Placed:
    """The cloud's instances outside any cluster, then one box per cluster (as the tree);
    returns each instance with its node, in that order."""
    placed: Placed = [(_instance_item(b, i), i) for i in b.where.members(cloud.name, None)]
    box.parts += [item for item, _ in placed]
    for name in b.where.clusters.get(cloud.name, []):
        inner = b.box(_lines(f"Cluster: {name}"))
        members = [(_instance_item(b, i), i) for i in b.where.members(cloud.name, name)]
        inner.parts += [item for item, _ in members]
        placed += members
        if not inner.parts:  # an empty frame is not drawn at all
            inner.parts.append(b.item(NOTE, (cloud.name, f"cluster:{name}"),
                                      ("no instances",), True))
        box.parts.append(inner)
    return placed


def _networks_in_order(b: _Builder, cloud: str) -> list[Network]:
    """Each network once, where the tree first shows it: under its routers (interfaces by
    name, gateway last), then the unattached ones, then those only an instance names."""
    found: dict[str, Network] = {}
    for router in b.routers.get(cloud, []):
        for network_id in router_network_ids(router, b.idx):
            found.setdefault(network_id, network_or_placeholder(cloud, network_id, b.idx))
    for net in unattached_networks(b.dep):
        if net.cloud == cloud:
            found.setdefault(net.id, net)
    for inst in b.dep.instances:
        for nic in inst.nics if inst.cloud == cloud else ():
            found.setdefault(nic.network_id, network_or_placeholder(cloud, nic.network_id, b.idx))
    return list(found.values())


def _networking(b: _Builder, cloud: Cloud, box: Box, placed: Placed) -> None:
    """Routers, networks, and the edges of the cloud's routers and instances."""
    routers = b.routers.get(cloud.name, [])
    box.parts += [_router_item(b, router) for router in routers]
    networks = _networks_in_order(b, cloud.name)
    box.parts += [_network_item(b, net) for net in networks]
    net_ids = {net.id: b.network_id(net) or "" for net in networks}
    for router in routers:
        source = b.node_ids[(ROUTER, router.key)]
        for network_id in router_network_ids(router, b.idx):
            kind = GATEWAY if network_id == router.gateway_network_id else INTERFACE
            b.edges.append(Edge(source, net_ids[network_id], kind))
    for item, inst in placed:
        for network_id in dict.fromkeys(nic.network_id for nic in inst.nics):
            b.edges.append(Edge(item.id, net_ids[network_id], ATTACHMENT))


def build_graph(dep: Deployment) -> Graph:
    """The graph of a deployment (only its clouds' objects, as the tree); with no cloud, one
    note saying so."""
    if not dep.clouds:
        return Graph(items=[Item("n1", NOTE, (EMPTY,))])
    b = _Builder(known_clouds_only(dep))
    graph = Graph()
    for cloud in sorted_clouds(b.dep):
        box = b.box(_cloud_lines(cloud), unreachable=not cloud.reachable)
        _networking(b, cloud, box, _compute(b, cloud, box))
        if not box.parts:
            box.parts.append(b.item(NOTE, (cloud.name, "cloud"), ("nothing yet",), True))
        graph.boxes.append(box)
    graph.edges = b.edges
    return graph
