"""What MiniCloud manages, as a deployment file (``minicloud export``): the clouds with
their clusters and what MiniCloud created in them (routers, networks, instances); other
people's objects appear only as names that MiniCloud's refer to (an external network, a
router).  Applying the text to the store it came from plans nothing."""

from __future__ import annotations

from typing import Any

import yaml

from .diff import CloudState

HEADER = ("# A MiniCloud deployment (minicloud export).  Compare it with a store: minicloud plan "
          "FILE;\n# make a store hold it: minicloud apply FILE.  Format: "
          "minicloud/deployment/schema.json.\n")

try:
    _Base: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Base = yaml.SafeDumper


class _Dumper(_Base):  # type: ignore[misc]
    """Lists of names on one line (``clusters: [Antwerp, London]``), mappings in block style;
    every scalar quoted where YAML would read it as something else (a network named
    ``true``)."""


def _short_list(dumper: Any, data: list[Any]) -> Any:
    flow = all(isinstance(item, str) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _short_list)


def cloud_data(state: CloudState) -> dict[str, Any]:
    """One cloud's part of the file."""
    body: dict[str, Any] = {"type": state.type}
    if state.location:
        body["location"] = state.location
    if state.settings:
        body["settings"] = dict(state.settings)
    if state.clusters:
        body["clusters"] = sorted(state.clusters)
    routers = {name: ({"gateway": state.network_name(r.gateway_network_id)}
                      if r.gateway_network_id else {})
               for name, r in sorted(state.routers.items()) if r.owned}
    if routers:
        body["routers"] = routers
    networks = {}
    for name, net in sorted(state.networks.items()):
        if not net.owned or net.external or not net.cidrs:
            continue
        networks[name] = {"cidr": net.cidrs[0]}
        on = state.routers_of(net)
        if on:
            networks[name]["router"] = on[0]
    if networks:
        body["networks"] = networks
    instances = {}
    for name, inst in sorted(state.instances.items()):
        if not inst.owned:
            continue
        item: dict[str, Any] = {"image": state.image_of(inst), "flavor": state.flavor_of(inst)}
        if inst.cluster:
            item["cluster"] = inst.cluster
        nic = inst.primary_nic
        if nic is not None:
            item["network"] = state.network_name(nic.network_id)
        if inst.private_ip:
            item["fixed_ip"] = inst.private_ip
        item["security_groups"] = list(inst.security_groups) or ["default"]
        public = state.public_ip_of(inst)
        if public:
            item["public_ip"] = public
        instances[name] = item
    if instances:
        body["instances"] = instances
    return body


def export_text(states: list[CloudState]) -> str:
    """The deployment file of these clouds."""
    data = {"minicloud": 1, "clouds": {s.name: cloud_data(s) for s in states}}
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=100)
    return HEADER + text
