"""Issue 26, item by item: the CloudStack driver against the fake made faithful to a real
management server (accounts and roles, two API generations, host names, expunge permission,
rule normalisation, firewall conflicts, failed jobs that leave their object, page size, the
zone's type).  Every case here failed with the driver as it was."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from minicloud.drivers.base import ServerSpec
from minicloud.drivers.cloudstack.driver import CloudStackDriver
from minicloud.model.errors import CONFLICT, INVALID, DriverError
from minicloud.model.objects import SecurityRule
from tests.drivers.fake_cloudstack import (
    DOMAIN_ADMIN,
    USER,
    FakeCloudStack,
    fake_cloudstack_driver,
)

SSH = SecurityRule("ingress", "tcp", 22, 22, "IPv4", "0.0.0.0/0")


def by_name(objs: list[Any]) -> dict[str, Any]:
    return {o.name: o for o in objs}


def spec(driver: CloudStackDriver, name: str, network_id: str, **kw: Any) -> ServerSpec:
    image = by_name(driver.list_images())["cirros"]
    flavor = by_name(driver.list_flavors())["m1.tiny"]
    return ServerSpec(name, image.id, flavor.id, network_id, **kw)


@contextmanager
def as_role(role: str, generation: str = "4.20",
            **fake_kw: Any) -> Iterator[tuple[CloudStackDriver, FakeCloudStack]]:
    """A driver with the keys of a new account of ``role`` on a fresh fake."""
    fake = FakeCloudStack(generation=generation, **fake_kw)
    account = fake.add_account("alice", role) if role != "Admin" else None
    with fake_cloudstack_driver(fake=fake, account=account) as pair:
        yield pair


def sent(fake: FakeCloudStack, command: str) -> list[dict[str, str]]:
    return [p for c, p in fake.calls if c == command]


# -- 1. the key pair, on current servers ------------------------------------------------------

@pytest.mark.parametrize(("generation", "param"), [("4.20", "keypairs"), ("4.15", "keypair")])
def test_the_key_pair_is_sent_and_read_back_in_each_generations_words(generation: str,
                                                                      param: str) -> None:
    with as_role("Admin", generation) as (driver, fake):
        driver.create_keypair("minicloud-me", "ssh-ed25519 AAAA me")
        net = driver.create_network("n1", "10.1.0.0/24")
        server = driver.create_server(spec(driver, "vm", net.id, key_name="minicloud-me"))
        assert [p.get(param) for p in sent(fake, "deployVirtualMachine")] == ["minicloud-me"]
        assert server.key_name == "minicloud-me"
        assert by_name(driver.list_servers())["vm"].key_name == "minicloud-me"


# -- 2. names a real server refuses -----------------------------------------------------------

@pytest.mark.parametrize("name", ["web_1", "db.1", "1web", "web-", "w" * 64])
def test_an_instance_name_that_is_no_host_name_is_refused_before_any_request(name: str) -> None:
    with as_role("Admin") as (driver, fake):
        net = driver.create_network("n1", "10.1.0.0/24")
        with pytest.raises(DriverError, match="CloudStack instance names are host names: "
                                              "letters, digits and '-'") as err:
            driver.create_server(spec(driver, name, net.id))
        assert err.value.reason == INVALID
        assert sent(fake, "deployVirtualMachine") == []
        assert CloudStackDriver.check_name("instance", "w" * 63) == "w" * 63


# -- 3. deleting as a regular user ------------------------------------------------------------

def test_a_regular_user_deletes_without_expunge_and_is_told_what_stays() -> None:
    with as_role(USER) as (driver, fake):
        net = driver.create_network("n1", "10.1.0.0/24")
        server = driver.create_server(spec(driver, "vm", net.id))
        said: list[str] = []
        driver.progress = said.append
        driver.delete_server(server.id)
        assert [p.get("expunge") for p in sent(fake, "destroyVirtualMachine")] == [None]
        assert driver.list_servers() == []  # destroyed: hidden from a user
        assert fake.tables["vms"][server.id]["state"] == "Destroyed"  # until expunge.delay
        assert any("expunges it after its expunge delay" in line for line in said), said
        with pytest.raises(DriverError) as err:
            driver.delete_network(net.id)  # its destroyed machine keeps it
        assert "this API key may not expunge" in str(err.value)
        assert "\n" not in str(err.value)
        fake.expunge_delay = 0  # the expunge thread has run
        driver.delete_network(net.id)
        assert fake.tables["networks"] == {}


def test_a_failed_create_as_a_regular_user_is_destroyed_without_expunge() -> None:
    with as_role(USER) as (driver, fake):
        net = driver.create_network("n1", "10.1.0.0/24")
        fake.fail("createTags", in_job=True)
        with pytest.raises(DriverError):
            driver.create_server(spec(driver, "vm", net.id))
        assert [p.get("expunge") for p in sent(fake, "destroyVirtualMachine")] == [None]
        assert [vm["state"] for vm in fake.tables["vms"].values()] == ["Destroyed"]


def test_an_admin_expunges() -> None:
    for role in ("Admin", DOMAIN_ADMIN):
        with as_role(role) as (driver, fake):
            net = driver.create_network("n1", "10.1.0.0/24")
            driver.delete_server(driver.create_server(spec(driver, "vm", net.id)).id)
            assert [p.get("expunge") for p in sent(fake, "destroyVirtualMachine")] == ["true"]
            assert fake.tables["vms"] == {}


# -- 4. roles and accounts --------------------------------------------------------------------

def test_a_regular_user_finds_the_public_network_as_a_user_can() -> None:
    with as_role(USER) as (driver, fake):
        public = next(n for n in driver.list_networks() if n.external)
        assert (public.name, public.cidrs) == ("public", [])  # the ranges are an admin's
        assert sent(fake, "listVlanIpRanges") == []
        snap = driver.snapshot()
        assert "public" in by_name(snap.networks)
        router = driver.create_router("vpc1", public.id)
        assert router.gateway_network_id == public.id


def test_a_root_admin_sees_only_its_own_accounts_resources() -> None:
    with as_role("Admin") as (driver, fake):
        bob = fake.add_account("bob", USER)
        with fake_cloudstack_driver("bob", fake, bob) as (theirs, _):
            net = theirs.create_network("bobnet", "10.9.0.0/24")
            theirs.create_server(spec(theirs, "bobvm", net.id))
            theirs.create_security_group("bobgroup")
            theirs.create_keypair("minicloud-bob", "ssh-ed25519 AAAA bob")
        snap = driver.snapshot()
        assert snap.instances == [] and "bobnet" not in by_name(snap.networks)
        assert [g.name for g in snap.security_groups] == ["default"]  # its own default
        assert driver.list_keypairs() == []
        mine = next(g for g in fake.tables["groups"].values()
                    if g["name"] == "default" and g["account"] == "admin")
        assert driver._group_named("default")["id"] == mine["id"]


# -- 5. security group rules ------------------------------------------------------------------

def test_rules_are_sent_as_a_server_accepts_them_and_never_twice() -> None:
    with as_role("Admin") as (driver, fake):
        group = driver.create_security_group("g")
        everything = SecurityRule("ingress", "tcp", None, None, "IPv4", None)
        group = driver.add_security_group_rule(group.id, everything)  # all ports, anywhere
        assert [(r.protocol, r.port_min, r.port_max, r.remote_ip_prefix)
                for r in group.rules] == [("tcp", 0, 65535, "0.0.0.0/0")]
        driver.add_security_group_rule(group.id, everything)  # there already: no request
        driver.add_security_group_rule(group.id, SSH)
        driver.add_security_group_rule(group.id, SSH)
        driver.add_security_group_rule(group.id, SecurityRule("ingress", None))  # all, no ports
        assert len(sent(fake, "authorizeSecurityGroupIngress")) == 3
        assert [p.get("startport") for p in sent(fake, "authorizeSecurityGroupIngress")] == [
            "0", "22", None]


# -- 6. firewall rule conflicts ---------------------------------------------------------------

def test_two_groups_that_both_open_ssh_open_it_once_and_the_other_keeps_it() -> None:
    with as_role("Admin") as (driver, fake):
        public = next(n for n in driver.list_networks() if n.external)
        net = driver.create_network("n1", "10.1.0.0/24")
        server = driver.create_server(spec(driver, "vm", net.id))
        groups = [driver.add_security_group_rule(driver.create_security_group(g).id, SSH)
                  for g in ("a", "b")]
        for group in groups:
            driver.add_server_security_group(server.id, group.id)
        fip = driver.allocate_public_ip(public.id, router_id=net.id)
        driver.associate_public_ip(fip.id, server.id)  # opens a's and b's rules: one rule
        assert [(r["protocol"], r["startport"]) for r in fake.tables["firewall"].values()] == [
            ("tcp", 22)]
        driver.remove_server_security_group(server.id, groups[0].id)
        rules = list(fake.tables["firewall"].values())
        assert [(r["protocol"], r["startport"]) for r in rules] == [("tcp", 22)]  # b's now
        assert {t["value"] for t in rules[0]["tags"] if t["key"] == "minicloud_group"} == {"b"}


# -- 7. leftovers after a failed job ----------------------------------------------------------

@pytest.mark.parametrize(("command", "table"), [("deployVirtualMachine", "vms"),
                                                ("createVPC", "vpcs"),
                                                ("associateIpAddress", "ips")])
def test_what_a_failed_job_leaves_is_undone(command: str, table: str) -> None:
    with as_role("Admin") as (driver, fake):
        public = next(n for n in driver.list_networks() if n.external)
        vpc = driver.create_router("keep", public.id)
        tier = driver.create_network("tier", "10.5.1.0/24", router_id=vpc.id)
        before = set(fake.tables[table])
        fake.fail(command, 530, "the job broke", in_job=True)
        calls = {"deployVirtualMachine": lambda: driver.create_server(spec(driver, "vm", tier.id)),
                 "createVPC": lambda: driver.create_router("vpc2", public.id),
                 "associateIpAddress": lambda: driver.allocate_public_ip(public.id,
                                                                         router_id=vpc.id)}
        with pytest.raises(DriverError, match="the job broke") as err:
            calls[command]()
        assert "CloudStack made was deleted again" in str(err.value)
        assert set(fake.tables[table]) == before


def test_a_leftover_that_cannot_be_undone_is_marked_for_reset() -> None:
    with as_role("Admin") as (driver, fake):
        net = driver.create_network("n1", "10.1.0.0/24")
        fake.fail("deployVirtualMachine", 530, "the job broke", in_job=True)
        fake.fail("destroyVirtualMachine", 530, "cannot destroy")
        with pytest.raises(DriverError, match="left behind, marked as MiniCloud's") as err:
            driver.create_server(spec(driver, "vm", net.id))
        assert "\n" not in str(err.value)
        [vm] = fake.tables["vms"].values()
        assert vm["state"] == "Error" and {"key": "minicloud", "value": "true"} in [
            {"key": t["key"], "value": t["value"]} for t in vm["tags"]]


# -- 8. version differences -------------------------------------------------------------------

def test_a_4_15_server_is_never_asked_for_an_address_it_would_ignore() -> None:
    with as_role("Admin", "4.15") as (driver, fake):
        public = next(n for n in driver.list_networks() if n.external)
        router = driver.create_router("vpc1", public.id)
        with pytest.raises(DriverError) as err:
            driver.allocate_public_ip(public.id, "203.0.113.50", router.id)
        assert err.value.reason == INVALID and "leave the address out" in str(err.value)
        assert sent(fake, "associateIpAddress") == []
        assert driver.allocate_public_ip(public.id, None, router.id).name


def test_a_4_15_server_without_created_on_networks_keeps_the_tiers_order() -> None:
    # NetworkResponse has no ``created`` before 4.16: the tiers keep the listing's order.
    with as_role("Admin", "4.15") as (driver, _):
        router = driver.create_router("vpc1")
        tiers = [driver.create_network(f"t{i}", f"10.5.{i}.0/24", router.id).id
                 for i in range(3)]
        assert by_name(driver.list_routers())["vpc1"].interface_network_ids == tiers


# -- 9. smaller ones --------------------------------------------------------------------------

def test_a_tier_without_an_acl_gets_minicloud_s_own_list() -> None:
    with as_role("Admin") as (driver, fake):
        router = driver.create_router("vpc1")
        tier = driver.create_network("tier1", "10.5.1.0/24", router_id=router.id)
        assert "aclid" not in fake.tables["networks"][tier.id]  # made without one
        server = driver.create_server(spec(driver, "vm", tier.id))
        group = driver.add_security_group_rule(driver.create_security_group("ssh").id, SSH)
        driver.add_server_security_group(server.id, group.id)
        [acl] = [a for a in fake.tables["acl_lists"].values() if a["vpcid"] == router.id]
        assert fake.tables["networks"][tier.id]["aclid"] == acl["id"]
        assert [(i["protocol"], i["startport"]) for i in fake.tables["acls"].values()] == [
            ("tcp", "22")]


def test_rebooting_a_stopped_server_is_refused_as_the_server_refuses_it() -> None:
    with as_role("Admin") as (driver, _):
        net = driver.create_network("n1", "10.1.0.0/24")
        server = driver.create_server(spec(driver, "vm", net.id))
        driver.stop_server(server.id)
        with pytest.raises(DriverError) as err:
            driver.reboot_server(server.id)
        assert err.value.reason == INVALID and "is not running" in str(err.value)


def test_a_server_whose_page_size_is_lower_is_read_in_its_own_pages() -> None:
    with as_role("Admin") as (driver, fake):
        fake.page_size = 2
        net = driver.create_network("n1", "10.1.0.0/24")
        for i in range(3):
            driver.create_server(spec(driver, f"vm{i}", net.id))
        assert len(driver.list_servers()) == 3
        assert {p["pagesize"] for c, p in fake.calls[-3:]} == {"2"}


def test_a_hidden_failure_says_why_it_says_nothing() -> None:
    with as_role(USER) as (driver, fake):
        driver.setup()
        fake.fail("createNetwork", 530, "NullPointerException in the guru")
        with pytest.raises(DriverError) as err:
            driver.create_network("n1", "10.1.0.0/24")
        text = str(err.value)
        assert "NullPointerException" not in text  # the server hid it from a user
        assert "the server tells the cause only to a root admin" in text


@pytest.mark.parametrize(("zone", "words"), [
    ({"network_type": "Basic"}, "a Basic zone has no isolated networks or VPCs"),
    ({"security_groups": True}, "an Advanced zone with security groups has no VPCs")])
def test_a_zone_minicloud_cannot_drive_is_refused_at_add(zone: dict[str, Any],
                                                        words: str) -> None:
    with as_role("Admin", **zone) as (driver, _):
        with pytest.raises(DriverError) as err:
            driver.setup()
        assert err.value.reason == INVALID and words in str(err.value)
        assert "\n" not in str(err.value)


def test_a_requested_private_address_in_use_is_a_conflict_for_every_role() -> None:
    for role in ("Admin", USER):
        with as_role(role) as (driver, fake):
            net = driver.create_network("n1", "10.1.0.0/24")
            driver.create_server(spec(driver, "vm", net.id, fixed_ip="10.1.0.20"))
            with pytest.raises(DriverError) as err:
                driver.create_server(spec(driver, "vm2", net.id, fixed_ip="10.1.0.20"))
            assert err.value.reason == CONFLICT and "in use by server vm" in str(err.value)
            assert len(sent(fake, "deployVirtualMachine")) == 1
