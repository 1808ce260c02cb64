"""The shape of each stored kind, read from the model's dataclasses (model/shapes.py): what
MiniCloud writes fits, what a newer MiniCloud adds is fine, a wrong type or a missing field is
named (issue 23 item 6)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from minicloud.model.codec import from_dict, to_dict
from minicloud.model.drift import Difference
from minicloud.model.kinds import KINDS
from minicloud.model.objects import (
    Change,
    Cloud,
    Cluster,
    DriftRecord,
    Flavor,
    Image,
    Instance,
    Intent,
    KeyPair,
    Network,
    Nic,
    PublicIP,
    Router,
    SecurityGroup,
    SecurityRule,
    Subnet,
)
from minicloud.model.shapes import key_of, problem, shape

# One object of each kind, every nested list filled, as MiniCloud writes them.
SAMPLES: dict[str, Any] = {
    "cloud": Cloud("Lab", "stub", "the lab", {"external_network": "public"}, synced_at=5.0),
    "cluster": Cluster("Lab", "Antwerp"),
    "network": Network("Lab", "n1", "Net", True, subnets=[Subnet("s1", "", "10.0.0.0/24",
                                                                 "10.0.0.1")]),
    "router": Router("Lab", "r1", "R", gateway_network_id="ext",
                     interface_network_ids=["n1"]),
    "instance": Instance("Lab", "i1", "vm", True, image="cirros", flavor="m1.tiny",
                         cluster="Antwerp", nics=[Nic("n1", "10.0.0.5", "p1")],
                         security_groups=["default"], status="ACTIVE", key_name="k"),
    "public_ip": PublicIP("Lab", "f1", "203.0.113.5", True, network_id="ext",
                          instance_id="i1", port_id="p1", fixed_ip="10.0.0.5"),
    "security_group": SecurityGroup("Lab", "g1", "public_ssh", True, rules=[
        SecurityRule("ingress", "tcp", 22, 22, "IPv4", "0.0.0.0/0")]),
    "keypair": KeyPair("Lab", "k", "k", True, fingerprint="aa", public_key="ssh-ed25519 A"),
    "image": Image("Lab", "img", "cirros", properties={"os_admin_user": "cirros"}),
    "flavor": Flavor("Lab", "fl", "m1.tiny", vcpus=1, ram=512, disk=1),
    "change": Change.of("Lab", "interface", "r9", "n1"),
    "intent": Intent("Lab", "x1", "create network Net", True, claims=["name:network:Net"],
                     changes=[{**to_dict(Change.of("Lab", "interface", "r9")),
                               "network_name": "Net"},
                              {"name": "cloud", "cloud": to_dict(Cloud("Lab", "stub"))}],
                     owner={"host": "h", "pid": 12, "started": "99"}, lease_until=10),
    "drift": DriftRecord("Lab", "1.0-ab", "", True, at=1.0, differences=[
        Difference("network", "Net", "n1", "changed", True, ("CIDRs a -> b",)).as_dict()]),
}


def stored(obj: Any) -> dict[str, Any]:
    """The JSON a row holds for ``obj`` (the version lives in its own column)."""
    data = json.loads(json.dumps(to_dict(obj)))
    data.pop("version")
    return data


def test_every_kind_has_a_sample() -> None:
    assert set(SAMPLES) == set(KINDS)
    assert all(isinstance(SAMPLES[kind], KINDS[kind].cls) for kind in KINDS)


@pytest.mark.parametrize("kind", list(KINDS))
def test_what_minicloud_writes_fits_and_keys_as_the_object_does(kind: str) -> None:
    obj = SAMPLES[kind]
    data = stored(obj)
    assert problem(KINDS[kind].cls, data) is None
    assert key_of(KINDS[kind].cls, data) == obj.key
    assert from_dict(KINDS[kind].cls, data).key == obj.key


@pytest.mark.parametrize("kind", list(KINDS))
def test_fields_a_newer_minicloud_adds_are_fine(kind: str) -> None:
    data = {**stored(SAMPLES[kind]), "added_later": {"any": ["thing"]}}
    assert problem(KINDS[kind].cls, data) is None


def _fields(kind: str) -> list[str]:
    return [f.name for f in dataclasses.fields(KINDS[kind].cls) if f.name != "version"]


@pytest.mark.parametrize(("kind", "field"), [(k, f) for k in KINDS for f in _fields(k)])
def test_each_field_of_another_type_is_named(kind: str, field: str) -> None:
    data = stored(SAMPLES[kind])
    value = data[field]
    data[field] = 7 if not isinstance(value, (int, float)) or isinstance(value, bool) \
        else "seven"
    found = problem(KINDS[kind].cls, data)
    assert found is not None and found.startswith(field), (kind, field, found)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_missing_field_without_default_is_named(kind: str) -> None:
    needed = [f.name for f in dataclasses.fields(KINDS[kind].cls)
              if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    assert needed  # every kind names its cloud, its id or its name
    for field in needed:
        data = stored(SAMPLES[kind])
        del data[field]
        assert problem(KINDS[kind].cls, data) == f"{field}: missing"


@pytest.mark.parametrize(("data", "said"), [
    ({"subnets": None}, "subnets: null where a list belongs"),
    ({"subnets": "10.0.0.0/24"}, "subnets: text where a list belongs"),
    ({"subnets": [{"id": "s", "name": "", "cidr": 24}]},
     "subnets[0]: cidr: a whole number where text belongs"),
    ({"subnets": [{"id": "s", "name": ""}]}, "subnets[0]: cidr: missing"),
    ({"external": "yes"}, "external: text where true or false belongs"),
    ({"owned": 1}, "owned: a whole number where true or false belongs"),
])
def test_nested_damage_is_named_with_its_place(data: dict[str, Any], said: str) -> None:
    assert problem(Network, {**stored(SAMPLES["network"]), **data}) == said


@pytest.mark.parametrize(("change", "said"), [
    ({"owner": "someone"}, "owner: text where an object belongs"),
    ({"owner": {"host": "h", "pid": "12"}}, "owner: pid: text where a whole number belongs"),
    ({"changes": "interface"}, "changes: text where a list belongs"),
    ({"changes": [{"name": "interface", "cloud": "Lab", "id": "i", "target_id": ["r"]}]},
     "changes[0]: target_id: a list where text belongs"),
    ({"changes": [{"name": "interface", "id": "i"}]}, "changes[0]: cloud: missing"),
    ({"changes": [{"name": "cloud", "cloud": {"name": "Lab"}}]},
     "changes[0]: cloud: type: missing"),
    ({"changes": [{"name": "interface", "cloud": "Lab", "id": "i",
                   "network_name": 5}]}, "changes[0]: network_name: a whole number where "
                                         "null or text belongs"),
    ({"claims": [1]}, "claims[0]: a whole number where text belongs"),
    ({"lease_until": "soon"}, "lease_until: text where a number belongs"),
])
def test_an_intent_s_owner_and_changes_have_the_shapes_written_there(
        change: dict[str, Any], said: str) -> None:
    assert problem(Intent, {**stored(SAMPLES["intent"]), **change}) == said


def test_an_intent_without_owner_is_timed_by_its_lease() -> None:
    assert problem(Intent, {**stored(SAMPLES["intent"]), "owner": {}}) is None


def test_a_drift_record_s_differences_are_differences() -> None:
    record = stored(SAMPLES["drift"])
    record["differences"][0]["details"] = "one"
    assert problem(DriftRecord, record) == \
        "differences[0]: details: text where a list belongs"
    record["differences"] = [{"kind": "network"}]
    assert problem(DriftRecord, record) == "differences[0]: name: missing"


def test_numbers_are_numbers_and_not_booleans() -> None:
    flavor = stored(SAMPLES["flavor"])
    assert problem(Flavor, {**flavor, "vcpus": True}) == \
        "vcpus: true or false where a whole number belongs"
    assert problem(Flavor, {**flavor, "ram": 1.5}) == "ram: a number where a whole number belongs"
    cloud = stored(SAMPLES["cloud"])
    assert problem(Cloud, {**cloud, "synced_at": 5}) is None  # a float field takes 5
    assert problem(Cloud, {**cloud, "synced_at": None}) is None
    assert problem(Cloud, {**cloud, "settings": {"a": 1}}) == \
        "settings['a']: a whole number where text belongs"


def test_a_row_that_is_no_object() -> None:
    assert problem(Network, [1, 2]) == "a list where an object belongs"


def test_shapes_are_made_once() -> None:
    assert shape(Network) is shape(Network)
