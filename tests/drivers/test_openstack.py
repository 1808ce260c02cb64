"""OpenStack driver tests that go beyond the shared contract, against the offline fake."""

from __future__ import annotations

import ipaddress
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from minicloud.drivers.base import CLUSTER_KEY, OWNER_TAG, ServerSpec
from minicloud.drivers.openstack.driver import OpenStackDriver
from minicloud.model import errors
from minicloud.model.errors import DriverError
from minicloud.model.objects import Cloud, SecurityRule
from tests.drivers.fake_openstack import (
    AUTH_URL,
    PASSWORD,
    FakeOpenStack,
    fake_openstack_driver,
)

ROOT = Path(__file__).resolve().parents[2]
SSH = SecurityRule("ingress", "tcp", 22, 22, "IPv4", "0.0.0.0/0")


@pytest.fixture
def env():
    with fake_openstack_driver() as pair:
        yield pair


def _ids(driver):
    images = {i.name: i.id for i in driver.list_images()}
    flavors = {f.name: f.id for f in driver.list_flavors()}
    public = next(n for n in driver.list_networks() if n.name == "public")
    return images, flavors, public


def _spec(driver, name, network_id, **kwargs):
    images, flavors, _ = _ids(driver)
    return ServerSpec(name=name, image_id=images["cirros"], flavor_id=flavors["m1.tiny"],
                      network_id=network_id, **kwargs)


def _add_external(fake, name, cidr):
    with fake.lock:
        network = fake.add_network(name, external=True)
        fake.add_subnet(network["id"], f"{name}-subnet", cidr)
    return network["id"]


# -- security group rules ----------------------------------------------------------------------


def test_duplicate_rule_conflict_is_success(env):
    driver, fake = env
    group = driver.create_security_group("public_ssh", "SSH")
    driver.add_security_group_rule(group.id, SSH)
    group = driver.add_security_group_rule(group.id, SSH)
    conflicts = [c for c in fake.calls if c.path == "/v2.0/security-group-rules"]
    assert [c.status for c in conflicts] == [201, 409]
    ingress = [r for r in group.rules if r.direction == "ingress"]
    assert len(ingress) == 1 and ingress[0].allows_tcp(22)
    assert group.allows_ssh()


def test_rule_quota_conflict_is_not_success(env):
    driver, fake = env
    group = driver.create_security_group("g1")
    fake.fail("POST", "/v2.0/security-group-rules", status=409,
              message="Quota exceeded for resources: ['security_group_rule'].")
    with pytest.raises(DriverError) as caught:
        driver.add_security_group_rule(group.id, SSH)
    assert caught.value.reason == errors.QUOTA


# -- public IPs --------------------------------------------------------------------------------


def test_public_ip_is_allocated_on_the_given_network(env):
    driver, fake = env
    other = _add_external(fake, "other-ext", "198.51.100.0/24")
    ip = driver.allocate_public_ip(other)
    assert ip.network_id == other
    assert ipaddress.ip_address(ip.address) in ipaddress.ip_network("198.51.100.0/24")
    assert fake.floating_ips[ip.id]["floating_network_id"] == other
    assert ip.owned and OWNER_TAG in fake.floating_ips[ip.id]["tags"]

    _, _, public = _ids(driver)
    fixed = driver.allocate_public_ip(public.id, "203.0.113.50")
    assert (fixed.address, fixed.network_id) == ("203.0.113.50", public.id)
    assert fake.floating_ips[fixed.id]["floating_ip_address"] == "203.0.113.50"


def test_association_picks_the_port_routed_to_the_ip_network(env):
    driver, fake = env
    _, _, public = _ids(driver)
    other = _add_external(fake, "other-ext", "198.51.100.0/24")
    net_a = driver.create_network("NetA", "10.1.0.0/24")
    net_b = driver.create_network("NetB", "10.2.0.0/24")
    router_a = driver.create_router("RouterA", public.id)
    driver.add_router_interface(router_a.id, net_a.id)
    router_b = driver.create_router("RouterB", other)
    driver.add_router_interface(router_b.id, net_b.id)
    with fake.lock:
        server = fake.add_server("dual", [net_a.id, net_b.id])
    port_a, port_b = fake.server_ports(server["id"])

    ip_other = driver.allocate_public_ip(other)
    bound = driver.associate_public_ip(ip_other.id, server["id"])
    assert bound.port_id == port_b["id"]  # not the first port: that one leads to "public"
    assert bound.fixed_ip == port_b["fixed_ips"][0]["ip_address"]
    assert bound.instance_id == server["id"]
    assert fake.floating_ips[ip_other.id]["router_id"] == router_b.id

    ip_public = driver.allocate_public_ip(public.id)
    bound = driver.associate_public_ip(ip_public.id, server["id"])
    assert bound.port_id == port_a["id"]

    released = driver.disassociate_public_ip(ip_other.id)
    assert (released.port_id, released.instance_id) == (None, None)
    assert fake.floating_ips[ip_other.id]["port_id"] is None


def test_association_without_route_fails_cleanly(env):
    driver, fake = env
    _, _, public = _ids(driver)
    net = driver.create_network("Lonely", "10.3.0.0/24")
    server = driver.create_server(_spec(driver, "alone", net.id))
    ip = driver.allocate_public_ip(public.id)
    with pytest.raises(DriverError) as caught:
        driver.associate_public_ip(ip.id, server.id)
    assert caught.value.reason == errors.NOT_FOUND
    assert fake.floating_ips[ip.id]["port_id"] is None


# -- rollback ----------------------------------------------------------------------------------


def test_failed_server_create_leaves_nothing(env):
    driver, fake = env
    net = driver.create_network("N1", "10.0.0.0/24")
    spec = _spec(driver, "doomed", net.id)
    fake.fail("GET", r"/v2\.0/ports", status=500)  # after Nova accepted the server
    with pytest.raises(DriverError) as caught:
        driver.create_server(spec)
    assert caught.value.reason == errors.SERVER
    assert caught.value.operation == "create server doomed"
    assert fake.servers == {}
    assert [p for p in fake.ports.values() if p["network_id"] == net.id] == []
    assert fake.count("DELETE", r"/v2\.1/servers/[^/]+") == 1


def test_server_create_refused_leaves_nothing(env):
    driver, fake = env
    net = driver.create_network("N1", "10.0.0.0/24")
    fake.fail("POST", r"/v2\.1/servers", status=500)
    with pytest.raises(DriverError):
        driver.create_server(_spec(driver, "refused", net.id))
    assert fake.servers == {} and fake.ports == {}


def test_network_create_rolls_back_when_subnet_fails(env):
    driver, fake = env
    fake.fail("POST", r"/v2\.0/subnets", status=500)
    with pytest.raises(DriverError) as caught:
        driver.create_network("LondonNet", "10.10.2.0/24")
    assert caught.value.operation == "create network LondonNet"
    assert [n["name"] for n in fake.networks.values()] == ["public"]
    assert fake.count("DELETE", r"/v2\.0/networks/[^/]+") == 1


def test_network_rollback_failure_names_what_is_left(env):
    driver, fake = env
    fake.fail("POST", r"/v2\.0/subnets", status=500)
    fake.fail("DELETE", r"/v2\.0/networks/[^/]+", status=500)
    with pytest.raises(DriverError) as caught:
        driver.create_network("LondonNet", "10.10.2.0/24")
    assert "left behind" in caught.value.detail
    assert "LondonNet" in str(caught.value)


def test_bad_cidr_is_a_driver_error(env):
    driver, _ = env
    with pytest.raises(DriverError) as caught:
        driver.create_network("Bad", "10.0.0.300/24")
    assert caught.value.reason == errors.FAILED


# -- error mapping -----------------------------------------------------------------------------

ERROR_CASES = [
    ("POST", r"/v3/auth/tokens", {"status": 401}, errors.UNAUTHORIZED),
    # keystoneauth logs in again after a 401 and retries once: the second 401 sticks.
    ("POST", r"/v2\.0/networks", {"status": 401, "times": 2}, errors.UNAUTHORIZED),
    ("POST", r"/v2\.0/networks", {"status": 403}, errors.FORBIDDEN),
    ("POST", r"/v2\.0/networks", {"status": 404}, errors.NOT_FOUND),
    ("POST", r"/v2\.0/networks", {"status": 409}, errors.CONFLICT),
    ("POST", r"/v2\.0/networks", {"status": 413, "message": "Request too large"}, errors.QUOTA),
    ("POST", r"/v2\.0/networks",
     {"status": 403, "message": "Quota exceeded for resources: ['network']."}, errors.QUOTA),
    ("POST", r"/v2\.0/networks", {"status": 500}, errors.SERVER),
    ("POST", r"/v2\.0/networks", {"status": 503}, errors.SERVER),
    ("POST", r"/v2\.0/networks", {"exc": requests.exceptions.ConnectTimeout}, errors.TIMEOUT),
    ("POST", r"/v2\.0/networks", {"exc": requests.exceptions.ReadTimeout}, errors.TIMEOUT),
    ("POST", r"/v2\.0/networks",
     {"exc": requests.exceptions.ConnectionError("[Errno 111] Connection refused")},
     errors.UNREACHABLE),
    ("POST", r"/v3/auth/tokens",
     {"exc": requests.exceptions.ConnectionError("[Errno 111] Connection refused")},
     errors.UNREACHABLE),
]


@pytest.mark.parametrize(("method", "path", "failure", "reason"), ERROR_CASES,
                         ids=[f"{c[0]} {c[1]} {c[2]}" for c in ERROR_CASES])
def test_errors_map_to_reasons(env, caplog, method, path, failure, reason):
    driver, fake = env
    caplog.set_level(logging.DEBUG)
    fake.fail(method, path, **failure)
    with pytest.raises(DriverError) as caught:
        driver.create_network("LondonNet", "10.10.2.0/24")
    err = caught.value
    assert err.reason == reason
    assert (err.cloud, err.operation) == ("os1", "create network LondonNet")
    assert str(err).startswith(f"cloud os1: create network LondonNet {reason}")
    assert PASSWORD not in str(err)
    assert PASSWORD not in caplog.text


def test_nova_quota_maps_to_quota(env):
    driver, fake = env
    net = driver.create_network("N1", "10.0.0.0/24")
    fake.quotas["instances"] = 0
    with pytest.raises(DriverError) as caught:
        driver.create_server(_spec(driver, "one-too-many", net.id))
    assert caught.value.reason == errors.QUOTA
    assert "Quota exceeded" in caught.value.detail


@pytest.mark.parametrize("echo", [f"bad body {{'password': '{PASSWORD}'}}",
                                  f'bad body {{"auth": {{"password": "{PASSWORD}"}}}}',
                                  f"bad value password={PASSWORD}",
                                  f"no route to https://user:{PASSWORD}@keystone.invalid/v3"])
def test_password_never_shows_when_the_cloud_echoes_it_in_a_secret_place(env, echo):
    driver, fake = env
    fake.fail("POST", r"/v2\.0/networks", status=400, message=echo)
    with pytest.raises(DriverError) as caught:
        driver.create_network("LondonNet", "10.10.2.0/24")
    assert PASSWORD not in str(caught.value)
    assert "***" in caught.value.detail


# -- sync --------------------------------------------------------------------------------------

LIST_PATHS = [r"/v2\.1/servers/detail", r"/v2\.0/networks", r"/v2\.0/subnets",
              r"/v2\.0/routers", r"/v2\.0/ports", r"/v2\.0/floatingips",
              r"/v2\.0/security-groups", r"/v2/images", r"/v2\.1/flavors/detail"]


def _sync_requests(servers: int, page_size: int = 1000) -> tuple[int, FakeOpenStack]:
    with fake_openstack_driver() as (driver, fake):
        fake.page_size = page_size
        net = driver.create_network("Big", "10.0.0.0/16")
        with fake.lock:
            for i in range(servers):
                fake.add_server(f"s{i}", [net.id])
        driver.close()  # a fresh connection: the count includes logging in
        fake.reset_count()
        snap = driver.snapshot()
        assert len(snap.instances) == servers
        assert all(i.nics and i.image == "cirros" for i in snap.instances)
        return fake.request_count, fake


def test_sync_request_count_does_not_grow_with_servers():
    small, fake = _sync_requests(10)
    large, _ = _sync_requests(200)
    assert small == large
    # 1 token + identity and compute/image version documents + one request per list: the 13
    # requests one openstacksdk process needs for these nine lists.
    assert small <= 1 + 3 + len(LIST_PATHS) == 13
    assert fake.count("GET", r"/v2\.1/os-keypairs") == 0
    assert fake.count("POST", "/v3/auth/tokens") == 1
    for path in LIST_PATHS:
        assert fake.count("GET", path) == 1, path
    assert fake.count("GET", r"/v2\.1/servers/[0-9a-f-]{36}") == 0


def test_sync_reads_one_request_per_page():
    single, _ = _sync_requests(10)
    paged, fake = _sync_requests(120, page_size=50)
    assert paged == single + 2
    assert fake.count("GET", r"/v2\.1/servers/detail") == 3


def test_sync_lists_concurrently():
    fake = FakeOpenStack()
    cloud = Cloud("os1", "openstack", settings={"auth_url": AUTH_URL, "project": "demo",
                                                "user": "demo"})
    driver = OpenStackDriver(cloud, {"password": PASSWORD})
    fake.mount(driver.conn.session.session)  # no Mocker: its global lock serialises requests
    driver.snapshot()  # log in first
    fake.latency = 0.3
    start = time.monotonic()
    snap = driver.snapshot()
    elapsed = time.monotonic() - start
    assert [n.name for n in snap.networks] == ["public"]
    assert elapsed < 0.3 * 10 / 2, f"the lists ran one after another ({elapsed:.2f} s)"


# -- ownership and what is read back -----------------------------------------------------------


def test_ownership_marks_are_set_and_read_back(env):
    driver, fake = env
    _, _, public = _ids(driver)
    net = driver.create_network("LondonNet", "10.10.2.0/24")
    router = driver.create_router("LondonGateway", public.id)
    group = driver.create_security_group("public_ssh")
    ip = driver.allocate_public_ip(public.id)
    key = driver.create_keypair("minicloud-me", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA me")
    foreign_key = driver.create_keypair("mine", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB me")
    server = driver.create_server(_spec(driver, "Tower", net.id, cluster="London"))
    with fake.lock:
        foreign = fake.add_server("not-ours", [net.id])

    network = fake.networks[net.id]
    assert OWNER_TAG in network["tags"]
    assert all(OWNER_TAG in fake.subnets[s]["tags"] for s in network["subnets"])
    assert OWNER_TAG in fake.routers[router.id]["tags"]
    assert OWNER_TAG in fake.security_groups[group.id]["tags"]
    assert OWNER_TAG in fake.floating_ips[ip.id]["tags"]
    assert fake.servers[server.id]["metadata"] == {OWNER_TAG: "true", CLUSTER_KEY: "London"}
    assert all(x.owned for x in (net, router, group, ip, key, server))
    assert not foreign_key.owned

    snap = driver.snapshot()
    owned = {r.name for r in snap.resources() if r.owned}
    assert owned == {"LondonNet", "LondonGateway", "public_ssh", ip.address, "Tower"}
    assert {k.name for k in driver.list_keypairs() if k.owned} == {"minicloud-me"}
    by_name = {i.name: i for i in snap.instances}
    assert by_name["Tower"].cluster == "London"
    assert by_name["not-ours"].cluster is None and not by_name["not-ours"].owned
    assert foreign["id"] in {i.id for i in snap.instances}


def test_tags_set_afterwards_when_creation_refuses_them(env):
    driver, fake = env
    fake.tags_on_create = False
    net = driver.create_network("OldNeutron", "10.9.0.0/24")
    assert net.owned and OWNER_TAG in fake.networks[net.id]["tags"]
    assert fake.count("PUT", r"/v2\.0/networks/[^/]+/tags") == 1
    assert fake.count("PUT", r"/v2\.0/subnets/[^/]+/tags") == 1


def test_instance_fields_come_from_ports_and_names(env):
    driver, fake = env
    net = driver.create_network("N1", "10.0.0.0/24")
    net2 = driver.create_network("N2", "10.0.1.0/24")
    images, flavors, _ = _ids(driver)
    group = driver.create_security_group("web")
    with fake.lock:
        raw = fake.add_server("multi", [net.id, net2.id], security_groups=["web", "default"])
    server = driver.get_server(raw["id"])
    assert [(n.network_id, n.ip) for n in server.nics] == [(net.id, "10.0.0.2"),
                                                           (net2.id, "10.0.1.2")]
    assert [n.port_id for n in server.nics] == [p["id"] for p in fake.server_ports(raw["id"])]
    assert server.security_groups == ["web", "default"]
    assert (server.image, server.flavor) == ("cirros", "m1.tiny")

    created = driver.create_server(ServerSpec("fixed", images["ubuntu"], flavors["m1.small"],
                                              net.id, security_groups=["default", "web"],
                                              fixed_ip="10.0.0.40"))
    assert created.private_ip == "10.0.0.40"
    assert (created.image, created.flavor) == ("ubuntu", "m1.small")
    assert created.security_groups == ["default", "web"]
    with pytest.raises(DriverError) as refused:  # never silently another address
        driver.create_server(_spec(driver, "taken", net.id, fixed_ip="10.0.0.40"))
    assert refused.value.reason == "conflict" and "10.0.0.40" in str(refused.value)
    with pytest.raises(DriverError) as refused:
        driver.create_server(_spec(driver, "taken", net.id, fixed_ip="10.9.9.9"))
    assert refused.value.reason == "refused as invalid"
    taken = driver.create_server(_spec(driver, "taken", net.id))
    assert taken.private_ip == "10.0.0.3"  # the lowest free host after .1
    with_group = driver.add_server_security_group(taken.id, group.id)
    assert with_group.security_groups == ["default", "web"]


def test_old_microversion_resolves_flavor_names_by_id(env):
    driver, fake = env
    fake.max_microversion = "2.1"
    net = driver.create_network("N1", "10.0.0.0/24")
    server = driver.create_server(_spec(driver, "old", net.id))
    assert server.flavor == "m1.tiny"
    assert "original_name" not in str(fake.calls)  # nothing special asked
    assert fake.count("GET", r"/v2\.1/flavors/detail") == 1  # the cached list, once


def test_router_reads_gateway_and_interfaces_in_order(env):
    driver, _ = env
    _, _, public = _ids(driver)
    first = driver.create_network("A", "10.0.0.0/24")
    second = driver.create_network("B", "10.0.1.0/24")
    router = driver.create_router("R")
    assert router.gateway_network_id is None
    router = driver.set_router_gateway(router.id, public.id)
    assert router.gateway_network_id == public.id
    driver.add_router_interface(router.id, first.id)
    router = driver.add_router_interface(router.id, second.id)
    assert router.interface_network_ids == [first.id, second.id]
    router = driver.remove_router_interface(router.id, first.id)
    assert router.interface_network_ids == [second.id]
    assert driver.clear_router_gateway(router.id).gateway_network_id is None
    with pytest.raises(DriverError) as caught:
        driver.remove_router_interface(router.id, first.id)
    assert caught.value.reason == errors.NOT_FOUND


def test_server_life_cycle_and_delete_waits(env):
    driver, fake = env
    net = driver.create_network("N1", "10.0.0.0/24")
    fake.build_gets = 2
    server = driver.create_server(_spec(driver, "s1", net.id))
    assert server.status == "BUILD"
    assert driver.wait_server(server.id, "ACTIVE", timeout=5).status == "ACTIVE"
    assert driver.stop_server(server.id).status == "SHUTOFF"
    assert driver.start_server(server.id).status == "ACTIVE"
    assert driver.reboot_server(server.id).status == "ACTIVE"
    fake.delete_gets = 2
    fake.reset_count()
    driver.delete_server(server.id)
    assert server.id not in fake.servers
    assert fake.count("GET", rf"/v2\.1/servers/{server.id}") == 3
    driver.delete_network(net.id)  # its port went with the server
    with pytest.raises(DriverError) as caught:
        driver.get_server(server.id)
    assert caught.value.reason == errors.NOT_FOUND


@pytest.mark.parametrize(("nova", "state"), [
    ("ACTIVE", "ACTIVE"), ("BUILD", "BUILD"), ("SHUTOFF", "SHUTOFF"), ("STOPPED", "SHUTOFF"),
    ("REBOOT", "REBOOT"), ("HARD_REBOOT", "REBOOT"), ("ERROR", "ERROR"),
    ("PAUSED", "PAUSED"), ("verify_resize", "VERIFY_RESIZE"), ("", "UNKNOWN")])
def test_nova_statuses_map_to_minicloud_states(env, nova, state):
    driver, fake = env
    fake.build_gets = 99  # a BUILD server stays in BUILD
    net = driver.create_network("N1", "10.0.0.0/24")
    server = driver.create_server(_spec(driver, "s1", net.id))
    with fake.lock:
        fake.servers[server.id]["status"] = nova
    assert driver.get_server(server.id).status == state
    assert [s.status for s in driver.list_servers()] == [state]
    assert [s.status for s in driver.snapshot().instances] == [state]


def test_error_ends_a_wait_at_once(env):
    driver, fake = env
    net = driver.create_network("N1", "10.0.0.0/24")
    server = driver.create_server(_spec(driver, "s1", net.id))
    with fake.lock:
        fake.servers[server.id]["status"] = "ERROR"
    start = time.monotonic()
    with pytest.raises(DriverError, match="status ERROR"):
        driver.wait_server(server.id, "ACTIVE", timeout=30)
    assert time.monotonic() - start < 5


def test_delete_of_network_in_use_is_a_conflict(env):
    driver, _ = env
    net = driver.create_network("Busy", "10.0.0.0/24")
    driver.create_server(_spec(driver, "s1", net.id))
    with pytest.raises(DriverError) as caught:
        driver.delete_network(net.id)
    assert caught.value.reason == errors.CONFLICT


def test_full_cycle_returns_to_the_initial_state(env):
    driver, fake = env
    driver.setup()
    before = sorted((r.kind, r.name) for r in driver.snapshot().resources())
    _, _, public = _ids(driver)
    net = driver.create_network("LondonNet", "10.10.2.0/24")
    router = driver.create_router("LondonGateway", public.id)
    driver.add_router_interface(router.id, net.id)
    group = driver.create_security_group("public_ssh", "SSH")
    driver.add_security_group_rule(group.id, SSH)
    key = driver.create_keypair("minicloud-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA me")
    server = driver.create_server(_spec(driver, "Tower", net.id, fixed_ip="10.10.2.5",
                                        security_groups=["public_ssh"], key_name=key.name,
                                        cluster="London"))
    server = driver.wait_server(server.id, "ACTIVE", timeout=5)
    ip = driver.associate_public_ip(driver.allocate_public_ip(public.id).id, server.id)
    snap = driver.snapshot()
    tower = next(i for i in snap.instances if i.name == "Tower")
    assert (tower.private_ip, tower.security_groups, tower.key_name) == (
        "10.10.2.5", ["public_ssh"], "minicloud-key")
    assert next(p for p in snap.public_ips if p.id == ip.id).instance_id == server.id
    assert {p.device_owner for p in fake.model_ports()} == {"network:router_interface",
                                                             "compute:nova"}

    driver.disassociate_public_ip(ip.id)
    driver.release_public_ip(ip.id)
    driver.delete_server(server.id)
    driver.remove_router_interface(router.id, net.id)
    driver.delete_router(router.id)
    driver.delete_network(net.id)
    driver.delete_security_group(group.id)
    driver.delete_keypair(key.name)
    after = sorted((r.kind, r.name) for r in driver.snapshot().resources())
    assert after == before
    assert fake.ports == {} and fake.floating_ips == {} and fake.routers == {}
    with pytest.raises(DriverError) as caught:
        driver.delete_keypair(key.name)
    assert caught.value.reason == errors.NOT_FOUND


def test_tls_verification_stays_on(env):
    driver, _ = env
    assert driver.conn.session.verify is True


# -- start-up cost -----------------------------------------------------------------------------


def test_module_does_not_import_openstack():
    code = ("import sys, minicloud.drivers.openstack.driver\n"
            "assert 'openstack' not in sys.modules, 'openstack imported'\n"
            "assert 'keystoneauth1' not in sys.modules, 'keystoneauth1 imported'\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_wrong_password_is_one_debug_line_not_a_traceback(env, caplog):
    """--debug shows the cloud's answer in one line; tracebacks are for the unexplained."""
    driver, fake = env
    caplog.set_level(logging.DEBUG)
    fake.fail("POST", r"/v3/auth/tokens", status=401)
    with pytest.raises(DriverError) as caught:
        driver.create_network("LondonNet", "10.10.2.0/24")
    assert caught.value.reason == errors.UNAUTHORIZED
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in caplog.records
            if r.name.startswith("minicloud")][-1] == str(caught.value)
