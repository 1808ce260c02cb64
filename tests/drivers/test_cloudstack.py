"""The CloudStack driver against the fake management server: what the contract suite does not
show (signatures, pages, async jobs, rollback, faults, tiers, static NAT, firewall and ACL
rules, secrets)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock

from minicloud.app import MiniCloud
from minicloud.config import Config
from minicloud.drivers.base import ServerSpec
from minicloud.drivers.cloudstack import session as cs_session
from minicloud.drivers.cloudstack.driver import CloudStackDriver
from minicloud.drivers.cloudstack.network import NO_ATTACH
from minicloud.model.errors import (
    CONFLICT,
    NOT_FOUND,
    QUOTA,
    SERVER,
    UNAUTHORIZED,
    CredentialsNeeded,
    DriverError,
)
from minicloud.model.objects import Cloud, SecurityRule
from tests.drivers.fake_cloudstack import (
    CLOUD_SETTINGS,
    SECRET_KEY,
    FakeCloudStack,
    fake_cloudstack,
    fake_cloudstack_driver,
)

SSH = SecurityRule("ingress", "tcp", 22, 22, "IPv4", "0.0.0.0/0")


def by_name(objs: list[Any]) -> dict[str, Any]:
    return {o.name: o for o in objs}


def spec(driver: CloudStackDriver, name: str, network_id: str, **kw: Any) -> ServerSpec:
    image = by_name(driver.list_images())["cirros"]
    flavor = by_name(driver.list_flavors())["m1.tiny"]
    return ServerSpec(name, image.id, flavor.id, network_id, **kw)


# -- the protocol ------------------------------------------------------------------------------

def test_a_wrong_secret_is_refused_by_its_signature() -> None:
    with fake_cloudstack() as fake:
        cloud = Cloud("cs1", "cloudstack", settings=dict(CLOUD_SETTINGS))
        driver = CloudStackDriver(cloud, {"secret_key": "not-the-secret"})
        with pytest.raises(DriverError) as err:
            driver.list_networks()
        assert err.value.reason == UNAUTHORIZED and "error 401" in str(err.value)
        assert "not-the-secret" not in str(err.value)
        assert fake.refused == 1 and fake.calls == []


def test_no_secret_asks_for_one() -> None:
    with fake_cloudstack():
        driver = CloudStackDriver(Cloud("cs1", "cloudstack", settings=dict(CLOUD_SETTINGS)))
        with pytest.raises(CredentialsNeeded, match="CLOUDSTACK_SECRET"):
            driver.setup()


def test_a_sync_is_one_request_per_page_per_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cs_session, "PAGE_SIZE", 2)
    with fake_cloudstack_driver() as (driver, fake):
        net = driver.create_network("n1", "10.1.0.0/24")
        for i in range(5):
            driver.create_server(spec(driver, f"vm{i}", net.id))
        driver.setup()  # the login (capabilities, zone, public network) is read once
        fake.calls.clear()
        snap = driver.snapshot()
        assert len(snap.instances) == 5
        sizes = {"listVirtualMachines": 5, "listTemplates": 2, "listServiceOfferings": 3,
                 "listVPCs": 0, "listPublicIpAddresses": 0, "listSecurityGroups": 1,
                 "listVlanIpRanges": 1}
        for command, items in sizes.items():
            assert fake.count(command) == max(1, math.ceil(items / 2)), command
        assert fake.count("listNetworks") == 2  # guest networks, the public network
        assert len(fake.calls) == 12  # nine kinds; no request per server


def test_async_jobs_are_polled_until_done() -> None:
    with fake_cloudstack_driver() as (driver, fake):
        fake.job_polls = 2
        net = driver.create_network("n1", "10.1.0.0/24")
        fake.calls.clear()
        server = driver.create_server(spec(driver, "vm", net.id))
        assert server.status == "ACTIVE"
        # deploy and createTags: each answered "pending" twice, then done.
        assert fake.count("queryAsyncJobResult") == 2 * 3


# -- rollback and faults -----------------------------------------------------------------------

def test_a_server_that_cannot_be_tagged_is_destroyed() -> None:
    with fake_cloudstack_driver() as (driver, fake):
        net = driver.create_network("n1", "10.1.0.0/24")
        fake.fail("createTags", 530, "tagging broke", in_job=True)
        with pytest.raises(DriverError, match="tagging broke") as err:
            driver.create_server(spec(driver, "vm", net.id))
        assert err.value.reason == SERVER
        assert fake.tables["vms"] == {}  # no orphan: an untagged server would never be reset


def test_a_network_that_cannot_be_tagged_is_deleted_and_a_failed_undo_is_named() -> None:
    with fake_cloudstack_driver() as (driver, fake):
        fake.fail("createTags", in_job=True)
        with pytest.raises(DriverError):
            driver.create_network("n1", "10.1.0.0/24")
        assert fake.tables["networks"] == {}
        fake.fail("createTags", in_job=True)
        fake.fail("deleteNetwork")
        with pytest.raises(DriverError, match="left behind"):
            driver.create_network("n2", "10.2.0.0/24")


@pytest.mark.parametrize(("code", "reason"), [(532, QUOTA), (536, CONFLICT), (530, SERVER),
                                              (401, UNAUTHORIZED)])
def test_error_codes_map_to_reasons(code: int, reason: str) -> None:
    with fake_cloudstack_driver() as (driver, fake):
        fake.fail("listVirtualMachines", code, f"failure {code}")
        with pytest.raises(DriverError) as err:
            driver.list_servers()
        assert err.value.reason == reason and f"error {code}: failure {code}" in str(err.value)


def test_a_missing_entity_is_not_found_and_a_dead_endpoint_unreachable() -> None:
    with fake_cloudstack_driver() as (driver, _):
        with pytest.raises(DriverError) as err:
            driver.delete_network("00000000-0000-0000-0000-000000000000")
        assert err.value.reason == NOT_FOUND
    cloud = Cloud("cs1", "cloudstack", settings={**CLOUD_SETTINGS,
                                                  "endpoint": "http://127.0.0.1:9/client/api"})
    with pytest.raises(DriverError, match="unreachable"):
        CloudStackDriver(cloud, {"secret_key": SECRET_KEY}).setup()


# -- the request timeout ([cloudstack] timeout in minicloud.ini) ------------------------------

def _session_driver(tmp_path: Path, timeouts: dict[str, float],
                    settings: dict[str, str] | None = None) -> tuple[Any, CloudStackDriver]:
    from minicloud.managers.session import Session

    config = Config(home=tmp_path, db_url=f"sqlite:///{tmp_path}/m.db", timeouts=timeouts)
    session = Session(config)
    cloud = Cloud("cs1", "cloudstack", settings=dict(settings or CLOUD_SETTINGS))
    driver = session.drivers.build(cloud, {"secret_key": SECRET_KEY})
    assert isinstance(driver, CloudStackDriver)
    return session, driver


@pytest.mark.parametrize(("timeouts", "seconds"), [
    ({}, 60.0), ({"cloudstack": 2.5}, 2.5), ({"openstack": 9.0}, 60.0)])
def test_every_request_waits_the_ini_timeout(tmp_path: Path, timeouts: dict[str, float],
                                             seconds: float) -> None:
    session, driver = _session_driver(tmp_path, timeouts)
    try:
        with requests_mock.Mocker() as mocker:
            FakeCloudStack().install(mocker)
            driver.setup()
            assert driver.list_flavors()
        history = mocker.request_history
        assert history and {r.timeout for r in history} == {seconds}
    finally:
        driver.close()
        session.close()


def test_a_timed_out_request_names_the_ini_timeout(tmp_path: Path) -> None:
    session, driver = _session_driver(tmp_path, {"cloudstack": 4.0})
    try:
        with requests_mock.Mocker() as mocker:
            mocker.register_uri(requests_mock.ANY, CLOUD_SETTINGS["endpoint"],
                                exc=requests.exceptions.ReadTimeout("read timed out"))
            with pytest.raises(DriverError) as err:
                driver.setup()
        assert err.value.reason == "timed out"
        assert str(err.value) == ("cloud cs1: log in timed out: no answer from "
                                  "https://cloudstack.example.com within 4 s ([cloudstack] "
                                  "timeout in minicloud.ini)")
        assert len(str(err.value).splitlines()) == 1
    finally:
        driver.close()
        session.close()


@pytest.mark.parametrize(("own", "seconds"), [("", 2.5), ("timeout = 3\n", 3.0)])
def test_a_cloudstack_ini_sections_own_timeout_wins(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    own: str, seconds: float) -> None:
    ini = tmp_path / "cloudstack.ini"
    ini.write_text(f"[lab]\nendpoint = {CLOUD_SETTINGS['endpoint']}\nkey = fake-api-key\n"
                   f"secret = {SECRET_KEY}\n{own}")
    monkeypatch.setenv("CLOUDSTACK_CONFIG", str(ini))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CLOUDSTACK_TIMEOUT", raising=False)
    session, driver = _session_driver(tmp_path, {"cloudstack": 2.5}, {"cs_config": "lab"})
    try:
        with requests_mock.Mocker() as mocker:
            FakeCloudStack().install(mocker)
            driver.setup()
        history = mocker.request_history
        assert history and {r.timeout for r in history} == {seconds}
    finally:
        driver.close()
        session.close()


# -- VPCs, tiers, public IPs, SSH --------------------------------------------------------------

def test_a_vpc_has_tiers_a_source_nat_gateway_and_no_attach() -> None:
    with fake_cloudstack_driver() as (driver, fake):
        public = next(n for n in driver.list_networks() if n.external)
        assert (public.name, public.cidrs) == ("public", ["203.0.113.0/24"])
        router = driver.create_router("vpc1")
        assert router.owned and router.gateway_network_id == public.id
        tier = driver.create_network("tier1", "10.5.1.0/24", router_id=router.id)
        assert driver.list_routers()[0].interface_network_ids == [tier.id]
        other = driver.create_network("alone", "10.6.0.0/24")
        with pytest.raises(DriverError, match="cannot attach an existing network") as err:
            driver.add_router_interface(router.id, other.id)
        assert NO_ATTACH in str(err.value)
        assert driver.list_public_ips() == []  # the source NAT is the gateway, not for use
        with pytest.raises(DriverError, match="keeps a VPC's source NAT"):
            driver.clear_router_gateway(router.id)
        assert len(fake.tables["vpcs"]) == 1


def test_connect_on_a_vpc_tier_opens_ssh_with_an_acl_rule() -> None:
    with fake_cloudstack_driver() as (driver, fake):
        public = next(n for n in driver.list_networks() if n.external)
        router = driver.create_router("vpc1", public.id)
        tier = driver.create_network("tier1", "10.5.1.0/24", router_id=router.id)
        server = driver.create_server(spec(driver, "vm", tier.id, security_groups=["default"]))
        fip = driver.allocate_public_ip(public.id, "203.0.113.50")
        bound = driver.associate_public_ip(fip.id, server.id)
        assert (bound.instance_id, bound.fixed_ip) == (server.id, server.private_ip)
        group = driver.create_security_group("public_ssh")
        group = driver.add_security_group_rule(group.id, SSH)
        assert driver.add_security_group_rule(group.id, SSH).rules == group.rules
        assert driver.add_server_security_group(server.id, group.id).security_groups == [
            "default", "public_ssh"]
        items = list(fake.tables["acls"].values())
        assert [(i["protocol"], i["startport"], i["action"]) for i in items] == [
            ("tcp", "22", "Allow")]
        assert fake.tables["networks"][tier.id]["aclid"] == items[0]["aclid"]
        after = driver.remove_server_security_group(server.id, group.id)
        assert after.security_groups == ["default"] and fake.tables["acls"] == {}
        assert driver.disassociate_public_ip(fip.id).instance_id is None


def test_connect_on_an_isolated_network_opens_ssh_with_a_firewall_rule() -> None:
    with fake_cloudstack_driver() as (driver, fake):
        public = next(n for n in driver.list_networks() if n.external)
        net = driver.create_network("n1", "10.1.0.0/24")
        server = driver.create_server(spec(driver, "vm", net.id))
        group = driver.add_security_group_rule(driver.create_security_group("public_ssh").id,
                                               SSH)
        driver.add_server_security_group(server.id, group.id)
        assert fake.tables["firewall"] == {}  # no address yet: nothing to open
        fip = driver.allocate_public_ip(public.id, router_id=net.id)
        driver.associate_public_ip(fip.id, server.id)
        rules = list(fake.tables["firewall"].values())
        assert [(r["ipaddress"], r["startport"]) for r in rules] == [(fip.name, 22)]
        driver.disassociate_public_ip(fip.id)
        assert fake.tables["firewall"] == {}
        driver.release_public_ip(fip.id)
        assert driver.list_public_ips() == []


# -- settings and secrets ----------------------------------------------------------------------

def test_the_secret_key_is_never_stored(tmp_path: Path) -> None:
    with fake_cloudstack():
        app = MiniCloud(Config(home=tmp_path, db_url=f"sqlite:///{tmp_path}/mc.db")).open()
        cloud = app.clouds.add("cs1", "cloudstack", "", dict(CLOUD_SETTINGS), SECRET_KEY)
        assert "secret_key" not in cloud.settings and "password" not in cloud.settings
        app.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert SECRET_KEY.encode() not in stored and b"fake-api-key" in stored


def test_a_cloudstack_ini_section_is_enough(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    ini = tmp_path / "cloudstack.ini"
    ini.write_text(f"[lab]\nendpoint = {CLOUD_SETTINGS['endpoint']}\nkey = fake-api-key\n"
                   f"secret = {SECRET_KEY}\n")
    monkeypatch.setenv("CLOUDSTACK_CONFIG", str(ini))
    monkeypatch.setenv("HOME", str(tmp_path))
    from minicloud.drivers.cloudstack.session import ini_sections

    assert "lab" in ini_sections()
    with fake_cloudstack(FakeCloudStack()):
        driver = CloudStackDriver(Cloud("cs1", "cloudstack", settings={"cs_config": "lab"}))
        driver.setup()  # the only zone, the file's keys
        assert by_name(driver.list_flavors())["m1.tiny"].ram == 512
