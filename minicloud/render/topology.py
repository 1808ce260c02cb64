"""The deployment topology tree: model -> lines of text (pure functions, no I/O).

The tree is built in steps so that the layout rules live in one place:

1. each cloud's part (:func:`cloud_parts`): its nodes under ``Compute`` and under
   ``Networking`` (:class:`Node`: a label and its children, already in display order), laid
   out by :func:`laid_out` relative to an empty prefix;
2. :func:`assemble` hangs the parts under their cloud lines; :func:`layout` lays any such tree
   out with the prefix/spacer rules of DESIGN.md section 4, a laid-out part by putting its
   prefix in front of each of its lines.

A part depends on its cloud's rows alone, so it can be saved and used again while the cloud is
unchanged (saved_views.py).  Everything the labels need (networks by key, public IPs by
instance, instance counts by network) is indexed in one pass over a cloud, so rendering is
linear in the number of objects (plus the sorts).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from ..model.objects import Cloud, Deployment, Instance, Network, Router, ip_sort_key
from ..model.printable import printable

# Said by every format with no clouds; a front end adds how to add one, in its own words.
EMPTY = "Nothing to show yet: no clouds."

ROOT_LABEL = "MiniCloud"
MARGIN = " " * 6
BRANCH = "+---"
BAR = "|"
# What a child prefix gains below a node: a bar when later siblings follow, else blanks.
CONTINUED = "|   "
CLOSED = "    "

Key = tuple[str, str]


@dataclass(slots=True)
class Node:
    """One line of the tree: its label and the nodes hanging below it, in display order, or
    (``laid``) the lines of those nodes laid out already, relative to the node's child prefix
    (a cloud's part of the tree, see :func:`cloud_parts`)."""

    label: str
    children: list[Node] = field(default_factory=list)
    laid: list[str] | None = None


def layout(root: Node) -> list[str]:
    """Lay a tree out: root at the margin, children with ``+---``, spacers as DESIGN.md says.

    - A child line is its parent's child prefix, ``+---``, then its label.
    - A node's child prefix is the prefix its own line started with plus ``|   `` when later
      siblings follow it, or four spaces when it is the last child; the root's is the margin.
    - A spacer (child prefix + ``|``) comes between a node and its first child, and after a
      child that has children of its own when a sibling follows it; nowhere else.
    - No line ends with a space.
    """
    lines = [(MARGIN + printable(root.label)).rstrip()]
    _layout_children(root.children, MARGIN, lines)
    return lines


def _layout_children(children: list[Node], prefix: str, out: list[str]) -> None:
    if not children:
        return
    spacer = prefix + BAR
    head = prefix + BRANCH
    out.append(spacer)
    last = len(children) - 1
    for i, child in enumerate(children):
        # Labels hold the clouds' own text (foreign names, statuses): escaped here, once.
        label = child.label
        if not label.isprintable():
            label = printable(label)
        out.append((head + label).rstrip())
        inner = prefix + (CLOSED if i == last else CONTINUED)
        if child.laid is not None:
            # Laid out below an empty prefix: each line is the same with this one in front.
            out.extend([inner + line for line in child.laid])
        elif child.children:
            _layout_children(child.children, inner, out)
        else:
            continue
        if i != last and (child.children or child.laid):
            out.append(spacer)


def laid_out(nodes: list[Node]) -> list[str]:
    """The lines of ``nodes`` as the children of a node whose child prefix is empty."""
    out: list[str] = []
    _layout_children(nodes, "", out)
    return out


def render(dep: Deployment) -> list[str]:
    """The lines of the topology tree (no newline characters); ``[EMPTY]`` with no clouds."""
    parts = {name: cloud_parts(part) for name, part in by_cloud(dep).items()}
    return assemble(dep.clouds, parts)


def render_text(dep: Deployment) -> str:
    """The tree as text, each line ending with a newline."""
    return "\n".join(render(dep)) + "\n"


# --- building the tree ---------------------------------------------------------------------


def _plural(n: int) -> str:
    return f"{n} instance" if n == 1 else f"{n} instances"


def by_name(obj: Router | Network) -> tuple[str, str, str]:
    return (obj.name, obj.cloud, obj.id)


def public_ip_by_instance(dep: Deployment) -> dict[Key, str]:
    """The public address of each instance, by the instance's ``(cloud, id)``."""
    found: dict[Key, str] = {}
    for pip in dep.public_ips:
        if pip.instance_id is None:
            continue
        key = (pip.cloud, pip.instance_id)
        known = found.get(key)
        # Several addresses on one instance: show the lowest, so the tree is stable.
        if known is None or ip_sort_key(pip.name) < ip_sort_key(known):
            found[key] = pip.name
    return found


def instance_counts(dep: Deployment) -> dict[Key, int]:
    """How many instances have a port on each network, by the network's ``(cloud, id)``."""
    counts: dict[Key, int] = defaultdict(int)
    for inst in dep.instances:
        nics = inst.nics
        if len(nics) == 1:  # nearly always: no set to build
            counts[(inst.cloud, nics[0].network_id)] += 1
            continue
        for network_id in {nic.network_id for nic in nics}:
            counts[(inst.cloud, network_id)] += 1
    return counts


class Index:
    """What the labels need, looked up by ``(cloud, id)``; built in one pass per kind."""

    def __init__(self, dep: Deployment) -> None:
        self.networks: dict[Key, Network] = {n.key: n for n in dep.networks}
        self.public_ip = public_ip_by_instance(dep)
        self.instance_count = instance_counts(dep)

    def network_name(self, cloud: str, network_id: str) -> str:
        net = self.networks.get((cloud, network_id))
        return net.name if net is not None else network_id


def _instance_label(inst: Instance, idx: Index) -> str:
    nics = inst.nics
    if nics:
        nic = nics[0]
        net = idx.networks.get((inst.cloud, nic.network_id))
        where = f"[{nic.ip or '-'}] ({net.name if net is not None else nic.network_id})"
    else:
        where = "[-] (-)"
    public = idx.public_ip.get((inst.cloud, inst.id))
    groups = ", ".join(inst.security_groups)
    if public:
        return f"Instance: {inst.name} {where} [{groups}] [{public}] [{inst.status}]"
    return f"Instance: {inst.name} {where} [{groups}] [{inst.status}]"


def instance_order(inst: Instance) -> tuple[tuple[int, bytes], str, str]:
    """Instances by private IP (as addresses), then name."""
    nics = inst.nics
    return (ip_sort_key(nics[0].ip if nics else None), inst.name, inst.id)


@dataclass(slots=True)
class Placement:
    """Where each instance hangs: ``clusters`` by cloud (sorted names), and the instances of
    each ``(cloud, cluster or None)`` in display order (an unknown cluster counts as none)."""

    clusters: dict[str, list[str]]
    instances: dict[tuple[str, str | None], list[Instance]]

    def members(self, cloud: str, cluster: str | None) -> list[Instance]:
        return self.instances.get((cloud, cluster), [])


def placement(dep: Deployment) -> Placement:
    names: dict[str, set[str]] = defaultdict(set)
    for cluster in dep.clusters:
        names[cluster.cloud].add(cluster.name)
    placed: dict[tuple[str, str | None], list[Instance]] = defaultdict(list)
    for inst in dep.instances:
        where = inst.cluster if inst.cluster in names[inst.cloud] else None
        placed[(inst.cloud, where)].append(inst)
    for members in placed.values():
        members.sort(key=instance_order)
    return Placement({cloud: sorted(found) for cloud, found in names.items()}, dict(placed))


def sorted_clouds(dep: Deployment) -> list[Cloud]:
    return sorted(dep.clouds, key=lambda c: c.name)


def cloud_label(cloud: Cloud) -> str:
    label = f"Cloud: {cloud.name}"
    if cloud.location:
        label += f" ({cloud.location})"
    if not cloud.reachable:
        label += " (unreachable)"
    return label


def _compute(dep: Deployment, idx: Index) -> list[Node]:
    """One cloud's instances outside clusters, then its clusters with theirs."""
    where = placement(dep)
    nodes = []
    for cloud in dep.clouds:
        nodes += [Node(_instance_label(inst, idx)) for inst in where.members(cloud.name, None)]
        nodes += [Node(f"Cluster: {name}",
                       [Node(_instance_label(inst, idx))
                        for inst in where.members(cloud.name, name)])
                  for name in where.clusters.get(cloud.name, [])]
    return nodes


def _network_label(net: Network, idx: Index) -> str:
    name = net.name
    if net.external:
        first = net.subnets[0] if net.subnets else None
        subnet = (first.name or first.cidr) if first is not None else ""
        return f"Network: {name} (external) [{subnet}]"
    count = idx.instance_count.get(net.key, 0)
    return f"Network: {name} [{', '.join(net.cidrs)}] ({_plural(count)})"


def network_or_placeholder(cloud: str, network_id: str, idx: Index) -> Network:
    """The network of that id; one named by its id when MiniCloud does not know it (yet)."""
    net = idx.networks.get((cloud, network_id))
    return net if net is not None else Network(cloud=cloud, id=network_id, name=network_id)


def _network_node(cloud: str, network_id: str, idx: Index) -> Node:
    return Node(_network_label(network_or_placeholder(cloud, network_id, idx), idx))


def router_network_ids(router: Router, idx: Index) -> list[str]:
    """The networks under a router: its interfaces by name, then its gateway last."""
    gateway = router.gateway_network_id
    interfaces = {nid for nid in router.interface_network_ids if nid != gateway}
    ordered = sorted(interfaces, key=lambda nid: (idx.network_name(router.cloud, nid), nid))
    return [*ordered, gateway] if gateway else ordered


def unattached_networks(dep: Deployment) -> list[Network]:
    """The networks on no router (neither an interface nor a gateway), by name."""
    attached: set[Key] = set()
    for router in dep.routers:
        attached.update((router.cloud, nid) for nid in router.interface_network_ids)
        if router.gateway_network_id:
            attached.add((router.cloud, router.gateway_network_id))
    return [net for net in sorted(dep.networks, key=by_name) if net.key not in attached]


def _router_node(router: Router, idx: Index) -> Node:
    label = f"Router: {router.name}"
    gateway = router.gateway_network_id
    if gateway:
        label += f" ({idx.network_name(router.cloud, gateway)})"
    children = [_network_node(router.cloud, nid, idx) for nid in router_network_ids(router, idx)]
    return Node(label, children)


def _networking(dep: Deployment, idx: Index) -> list[Node]:
    """One cloud's routers, then its networks on no router."""
    return ([_router_node(r, idx) for r in sorted(dep.routers, key=by_name)]
            + [Node(_network_label(net, idx)) for net in unattached_networks(dep)])


def known_clouds_only(dep: Deployment) -> Deployment:
    known = {cloud.name for cloud in dep.clouds}
    return Deployment(
        clouds=dep.clouds,
        clusters=[c for c in dep.clusters if c.cloud in known],
        networks=[n for n in dep.networks if n.cloud in known],
        routers=[r for r in dep.routers if r.cloud in known],
        instances=[i for i in dep.instances if i.cloud in known],
        public_ips=[p for p in dep.public_ips if p.cloud in known],
        security_groups=dep.security_groups,
    )


def by_cloud(dep: Deployment) -> dict[str, Deployment]:
    """Each cloud's part of a deployment (a forgotten cloud's leftovers belong to none)."""
    parts = {cloud.name: Deployment(clouds=[cloud]) for cloud in dep.clouds}
    for kind in ("clusters", "networks", "routers", "instances", "public_ips",
                 "security_groups"):
        for obj in getattr(dep, kind):
            part = parts.get(obj.cloud)
            if part is not None:
                getattr(part, kind).append(obj)
    return parts


# --- one cloud's part, and the whole tree from the parts ------------------------------------

TreeParts = dict[str, list[str]]


def cloud_parts(dep: Deployment) -> TreeParts:
    """One cloud's lines under ``Compute`` (below its cloud line) and under ``Networking``,
    laid out relative to an empty prefix; ``dep`` holds that cloud alone."""
    idx = Index(dep)
    return {"compute": laid_out(_compute(dep, idx)),
            "networking": laid_out(_networking(dep, idx))}


def assemble(clouds: list[Cloud], parts: dict[str, TreeParts]) -> list[str]:
    """The tree's lines from each cloud's parts; ``[EMPTY]`` with no clouds."""
    if not clouds:
        return [EMPTY]
    return layout(_root(clouds, lambda cloud, section, label:
                        Node(label, laid=parts[cloud][section])))


def build(dep: Deployment) -> Node:
    """The generic tree of a whole deployment, every node built (what the parts lay out)."""
    nodes = {}
    for name, part in by_cloud(dep).items():
        idx = Index(part)
        nodes[name] = {"compute": _compute(part, idx), "networking": _networking(part, idx)}
    return _root(dep.clouds, lambda cloud, section, label: Node(label, nodes[cloud][section]))


def _root(clouds: list[Cloud], part: Callable[[str, str, str], Node]) -> Node:
    """Compute (every cloud's line with its part below), then Networking when any cloud has
    routers or networks: with one cloud its part directly, with several one ``Cloud: NAME``
    node per cloud that has any, so that every network says where it lives.  ``part(cloud,
    section, label)`` is the node of that label with the cloud's part of the section below."""
    ordered = sorted(clouds, key=lambda c: c.name)
    root = Node(ROOT_LABEL)
    root.children.append(Node("Compute", [part(c.name, "compute", cloud_label(c))
                                          for c in ordered]))
    if len(ordered) == 1:
        networking = part(ordered[0].name, "networking", "Networking")
    else:
        per_cloud = [part(c.name, "networking", f"Cloud: {c.name}") for c in ordered]
        networking = Node("Networking", [n for n in per_cloud if n.children or n.laid])
    if networking.children or networking.laid:
        root.children.append(networking)
    return root
