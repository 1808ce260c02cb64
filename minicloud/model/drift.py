"""Drift: what changed in a cloud outside MiniCloud, from the store's copy to a fresh listing.

Pure functions from the model (no I/O): the reconciler applies a listing and records the
differences it absorbed; ``minicloud drift`` computes them without changing anything.  The
differences name objects as an operator does (kind and name) and say what changed in words:
a server's status, addresses, networks and security groups; a router's gateway and
interfaces; a public IP's association; a network's CIDRs; a group's rules.  MiniCloud's own
objects come first (someone changed what MiniCloud made), then the others'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .kinds import KINDS, label

# Kinds whose coming and going is drift (images and flavors come and go quietly).
WATCHED = tuple(k.name for k in KINDS.values() if k.synced and k.noticed)
APPEARED, DISAPPEARED, CHANGED = "appeared", "disappeared", "changed"


@dataclass(frozen=True)
class Difference:
    kind: str
    name: str
    id: str
    change: str  # APPEARED, DISAPPEARED or CHANGED
    owned: bool
    details: tuple[str, ...] = ()

    def line(self) -> str:
        whose = "MiniCloud's " if self.owned else ""
        text = f"{whose}{label(self.kind)} {self.name} {self.change}"
        return f"{text}: {'; '.join(self.details)}" if self.details else text

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "id": self.id, "change": self.change,
                "owned": self.owned, "details": list(self.details)}


@dataclass
class Drift:
    """The differences found in one cloud (``at``: when, on the store's clock)."""

    cloud: str
    at: float
    differences: list[Difference] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.differences)

    def as_dict(self) -> dict[str, Any]:
        return {"cloud": self.cloud, "at": self.at,
                "differences": [d.as_dict() for d in self.differences]}


class _Names:
    """Names of networks and instances by id, from both sides (for readable details)."""

    def __init__(self, objects: Iterable[Any]) -> None:
        self.names: dict[tuple[str, str], str] = {(o.kind, o.id): o.name for o in objects}

    def of(self, kind: str, ident: str | None) -> str:
        return self.names.get((kind, ident or ""), ident or "none")


def _instance(old: Any, new: Any, names: _Names) -> list[str]:
    out = []
    if old.status != new.status:
        out.append(f"status {old.status} -> {new.status}")
    before = [(n.network_id, n.ip) for n in old.nics]
    after = [(n.network_id, n.ip) for n in new.nics]
    if [n for n, _ in before] != [n for n, _ in after]:
        out.append("networks " + _arrow([names.of("network", n) for n, _ in before],
                                        [names.of("network", n) for n, _ in after]))
    elif before != after:
        out.append("addresses " + _arrow([ip or "-" for _, ip in before],
                                         [ip or "-" for _, ip in after]))
    if sorted(old.security_groups) != sorted(new.security_groups):
        out.append("security groups " + _arrow(old.security_groups, new.security_groups))
    return out


def _router(old: Any, new: Any, names: _Names) -> list[str]:
    out = []
    if old.gateway_network_id != new.gateway_network_id:
        out.append(f"gateway {names.of('network', old.gateway_network_id)} -> "
                   f"{names.of('network', new.gateway_network_id)}")
    added = [i for i in new.interface_network_ids if i not in old.interface_network_ids]
    removed = [i for i in old.interface_network_ids if i not in new.interface_network_ids]
    out += [f"interface on {names.of('network', i)} added" for i in added]
    out += [f"interface on {names.of('network', i)} removed" for i in removed]
    return out


def _public_ip(old: Any, new: Any, names: _Names) -> list[str]:
    if old.instance_id == new.instance_id:
        return []
    if new.instance_id is None:
        return [f"no longer associated with {names.of('instance', old.instance_id)}"]
    return [f"associated with {names.of('instance', new.instance_id)}"
            + (f" (was {names.of('instance', old.instance_id)})" if old.instance_id else "")]


def _network(old: Any, new: Any, names: _Names) -> list[str]:
    return [] if old.cidrs == new.cidrs else ["CIDRs " + _arrow(old.cidrs, new.cidrs)]


def _security_group(old: Any, new: Any, names: _Names) -> list[str]:
    before = {(r.direction, r.protocol, r.port_min, r.port_max, r.remote_ip_prefix)
              for r in old.rules}
    after = {(r.direction, r.protocol, r.port_min, r.port_max, r.remote_ip_prefix)
             for r in new.rules}
    if before == after:
        return []
    return [f"rules: {len(after - before)} added, {len(before - after)} removed"]


def _arrow(before: list[Any], after: list[Any]) -> str:
    return f"{', '.join(map(str, before)) or 'none'} -> {', '.join(map(str, after)) or 'none'}"


COMPARERS: dict[str, Callable[[Any, Any, _Names], list[str]]] = {
    "instance": _instance,
    "router": _router,
    "public_ip": _public_ip,
    "network": _network,
    "security_group": _security_group,
}


def compare(stored: Iterable[Any], reported: Iterable[Any]) -> list[Difference]:
    """What differs between the store's copy of a cloud and what the cloud reports, for the
    watched kinds: MiniCloud's own objects first, then by kind and name."""
    old = {(o.kind, o.id): o for o in stored if o.kind in WATCHED}
    new = {(o.kind, o.id): o for o in reported if o.kind in WATCHED}
    names = _Names([*old.values(), *new.values()])
    found = [Difference(key[0], o.name, o.id, APPEARED, o.owned)
             for key, o in new.items() if key not in old]
    found += [Difference(key[0], o.name, o.id, DISAPPEARED, o.owned)
              for key, o in old.items() if key not in new]
    for key, before in old.items():
        after = new.get(key)
        if after is None:
            continue
        details = COMPARERS[key[0]](before, after, names)
        if details:
            found.append(Difference(key[0], after.name, after.id, CHANGED,
                                    before.owned or after.owned, tuple(details)))
    order = {kind: i for i, kind in enumerate(WATCHED)}
    return sorted(found, key=lambda d: (not d.owned, order[d.kind], d.name, d.id))
