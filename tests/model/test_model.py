"""The object model: the name rule, (de)serialisation, address order, SSH rules."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicloud.model.codec import from_dict, to_dict
from minicloud.model.kinds import KINDS
from minicloud.model.objects import (
    NAME_RULE,
    Cloud,
    CloudSnapshot,
    Cluster,
    Instance,
    KeyPair,
    Network,
    Nic,
    PublicIP,
    Router,
    SecurityGroup,
    SecurityRule,
    Subnet,
    ip_sort_key,
    valid_name,
)

ALLOWED_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
ALLOWED = ALLOWED_FIRST + "._-"


# -- the name rule -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a", "Z", "7", "LondonNet", "m1.tiny", "a_b-c.d", "1-2",
                                  "x" * 64, "A" + "-" * 63,
                                  # Letters of any script (issue 25, Words).
                                  "é", "caf\u00e9", "Routeur-é", "東京", "Ωmega"])
def test_valid_names(name: str) -> None:
    assert valid_name(name)


@pytest.mark.parametrize("name", ["", "-a", ".a", "_a", "a b", "a/b", "a@b", "x" * 65,
                                  "a\n", "\na", " a", "a\t", "a:b", "a\u00a0b", "é" * 65])
def test_invalid_names(name: str) -> None:
    assert not valid_name(name)


@given(st.text(alphabet=ALLOWED_FIRST, min_size=1, max_size=1),
       st.text(alphabet=ALLOWED, max_size=63))
def test_every_name_of_the_allowed_alphabet_is_valid(first: str, rest: str) -> None:
    assert valid_name(first + rest)


@given(st.text(alphabet=ALLOWED, max_size=30), st.characters(
    blacklist_characters=ALLOWED, blacklist_categories=("Cs",)).filter(
        lambda ch: not ch.isalnum()), st.text(alphabet=ALLOWED, max_size=30))
def test_any_other_character_makes_a_name_invalid(before: str, bad: str, after: str) -> None:
    assert not valid_name(before + bad + after)


def test_name_rule_text_states_the_rule() -> None:
    for part in ("1-64", "letters", "digits", "'.'", "'_'", "'-'", "starting with"):
        assert part in NAME_RULE


# -- to_dict / from_dict -----------------------------------------------------------------------

SAMPLES = [
    Cloud("TryStack", "stub", "trystack.org", {"external_network": "external"},
          reachable=False, version=3),
    Cluster("TryStack", "London", version=2),
    Network("c", "n1", "LondonNet", owned=True,
            subnets=[Subnet("s1", "LondonNet-subnet", "10.10.2.0/24", "10.10.2.1"),
                     Subnet("s2", "", "fd00::/64", None)], external=False, version=5),
    Router("c", "r1", "LondonGateway", owned=True, gateway_network_id="ext",
           interface_network_ids=["n1", "n2"]),
    Instance("c", "i1", "Tower", owned=True, image="cirros", flavor="m1.tiny",
             cluster="London", nics=[Nic("n1", "10.10.2.5", "p1"), Nic("n2", None, None)],
             security_groups=["public_ssh", "default"], status="ACTIVE", key_name="k"),
    PublicIP("c", "f1", "8.21.28.30", network_id="ext", instance_id="i1", port_id="p1",
             fixed_ip="10.10.2.5"),
    SecurityGroup("c", "g1", "public_ssh", owned=True,
                  rules=[SecurityRule("ingress", "tcp", 22, 22, "IPv4", "0.0.0.0/0"),
                         SecurityRule("ingress", "tcp", 22, 22, "IPv6", "::/0")],
                  description="SSH"),
    KeyPair("c", "minicloud-me", "minicloud-me", owned=True, fingerprint="ab",
            public_key="ssh-ed25519 AAAA"),
]


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: o.kind)
def test_round_trip(obj) -> None:
    data = to_dict(obj)
    back = from_dict(type(obj), data)
    assert back == obj
    assert to_dict(back) == data


def test_a_public_ip_stored_before_router_id_reads_as_held_by_no_router() -> None:
    old = {"cloud": "c", "id": "f1", "name": "8.21.28.30", "owned": True, "version": 1,
           "network_id": "ext", "instance_id": None, "port_id": None, "fixed_ip": None}
    assert from_dict(PublicIP, old).router_id is None
    held = PublicIP("c", "f2", "8.21.28.31", network_id="ext", router_id="r1")
    assert from_dict(PublicIP, to_dict(held)).router_id == "r1"


def test_round_trip_rebuilds_nested_objects() -> None:
    net, inst, group = SAMPLES[2], SAMPLES[4], SAMPLES[6]
    back_net = from_dict(Network, to_dict(net))
    assert all(isinstance(s, Subnet) for s in back_net.subnets)
    assert back_net.cidrs == ["10.10.2.0/24", "fd00::/64"]
    back_inst = from_dict(Instance, to_dict(inst))
    assert all(isinstance(n, Nic) for n in back_inst.nics)
    assert back_inst.private_ip == "10.10.2.5"
    back_group = from_dict(SecurityGroup, to_dict(group))
    assert all(isinstance(r, SecurityRule) for r in back_group.rules)
    assert back_group.allows_ssh()


def test_round_trip_through_json_text() -> None:

    for obj in SAMPLES:
        assert from_dict(type(obj), json.loads(json.dumps(to_dict(obj)))) == obj


def test_from_dict_ignores_unknown_keys_and_copies() -> None:
    data = to_dict(SAMPLES[2])
    data["something_new"] = 42
    back = from_dict(Network, data)
    assert back == SAMPLES[2]
    back.subnets[0].cidr = "10.99.0.0/24"
    assert SAMPLES[2].subnets[0].cidr == "10.10.2.0/24"


def test_keys() -> None:
    assert Cloud("A", "stub").key == ("A", "A")
    assert Cluster("A", "B").key == ("A", "B")
    assert Network("A", "id1", "n").key == ("A", "id1")
    assert set(KINDS) >= {"cloud", "cluster", "network", "router", "instance", "public_ip",
                          "security_group", "keypair", "image", "flavor", "change"}
    for kind, spec in KINDS.items():
        assert spec.cls.kind == kind


def test_instance_without_nics_has_no_private_ip() -> None:
    inst = Instance("c", "i", "x")
    assert inst.primary_nic is None
    assert inst.private_ip is None


def test_snapshot_resources_lists_every_kind() -> None:
    snap = CloudSnapshot(networks=[SAMPLES[2]], routers=[SAMPLES[3]], instances=[SAMPLES[4]],
                         public_ips=[SAMPLES[5]], security_groups=[SAMPLES[6]],
                         keypairs=[SAMPLES[7]])
    assert snap.resources() == SAMPLES[2:]


# -- ip_sort_key -------------------------------------------------------------------------------

def test_ip_sort_key_orders_numerically() -> None:
    ips = ["10.10.2.12", "10.10.2.6", "10.10.2.5", "9.255.255.255"]
    assert sorted(ips, key=ip_sort_key) == ["9.255.255.255", "10.10.2.5", "10.10.2.6",
                                            "10.10.2.12"]


def test_ip_sort_key_ipv4_before_ipv6_before_nothing() -> None:
    ips = [None, "fd00::1", "not an ip", "255.255.255.255", "::1", "", "0.0.0.1"]
    ordered = sorted(ips, key=ip_sort_key)
    assert ordered[:4] == ["0.0.0.1", "255.255.255.255", "::1", "fd00::1"]
    assert set(ordered[4:]) == {None, "not an ip", ""}


@given(st.ip_addresses(v=4), st.ip_addresses(v=6))
def test_ip_sort_key_any_ipv4_before_any_ipv6(v4, v6) -> None:
    assert ip_sort_key(str(v4)) < ip_sort_key(str(v6)) < ip_sort_key(None)


# -- SecurityGroup.allows_ssh ------------------------------------------------------------------

def group(*rules: SecurityRule) -> SecurityGroup:
    return SecurityGroup("c", "g", "g", rules=list(rules))


@pytest.mark.parametrize("rule", [
    SecurityRule("ingress", "tcp", 22, 22),
    SecurityRule("ingress", "tcp", 20, 30),
    SecurityRule("ingress", "tcp", None, None),
    SecurityRule("ingress", None, None, None),
    SecurityRule("ingress", "6", 22, 22),
    SecurityRule("ingress", "tcp", 22, 22, "IPv6", "::/0"),
])
def test_allows_ssh(rule: SecurityRule) -> None:
    assert group(rule).allows_ssh()


@pytest.mark.parametrize("rule", [
    SecurityRule("egress", "tcp", 22, 22),
    SecurityRule("ingress", "udp", 22, 22),
    SecurityRule("ingress", "icmp", None, None),
    SecurityRule("ingress", "tcp", 80, 80),
    SecurityRule("ingress", "tcp", 23, 65535),
    SecurityRule("ingress", "tcp", 1, 21),
])
def test_does_not_allow_ssh(rule: SecurityRule) -> None:
    assert not group(rule).allows_ssh()


def test_empty_group_does_not_allow_ssh() -> None:
    assert not group().allows_ssh()
    assert group(SecurityRule("ingress", "tcp", 80, 80),
                 SecurityRule("ingress", "tcp", 22, 22)).allows_ssh()
