"""MiniCloud against a real OpenStack (Keystone, Glance, Placement, Neutron, Nova with the fake
hypervisor), checked against what openstacksdk reports directly.

Bring the stack up first (a few minutes the first time, about a minute after):

    eval "$(tests/functional/openstack/up.sh)"
    python -m pytest -m functional tests/functional
    tests/functional/openstack/down.sh

``MINICLOUD_TEST_OS_CLOUD`` names the clouds.yaml entry (``OS_CLIENT_CONFIG_FILE`` says where
that file is); without it every test here is skipped.

The scenario, in one test because each step builds on the one before: a server created
outside MiniCloud; MiniCloud adds the cloud, creates a router with the external gateway, two
networks (one on the router) and instances in two clusters; one instance is connected through
the real menu (``python -m minicloud`` fed on stdin), with ``MINICLOUD_SSH`` naming a script
that records its arguments; every line of the tree is checked against openstacksdk, before
and after a restart; each object is removed; Reset (through the menu again) leaves nothing of
MiniCloud's in the cloud and the external network and the outside server untouched.
"""

from __future__ import annotations

import ipaddress
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from minicloud.drivers.base import CLUSTER_KEY, OWNER_TAG
from minicloud.model.names import KEYPAIR_PREFIX, PUBLIC_SSH
from tests.functional.harness import (
    CLOUD,
    CONNECTED,
    ENTRY,
    EXTERNAL,
    INSTANCES,
    ISOLATED,
    ISOLATED_CIDR,
    LOCATION,
    OUTSIDE_CIDR,
    OUTSIDE_NET,
    OUTSIDE_ROUTER,
    OUTSIDE_VM,
    ROUTED,
    ROUTED_CIDR,
    ROUTER,
    SERVER_TIMEOUT,
    SYNC_LISTS,
    Env,
    Outside,
    check_tree,
    create_outside,
    menu_trees,
    needs_openstack,
    tree_of,
)

pytestmark = needs_openstack


# -- counting HTTP requests --------------------------------------------------------------------


def count_requests(driver: Any) -> list[tuple[str, str]]:
    """Record (method, URL) of every HTTP request the driver's connection sends from now on
    (the keystoneauth session's requests.Session: auth, discovery and API calls alike)."""
    session = driver.conn.session.session
    original = session.request
    calls: list[tuple[str, str]] = []

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        calls.append((method.upper(), url))
        return original(method, url, *args, **kwargs)

    session.request = request
    return calls


VERSION_ROOT = re.compile(r"/?(v\d+(\.\d+)?)?/?")


def classify(calls: list[tuple[str, str]]) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {"auth": [], "discovery": [], "lists": []}
    for method, url in calls:
        path = urlparse(url).path
        if method == "POST" and path.rstrip("/").endswith("/auth/tokens"):
            kinds["auth"].append(path)
        elif method == "GET" and VERSION_ROOT.fullmatch(path):
            kinds["discovery"].append(url)
        else:
            kinds["lists"].append(f"{method} {path}")
    return kinds


# -- the scenario ----------------------------------------------------------------------------


def test_minicloud_against_openstack(env: Env, conn: Any,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    outside = create_outside(conn)

    # Add the cloud from its clouds.yaml entry; build what the scenario needs.
    app = env.app()
    cloud = app.clouds.add(CLOUD, "openstack", LOCATION, {"os_cloud": ENTRY})
    assert cloud.settings == {"os_cloud": ENTRY}
    for cluster in ("alpha", "beta"):
        app.clusters.add(CLOUD, cluster)
    cirros = next(i for i in app.clouds.images(CLOUD) if i.name == "cirros")
    assert cirros.properties.get("os_admin_user") == "cirros"  # the SSH user connect uses
    assert {f.name for f in app.clouds.flavors(CLOUD)} >= {"m1.tiny", "m1.small"}
    router = app.routers.create(CLOUD, ROUTER, gateway=EXTERNAL)
    assert router.gateway_network_id == outside.external_id
    routed = app.networks.create(CLOUD, ROUTED, ROUTED_CIDR, router=ROUTER)
    isolated = app.networks.create(CLOUD, ISOLATED, ISOLATED_CIDR)
    for name, network, cluster in INSTANCES:
        inst = app.instances.create(CLOUD, name, "cirros", "m1.tiny", network, cluster=cluster)
        assert inst.status == "ACTIVE" and inst.cluster == cluster

    sdk_router = conn.network.find_router(ROUTER)
    assert OWNER_TAG in sdk_router.tags
    assert sdk_router.external_gateway_info["network_id"] == outside.external_id
    interfaces = {p.network_id for p in conn.network.ports(
        device_id=sdk_router.id, device_owner="network:router_interface")}
    assert interfaces == {routed.id}
    for net in (routed, isolated):
        assert OWNER_TAG in conn.network.get_network(net.id).tags
    for name, network, cluster in INSTANCES:
        server = conn.compute.find_server(name)
        assert server.metadata.get(CLUSTER_KEY) == cluster
        assert server.metadata.get(OWNER_TAG) == "true"
        assert list(server.addresses) == [network]
    pairs = [k.name for k in conn.compute.keypairs() if k.name.startswith(KEYPAIR_PREFIX)]
    assert len(pairs) == 1, pairs

    # Power actions wait for Nova's answer.
    inst = app.instances.find("instance", "mc-b1", CLOUD)
    assert app.instances.stop(inst).status == "SHUTOFF"
    assert conn.compute.find_server("mc-b1").status == "SHUTOFF"
    inst = app.instances.start(app.instances.find("instance", "mc-b1", CLOUD))
    assert inst.status == "ACTIVE" and conn.compute.get_server(inst.id).status == "ACTIVE"
    assert app.instances.reboot(inst).status == "ACTIVE"

    check_tree(tree_of(app), conn)
    app.close()

    # Connect through the real menu: Instance management > Connect > the instance > Enter (any
    # free public IP), then the topology, then Exit.  Instances are listed by name, outside
    # ones included.
    names = sorted([name for name, _, _ in INSTANCES] + [OUTSIDE_VM])
    out = env.menu(["5", "8", str(names.index(CONNECTED) + 1), "", "10", "1", "8"])
    assert f"{env.ssh} exited with code 0." in out, out
    fip = next(f for f in conn.network.ips() if OWNER_TAG in (f.tags or []))
    assert env.ssh_record.read_text().split() == [f"cirros@{fip.floating_ip_address}"]
    server = conn.compute.find_server(CONNECTED)
    port = next(p for p in conn.network.ports(device_id=server.id))
    assert fip.port_id == port.id
    # On the router's gateway network, which is the external network.
    assert fip.floating_network_id == sdk_router.external_gateway_info["network_id"]
    groups = [g for g in conn.network.security_groups() if g.name == PUBLIC_SSH]
    assert len(groups) == 1, f"{PUBLIC_SSH} exists {len(groups)} times"
    ssh_rules = sorted(r["ethertype"] for r in groups[0].security_group_rules
                       if r["direction"] == "ingress" and r["protocol"] == "tcp"
                       and r["port_range_min"] == 22 and r["port_range_max"] == 22)
    assert ssh_rules == ["IPv4", "IPv6"], groups[0].security_group_rules
    assert PUBLIC_SSH in {g["name"] for g in conn.compute.get_server(server.id).security_groups}
    # Nova shows the floating IP in the server's addresses within a second or so (gotcha 9).
    deadline = time.monotonic() + 30
    while not any(a.get("OS-EXT-IPS:type") == "floating"
                  for addrs in conn.compute.get_server(server.id).addresses.values()
                  for a in addrs):
        assert time.monotonic() < deadline, "Nova never showed the floating IP"
        time.sleep(0.5)
    menu_tree = menu_trees(out)[-1]
    labels = check_tree(menu_tree, conn)
    connected = next(label for label in labels if label.startswith(f"Instance: {CONNECTED} "))
    assert f"[{fip.floating_ip_address}]" in connected and PUBLIC_SSH in connected

    # Restart: a new application object on the same store shows the same tree from its cache,
    # and again after a refresh from the cloud.
    app = env.app()
    assert tree_of(app) == menu_tree
    assert app.sync.refresh() == []
    assert tree_of(app) == menu_tree
    check_tree(tree_of(app), conn)

    # One full sync, counted: a constant number of requests, not one per server.
    fresh = env.app()
    driver = fresh.make_driver_for(fresh.clouds.get(CLOUD))
    calls = count_requests(driver)
    fresh.session.drivers.adopt(CLOUD, driver)
    fresh.sync.reread(CLOUD)
    kinds = classify(calls)
    with capsys.disabled():
        print(f"\nfunctional: one full sync of cloud {CLOUD} ({len(names)} servers): "
              f"{len(calls)} HTTP requests = {len(kinds['auth'])} auth + "
              f"{len(kinds['discovery'])} discovery + {len(kinds['lists'])} lists")
        for method, url in calls:
            print(f"functional:   {method} {url}")
    assert len(kinds["auth"]) == 1, calls
    assert len(kinds["discovery"]) <= 4, kinds["discovery"]  # identity, compute, image, network
    assert len(kinds["lists"]) <= SYNC_LISTS, kinds["lists"]
    ids = {s.id for s in conn.compute.servers()}
    assert not [url for _, url in calls if any(i in url for i in ids)], "a request per server"
    assert len(calls) <= 1 + 4 + SYNC_LISTS
    driver.close()
    fresh.close()

    # Remove each object MiniCloud created, checking the cloud after each.
    for name, _, _ in INSTANCES:
        inst = app.instances.find("instance", name, CLOUD)
        app.instances.remove(inst)
        assert conn.compute.find_server(name) is None, name
    assert not [f for f in conn.network.ips() if OWNER_TAG in (f.tags or [])], \
        "the public IP MiniCloud allocated outlived its instance"
    for name in (ISOLATED, ROUTED):
        app.networks.remove(app.networks.find("network", name, CLOUD))
        assert conn.network.find_network(name) is None, name
    app.routers.remove(app.routers.find("router", ROUTER, CLOUD))
    assert conn.network.find_router(ROUTER) is None
    app.close()

    # Reset through the menu (confirmed): what is left of MiniCloud's (its SSH group, its key
    # pair) goes; then the tree.
    out = env.menu(["6", "y", "1", "8"])
    assert "Reset:" in out and "Failed:" not in out, out
    assert f"deleted security group {PUBLIC_SSH}" in out, out
    check_tree(menu_trees(out)[-1], conn)

    # Nothing of MiniCloud's is left; what existed before is untouched.
    tagged = [f"{kind} {r.name or r.id}" for kind, items in (
        ("network", conn.network.networks()), ("subnet", conn.network.subnets()),
        ("router", conn.network.routers()), ("floating IP", conn.network.ips()),
        ("security group", conn.network.security_groups()), ("port", conn.network.ports()))
        for r in items if OWNER_TAG in (r.tags or [])]
    assert tagged == [], tagged
    servers = list(conn.compute.servers())
    assert [s.name for s in servers] == [OUTSIDE_VM]
    assert not [s for s in servers if (s.metadata or {}).get(OWNER_TAG)]
    assert not [k.name for k in conn.compute.keypairs() if k.name.startswith(KEYPAIR_PREFIX)]
    assert not [g for g in conn.network.security_groups() if g.name == PUBLIC_SSH]
    assert conn.network.find_router(ROUTER) is None
    external = conn.network.get_network(outside.external_id)
    assert external.is_router_external and sorted(external.subnet_ids) == \
        outside.external_subnets
    kept = conn.compute.get_server(outside.server_id)
    assert kept.status == "ACTIVE" and kept.name == OUTSIDE_VM
    assert {p.id for p in conn.network.ports(device_id=kept.id)} == outside.server_port_ids
    assert conn.network.get_network(outside.network_id).name == OUTSIDE_NET
    assert all(ipaddress.ip_address(a["addr"]) in ipaddress.ip_network(OUTSIDE_CIDR)
               for addrs in kept.addresses.values() for a in addrs)

    # MiniCloud's own view after the reset: the cloud, its clusters, the outside things.
    app = env.app()
    assert {c.name for c in app.clusters.all(CLOUD)} == {"alpha", "beta"}
    assert [i.name for i in app.instances.all(CLOUD)] == [OUTSIDE_VM]
    app.close()
    # The password stays in clouds.yaml: never in MiniCloud's database.
    import openstack.config

    password = openstack.config.OpenStackConfig().get_one(cloud=ENTRY).config["auth"]["password"]
    database = Path(env.db_url.removeprefix("sqlite:///"))
    assert password and password.encode() not in database.read_bytes()
    with capsys.disabled():
        print(f"functional: scenario done in {time.monotonic() - started:.0f} s")


# -- other people's resources ------------------------------------------------------------------


def outside_state(conn: Any, outside: Outside, router_id: str) -> dict[str, Any]:
    """What Reset must give back: the foreign server's status, groups and floating IPs; the
    foreign router's gateway and interfaces."""
    server = conn.compute.get_server(outside.server_id)
    router = conn.network.get_router(router_id)
    interfaces = sorted(p.network_id for p in conn.network.ports(
        device_id=router_id, device_owner="network:router_interface"))
    ports = [p.id for p in conn.network.ports(device_id=outside.server_id)]
    floating = [f.floating_ip_address for f in conn.network.ips() if f.port_id in ports]
    return {"status": server.status,
            "groups": sorted(g["name"] for g in server.security_groups or []),
            "floating": floating,
            "gateway": (router.external_gateway_info or {}).get("network_id"),
            "interfaces": interfaces}


def test_reset_restores_other_peoples_resources(env: Env, conn: Any) -> None:
    """Connect to, stop, detach from and clear the gateway of what MiniCloud did not create;
    Reset puts each back (DESIGN.md section 7)."""
    outside = create_outside(conn)
    router = conn.network.create_router(name=OUTSIDE_ROUTER,
                                        external_gateway_info={"network_id":
                                                               outside.external_id})
    conn.network.add_interface_to_router(router, subnet=conn.network.find_subnet(
        f"{OUTSIDE_NET}-subnet").id)
    before = outside_state(conn, outside, router.id)
    app = env.app()
    try:
        app.clouds.add(CLOUD, "openstack", LOCATION, {"os_cloud": ENTRY})
        corp = app.routers.find("router", OUTSIDE_ROUTER, CLOUD)
        app.networks.detach(app.networks.find("network", OUTSIDE_NET, CLOUD), corp)
        app.routers.clear_gateway(app.routers.find("router", OUTSIDE_ROUTER, CLOUD))
        theirs = app.instances.find("instance", OUTSIDE_VM, CLOUD)
        plan = app.access.connect(theirs)  # no route out now: the private address
        assert PUBLIC_SSH in plan.instance.security_groups
        app.instances.stop(app.instances.find("instance", OUTSIDE_VM, CLOUD))
        changed = outside_state(conn, outside, router.id)
        assert changed["status"] == "SHUTOFF" and changed["gateway"] is None
        assert changed["interfaces"] == []
        report = app.resetter.reset()
        assert report.failures == []
    finally:
        app.close()
    deadline = time.monotonic() + SERVER_TIMEOUT
    while outside_state(conn, outside, router.id) != before and time.monotonic() < deadline:
        time.sleep(1)
    assert outside_state(conn, outside, router.id) == before
    assert conn.network.find_security_group(PUBLIC_SSH) is None


def test_drift_made_with_openstacksdk(env: Env, conn: Any,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Changes made behind MiniCloud's back with openstacksdk (a server stopped, a router
    interface added, a MiniCloud-made network deleted): ``drift`` reports them without
    writing, exit 3; ``refresh`` applies and reports them; then ``drift`` is quiet, exit 0."""
    from minicloud.cli.commands import run_command

    outside = create_outside(conn)
    app = env.app()
    try:
        app.clouds.add(CLOUD, "openstack", LOCATION, {"os_cloud": ENTRY})
        app.routers.create(CLOUD, ROUTER, gateway=EXTERNAL)
        spare = app.networks.create(CLOUD, ISOLATED, ISOLATED_CIDR)
    finally:
        app.close()
    conn.compute.stop_server(outside.server_id)
    conn.compute.wait_for_server(conn.compute.get_server(outside.server_id),
                                 status="SHUTOFF", wait=SERVER_TIMEOUT)
    conn.network.add_interface_to_router(conn.network.find_router(ROUTER),
                                         subnet=conn.network.find_subnet(
                                             f"{OUTSIDE_NET}-subnet").id)
    conn.network.delete_network(spare.id)
    capsys.readouterr()

    def command(*argv: str) -> tuple[int, str]:
        code = run_command(env.app, list(argv))
        return code, capsys.readouterr().out

    store = Path(env.db_url[len("sqlite:///"):])
    before = store.read_bytes()
    code, out = command("drift")
    assert code == 3, out
    assert store.read_bytes() == before  # drift wrote nothing
    lines = out.splitlines()
    assert lines[0] == f"{CLOUD}: 3 changes made outside MiniCloud:", out
    assert lines[1:] == [
        f"  MiniCloud's network {ISOLATED} disappeared",
        f"  MiniCloud's router {ROUTER} changed: interface on {OUTSIDE_NET} added",
        f"  instance {OUTSIDE_VM} changed: status ACTIVE -> SHUTOFF",
    ], out
    code, out = command("refresh")
    assert code == 0 and f"  instance {OUTSIDE_VM} changed: status ACTIVE -> SHUTOFF" in out
    assert command("drift")[0] == 0
    code, out = command("drift", "--since", "1h", "--json")
    assert code == 3 and '"router"' in out

