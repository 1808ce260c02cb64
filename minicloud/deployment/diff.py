"""A deployment file against what the store holds: the plan, as ordered steps.

Each :class:`Change` is one line of the plan in MiniCloud's words (``+ network LondonNet
10.10.2.0/24 on router LondonGateway``, ``~ instance Ben: flavor m1.tiny -> m1.small
(replaced)``, ``- instance Old``) and holds the :class:`Step` s that make it, each with its
phase: apply runs every step of the plan in phase order, so that what uses a thing is removed
before the thing, and made after it (a network moved between routers leaves the old one in
the detach phase and joins the new one after routers are created).

Only what MiniCloud created is changed or removed; an object of the file whose name another
one of the cloud has, that MiniCloud did not create, is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..model.names import PUBLIC_SSH
from ..model.objects import Instance, Network, PublicIP, Router
from .spec import CloudSpec, DeploymentSpec, InstanceSpec, NetworkSpec

# The phases, in the order apply runs them.
ADD_CLOUD, UPDATE_CLOUD, ADD_CLUSTER = 0, 1, 2
TAKE_PUBLIC_IP, REMOVE_INSTANCE, CLEAR_GATEWAY, DETACH = 3, 4, 5, 6
REMOVE_NETWORK, REMOVE_ROUTER, REMOVE_CLUSTER = 7, 8, 9
CREATE_ROUTER, SET_GATEWAY, CREATE_NETWORK, ATTACH = 10, 11, 12, 13
CREATE_INSTANCE, CHANGE_GROUPS, GIVE_PUBLIC_IP = 14, 15, 16

KIND_ORDER = {"cloud": 0, "cluster": 1, "router": 2, "network": 3, "instance": 4}


@dataclass
class Step:
    """One call of a manager: ``do`` names it, ``cloud`` and ``name`` its target, ``args``
    the rest (names only: apply looks every object up when the step runs)."""

    phase: int
    do: str
    cloud: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Change:
    sign: str  # "+" add, "~" change, "-" remove
    kind: str
    cloud: str
    name: str
    text: str
    steps: list[Step] = field(default_factory=list)

    @property
    def action(self) -> str:
        return {"+": "add", "~": "change", "-": "remove"}[self.sign]

    def line(self, several_clouds: bool = False) -> str:
        where = f" (cloud {self.cloud})" if several_clouds and self.kind != "cloud" else ""
        return f"{self.sign} {self.text}{where}"


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    # Clouds the file names that are not in the store yet: their catalogue (images, flavors,
    # external networks) is checked once they are added.
    unchecked: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def steps(self) -> list[Step]:
        ordered = [(s.phase, i, s) for i, c in enumerate(self.changes)
                   for s in c.steps]
        return [s for _, _, s in sorted(ordered, key=lambda t: (t[0], t[1]))]

    def counts(self) -> dict[str, int]:
        return {action: sum(1 for c in self.changes if c.action == action)
                for action in ("add", "change", "remove")}

    def lines(self) -> list[str]:
        several = len({c.cloud for c in self.changes}) > 1
        return [c.line(several) for c in self.changes]

    def summary(self) -> str:
        if self.empty:
            return "No changes: the clouds are as the file says."
        counts = self.counts()
        return (f"Plan: {counts['add']} to add, {counts['change']} to change, "
                f"{counts['remove']} to remove.")

    def as_dict(self) -> dict[str, Any]:
        return {"changes": [{"action": c.action, "kind": c.kind, "cloud": c.cloud,
                             "name": c.name, "line": c.line()} for c in self.changes],
                **self.counts(), "unchecked_clouds": self.unchecked}


@dataclass
class CloudState:
    """What the store holds of one cloud, as the plan compares it (every object by name; an
    object MiniCloud created wins over another of its name)."""

    name: str
    exists: bool = False
    type: str = ""
    location: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    clusters: set[str] = field(default_factory=set)
    routers: dict[str, Router] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    public_ips: list[PublicIP] = field(default_factory=list)
    security_groups: set[str] = field(default_factory=set)
    images: set[str] = field(default_factory=set)
    flavors: set[str] = field(default_factory=set)
    # A cloud may name a server's image or flavor by its id: id -> name.
    image_ids: dict[str, str] = field(default_factory=dict)
    flavor_ids: dict[str, str] = field(default_factory=dict)
    # What the cloud's type can do (its driver's Features).
    move_networks: bool = True  # attach and detach an existing network

    @staticmethod
    def by_name(objects: Iterable[Any]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for obj in sorted(objects, key=lambda o: (o.owned, o.id)):
            found[obj.name] = obj  # owned last: it wins
        return found

    def network_name(self, network_id: str | None) -> str | None:
        if network_id is None:
            return None
        return next((n.name for n in self.networks.values() if n.id == network_id),
                    network_id)

    def routers_of(self, network: Network) -> list[str]:
        return sorted(r.name for r in self.routers.values()
                      if network.id in r.interface_network_ids)

    def image_of(self, instance: Instance) -> str:
        return self.image_ids.get(instance.image, instance.image)

    def flavor_of(self, instance: Instance) -> str:
        return self.flavor_ids.get(instance.flavor, instance.flavor)

    def public_ip_of(self, instance: Instance) -> str | None:
        return next((f.name for f in self.public_ips if f.instance_id == instance.id), None)


def plan(spec: DeploymentSpec, states: dict[str, CloudState]) -> Plan:
    """The changes that make each cloud of ``spec`` what it says (``states``: every cloud it
    names, as the store holds it).  A reference the cloud cannot satisfy (an unknown image,
    a gateway that is no external network...) raises spec.FileError, naming its line."""
    result = Plan()
    for name in sorted(spec.clouds):
        cloud, state = spec.clouds[name], states[name]
        _Differ(spec, cloud, state, result).run()
    result.changes.sort(key=lambda c: (c.cloud, KIND_ORDER[c.kind], c.name, c.sign != "-"))
    return result


class _Differ:
    def __init__(self, spec: DeploymentSpec, cloud: CloudSpec, state: CloudState,
                 out: Plan) -> None:
        self.spec = spec
        self.cloud = cloud
        self.state = state
        self.out = out
        self.checked = state.exists
        self.replaced_networks: set[str] = set()

    def add(self, sign: str, kind: str, name: str, text: str, *steps: Step) -> None:
        self.out.changes.append(Change(sign, kind, self.cloud.name, name, text, list(steps)))

    def step(self, phase: int, do: str, name: str, **args: Any) -> Step:
        return Step(phase, do, self.cloud.name, name, args)

    def error(self, *keys: str | int, text: str) -> Exception:
        return self.spec.error(self.cloud.path(*keys), text)

    def run(self) -> None:
        self.cloud_itself()
        self.clusters()
        self.routers()
        self.networks()
        self.instances()

    # -- the cloud and its clusters ---------------------------------------------------------------

    def cloud_itself(self) -> None:
        cloud, state = self.cloud, self.state
        if not state.exists:
            if cloud.mapped:
                raise self.error(text=f"--cloud-map: MiniCloud has no cloud {cloud.name!r}: "
                                      "add it first (clouds add)")
            self.out.unchecked.append(cloud.name)
            where = f", {cloud.location}" if cloud.location else ""
            self.add("+", "cloud", cloud.name, f"cloud {cloud.name} ({cloud.type}{where})",
                     self.step(ADD_CLOUD, "add_cloud", cloud.name, type=cloud.type,
                               location=cloud.location or "", settings=dict(cloud.settings)))
            return
        if cloud.mapped:
            return  # designed for another cloud: its type, location and settings stay there
        if cloud.type != state.type:
            raise self.error("type", text=f"cloud {cloud.name} is a {state.type} cloud in "
                                          f"MiniCloud, not {cloud.type}")
        if cloud.location is not None and cloud.location != state.location:
            self.add("~", "cloud", cloud.name, f"cloud {cloud.name}: location "
                     f"{state.location or '-'} -> {cloud.location or '-'}",
                     self.step(UPDATE_CLOUD, "update_cloud", cloud.name,
                               location=cloud.location))

    def clusters(self) -> None:
        for name in self.cloud.clusters:
            if name not in self.state.clusters:
                self.add("+", "cluster", name, f"cluster {name}",
                         self.step(ADD_CLUSTER, "add_cluster", name))
        for name in sorted(self.state.clusters - set(self.cloud.clusters)):
            self.add("-", "cluster", name, f"cluster {name}",
                     self.step(REMOVE_CLUSTER, "remove_cluster", name))

    # -- routers ---------------------------------------------------------------------------------

    def _external(self, router: str, gateway: str | None) -> None:
        if gateway is None or not self.checked:
            return
        network = self.state.networks.get(gateway)
        if network is None or not network.external:
            externals = sorted(n.name for n in self.state.networks.values() if n.external)
            raise self.error("routers", router, "gateway",
                             text=f"no external network {gateway!r} in cloud {self.cloud.name}"
                                  f" (external networks: {', '.join(externals) or 'none'})")

    def _theirs(self, kind: str, obj: Any) -> None:
        if obj is not None and not obj.owned:
            raise self.error(f"{kind}s", obj.name,
                             text=f"cloud {self.cloud.name} has a {kind} {obj.name} that "
                                  "MiniCloud did not create: rename this one")

    def routers(self) -> None:
        wanted, state = self.cloud.routers, self.state
        for name, router in wanted.items():
            self._external(name, router.gateway)
            current = state.routers.get(name)
            self._theirs("router", current)
            if current is None:
                gateway = f" (gateway {router.gateway})" if router.gateway else ""
                self.add("+", "router", name, f"router {name}{gateway}",
                         self.step(CREATE_ROUTER, "create_router", name,
                                   gateway=router.gateway))
                continue
            have = state.network_name(current.gateway_network_id)
            if have != router.gateway:
                steps = []
                if have is not None:
                    steps.append(self.step(CLEAR_GATEWAY, "clear_gateway", name))
                if router.gateway is not None:
                    steps.append(self.step(SET_GATEWAY, "set_gateway", name,
                                           gateway=router.gateway))
                self.add("~", "router", name, f"router {name}: gateway {have or 'none'} -> "
                                              f"{router.gateway or 'none'}", *steps)
        for name, current in sorted(state.routers.items()):
            if current.owned and name not in wanted:
                self.add("-", "router", name, f"router {name}",
                         self.step(REMOVE_ROUTER, "remove_router", name))

    # -- networks --------------------------------------------------------------------------------

    def _router_ref(self, network: NetworkSpec) -> None:
        name = network.router
        if name is None or name in self.cloud.routers:
            return
        found = self.state.routers.get(name)
        if found is not None and found.owned:
            raise self.error("networks", network.name, "router",
                             text=f"router {name} is removed by this file (it is not under "
                                  "routers)")
        if found is None and self.checked:
            raise self.error("networks", network.name, "router",
                             text=f"no router {name!r} in the file or in cloud "
                                  f"{self.cloud.name}")

    def networks(self) -> None:
        wanted, state = self.cloud.networks, self.state
        for name, network in wanted.items():
            self._router_ref(network)
            current = state.networks.get(name)
            self._theirs("network", current)
            on = f" on router {network.router}" if network.router else ""
            create = self.step(CREATE_NETWORK, "create_network", name, cidr=network.cidr,
                               router=network.router)
            if current is None:
                self.add("+", "network", name, f"network {name} {network.cidr}{on}", create)
                continue
            have_cidr = current.cidrs[0] if current.cidrs else None
            routers = state.routers_of(current)
            moved = routers != ([network.router] if network.router else [])
            if _same_net(have_cidr, network.cidr) and not moved:
                continue
            if not _same_net(have_cidr, network.cidr) or not state.move_networks:
                what = (f"cidr {have_cidr} -> {network.cidr}"
                        if not _same_net(have_cidr, network.cidr) else
                        f"router {', '.join(routers) or 'none'} -> {network.router or 'none'}")
                self.replaced_networks.add(name)
                self.add("~", "network", name, f"network {name}: {what} (replaced)",
                         self.step(REMOVE_NETWORK, "remove_network", name), create)
                continue
            steps = [self.step(DETACH, "detach", name, router=r) for r in routers
                     if r != network.router]
            if network.router and network.router not in routers:
                steps.append(self.step(ATTACH, "attach", name, router=network.router))
            self.add("~", "network", name, f"network {name}: router "
                     f"{', '.join(routers) or 'none'} -> {network.router or 'none'}", *steps)
        for name, current in sorted(state.networks.items()):
            if current.owned and not current.external and name not in wanted:
                self.add("-", "network", name, f"network {name}",
                         self.step(REMOVE_NETWORK, "remove_network", name))

    # -- instances -------------------------------------------------------------------------------

    def _references(self, instance: InstanceSpec) -> None:
        state, name = self.state, instance.name
        if instance.network not in self.cloud.networks:
            found = state.networks.get(instance.network)
            if found is not None and found.owned:
                raise self.error("instances", name, "network",
                                 text=f"network {instance.network} is removed by this file "
                                      "(it is not under networks)")
            if self.checked and (found is None or found.external):
                raise self.error("instances", name, "network",
                                 text=f"no network {instance.network!r} in the file or in "
                                      f"cloud {self.cloud.name}")
        if not self.checked:
            return
        for key, value, known in (("image", instance.image, state.images),
                                  ("flavor", instance.flavor, state.flavors)):
            if value not in known:
                raise self.error("instances", name, key,
                                 text=f"unknown {key} {value!r} in cloud {self.cloud.name} "
                                      f"({key}s: {', '.join(sorted(known)) or 'none'})")
        for index, group in enumerate(instance.security_groups):
            if group != PUBLIC_SSH and group not in state.security_groups:
                raise self.error("instances", name, "security_groups", index,
                                 text=f"no security group {group!r} in cloud "
                                      f"{self.cloud.name}")

    def _give_public_ip(self, instance: InstanceSpec, address: str | None) -> Step:
        """The step that gives the instance its public IP, refused here (at its line) when no
        router with a gateway will serve its network."""
        if not self._routed_out(instance.network):
            raise self.error("instances", instance.name, "public_ip",
                             text=f"network {instance.network} is on no router with a gateway: "
                                  "no public IP can reach it")
        return self.step(GIVE_PUBLIC_IP, "give_public_ip", instance.name, address=address)

    def _routed_out(self, network: str) -> bool:
        """Whether the network will be on a router with a gateway (as the file says for its
        own networks and routers, as the store holds it for the others)."""
        state = self.state
        routers: list[str | None]
        if network in self.cloud.networks:
            routers = [self.cloud.networks[network].router]
        else:
            found = state.networks.get(network)
            routers = list(state.routers_of(found)) if found is not None else []
        for router in routers:
            if router is None:
                continue
            if router in self.cloud.routers:
                if self.cloud.routers[router].gateway:
                    return True
            elif router in state.routers and state.routers[router].gateway_network_id:
                return True
        return not self.checked and network not in self.cloud.networks

    def instances(self) -> None:
        wanted, state = self.cloud.instances, self.state
        for name, instance in wanted.items():
            self._references(instance)
            current = state.instances.get(name)
            self._theirs("instance", current)
            if current is None:
                self.add("+", "instance", name, f"instance {name}: {_describe(instance)}",
                         *self._create(instance))
                continue
            differences = self._differences(current, instance)
            groups = self._groups(current, instance)
            if differences:
                self.add("~", "instance", name, f"instance {name}: "
                         f"{', '.join(differences + groups[:1])} (replaced)",
                         self.step(REMOVE_INSTANCE, "remove_instance", name),
                         *self._create(instance))
                continue
            texts, steps = groups[:1], [
                *(self.step(CHANGE_GROUPS, "add_group", name, group=g)
                  for g in instance.security_groups if g not in current.security_groups),
                *(self.step(CHANGE_GROUPS, "remove_group", name, group=g)
                  for g in current.security_groups if g not in instance.security_groups)]
            have = state.public_ip_of(current)
            want = instance.public_ip
            if not ((want is None and have is None) or (want is True and have is not None)
                    or (isinstance(want, str) and want == have)):
                if have is not None:
                    steps.append(self.step(TAKE_PUBLIC_IP, "take_public_ip", name))
                if want is not None:
                    steps.append(self._give_public_ip(instance,
                                                      want if isinstance(want, str) else None))
                shown = "any" if want is True else want or "none"
                texts.append(f"public IP {have or 'none'} -> {shown}")
            if texts:
                self.add("~", "instance", name, f"instance {name}: {', '.join(texts)}", *steps)
        for name, current in sorted(state.instances.items()):
            if current.owned and name not in wanted:
                self.add("-", "instance", name, f"instance {name}",
                         self.step(REMOVE_INSTANCE, "remove_instance", name))

    def _create(self, instance: InstanceSpec) -> list[Step]:
        steps = [self.step(CREATE_INSTANCE, "create_instance", instance.name,
                           image=instance.image, flavor=instance.flavor,
                           network=instance.network, cluster=instance.cluster,
                           fixed_ip=instance.fixed_ip,
                           security_groups=list(instance.security_groups))]
        if instance.public_ip is not None:
            address = instance.public_ip if isinstance(instance.public_ip, str) else None
            steps.append(self._give_public_ip(instance, address))
        return steps

    def _differences(self, current: Instance, instance: InstanceSpec) -> list[str]:
        state = self.state
        network = state.network_name(current.primary_nic.network_id) \
            if current.primary_nic else None
        found = []
        for what, have, want in (("image", state.image_of(current), instance.image),
                                 ("flavor", state.flavor_of(current), instance.flavor),
                                 ("network", network, instance.network),
                                 ("cluster", current.cluster, instance.cluster)):
            if have != want:
                found.append(f"{what} {have or 'none'} -> {want or 'none'}")
        if instance.fixed_ip is not None and current.private_ip != instance.fixed_ip:
            found.append(f"fixed IP {current.private_ip or 'none'} -> {instance.fixed_ip}")
        if not found and instance.network in self.replaced_networks:
            found.append(f"network {instance.network} replaced")
        return found

    @staticmethod
    def _groups(current: Instance, instance: InstanceSpec) -> list[str]:
        """The change of security groups, if any: made in place (a server keeps running
        while its groups change), unless the instance is replaced anyway."""
        if sorted(current.security_groups) == sorted(instance.security_groups):
            return []
        return [f"security groups {', '.join(current.security_groups) or 'none'} -> "
                f"{', '.join(instance.security_groups)}"]


def _same_net(have: str | None, want: str) -> bool:
    if have is None:
        return False
    try:
        return ipaddress.ip_network(have, strict=False) == ipaddress.ip_network(want)
    except ValueError:
        return False


def _describe(instance: InstanceSpec) -> str:
    parts = [instance.image, instance.flavor, f"network {instance.network}"]
    if instance.fixed_ip:
        parts.append(f"fixed IP {instance.fixed_ip}")
    if instance.cluster:
        parts.append(f"cluster {instance.cluster}")
    parts.append(f"security groups {', '.join(instance.security_groups)}")
    if instance.public_ip is not None:
        parts.append(f"public IP {'any' if instance.public_ip is True else instance.public_ip}")
    return ", ".join(parts)
