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
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from minicloud.app import MiniCloud
from minicloud.config import Config
from minicloud.drivers.base import CLUSTER_KEY, OWNER_TAG
from minicloud.model.names import KEYPAIR_PREFIX, PUBLIC_SSH
from minicloud.render.topology import render

ENV = "MINICLOUD_TEST_OS_CLOUD"
ENTRY = os.environ.get(ENV, "")

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(not ENTRY, reason=f"{ENV} is not set: no OpenStack to test against "
                       "(tests/functional/openstack/up.sh brings one up)"),
]

REPO = Path(__file__).resolve().parents[2]
CLOUD = "functional"
LOCATION = "local-openstack"
EXTERNAL = "public"
ROUTER = "mc-gw"
ROUTED, ROUTED_CIDR = "mc-routed", "10.61.0.0/24"
ISOLATED, ISOLATED_CIDR = "mc-isolated", "10.62.0.0/24"
# (name, network, cluster)
INSTANCES = (("mc-a1", ROUTED, "alpha"), ("mc-b1", ISOLATED, "beta"), ("mc-b2", ROUTED, "beta"))
CONNECTED = "mc-a1"
OUTSIDE_NET, OUTSIDE_CIDR, OUTSIDE_VM = "outside-net", "10.63.0.0/24", "outside-vm"
OUTSIDE_ROUTER = "outside-gw"
OUR_SERVERS = {name for name, _, _ in INSTANCES}
OUR_NETWORKS = {ROUTED, ISOLATED}
# The kinds one full sync lists: servers, networks, subnets, routers, ports, floating IPs,
# security groups, images, flavors, key pairs.
SYNC_LISTS = 10
SERVER_TIMEOUT = 120


# -- openstacksdk side -----------------------------------------------------------------------


def sdk() -> Any:
    import openstack

    return openstack.connect(cloud=ENTRY)


def wait_server(conn: Any, server: Any) -> Any:
    return conn.compute.wait_for_server(server, status="ACTIVE", wait=SERVER_TIMEOUT)


def clean_leftovers(conn: Any) -> None:
    """What an earlier, interrupted run may have left, by name (idempotent)."""
    from openstack import exceptions

    servers = [s for s in conn.compute.servers()
               if s.name in OUR_SERVERS | {OUTSIDE_VM}
               or (s.metadata or {}).get(OWNER_TAG) == "true"]
    for fip in conn.network.ips():
        if OWNER_TAG in (fip.tags or []):
            conn.network.delete_ip(fip)
    for server in servers:
        conn.compute.delete_server(server)
    for server in servers:
        conn.compute.wait_for_delete(server, wait=SERVER_TIMEOUT)
    for router in conn.network.routers():
        if router.name in (ROUTER, OUTSIDE_ROUTER) or OWNER_TAG in (router.tags or []):
            for port in conn.network.ports(device_id=router.id,
                                           device_owner="network:router_interface"):
                conn.network.remove_interface_from_router(router, port_id=port.id)
            conn.network.delete_router(router)
    for net in conn.network.networks():
        if net.name in OUR_NETWORKS | {OUTSIDE_NET} or OWNER_TAG in (net.tags or []):
            conn.network.delete_network(net)
    for group in conn.network.security_groups():
        if group.name == PUBLIC_SSH or OWNER_TAG in (group.tags or []):
            try:
                conn.network.delete_security_group(group)
            except exceptions.ConflictException:
                pass
    for pair in conn.compute.keypairs():
        if pair.name.startswith(KEYPAIR_PREFIX):
            conn.compute.delete_keypair(pair)


@dataclass
class Outside:
    """What exists before MiniCloud sees the cloud."""

    external_id: str
    external_subnets: list[str]
    network_id: str
    server_id: str
    server_port_ids: set[str]


def create_outside(conn: Any) -> Outside:
    external = conn.network.find_network(EXTERNAL)
    assert external is not None and external.is_router_external, \
        f"the stack has no external network {EXTERNAL!r}"
    net = conn.network.create_network(name=OUTSIDE_NET)
    conn.network.create_subnet(network_id=net.id, name=f"{OUTSIDE_NET}-subnet",
                               cidr=OUTSIDE_CIDR, ip_version=4)
    image = conn.image.find_image("cirros")
    flavor = conn.compute.find_flavor("m1.tiny")
    server = conn.compute.create_server(name=OUTSIDE_VM, image_id=image.id,
                                        flavor_id=flavor.id, networks=[{"uuid": net.id}])
    server = wait_server(conn, server)
    ports = {p.id for p in conn.network.ports(device_id=server.id)}
    return Outside(external.id, sorted(external.subnet_ids), net.id, server.id, ports)


# -- the tree, checked against openstacksdk --------------------------------------------------


@dataclass
class Line:
    depth: int
    label: str
    parent: Line | None


def parse_tree(lines: list[str]) -> list[Line]:
    """Tree lines -> labels with their parents (spacer lines are dropped)."""
    assert lines and lines[0] == "      MiniCloud", lines
    parsed: list[Line] = []
    stack: list[Line] = []
    for text in lines[1:]:
        if "+---" not in text:
            assert set(text) <= {"|", " "}, f"unexpected tree line {text!r}"
            continue
        depth = (text.index("+---") - 6) // 4
        while stack and stack[-1].depth >= depth:
            stack.pop()
        line = Line(depth, text.split("+---", 1)[1], stack[-1] if stack else None)
        parsed.append(line)
        stack.append(line)
    return parsed


INSTANCE_RE = re.compile(r"Instance: (?P<name>\S+) \[(?P<ip>[^\]]*)\] \((?P<net>[^)]*)\) "
                         r"\[(?P<groups>[^\]]*)\](?: \[(?P<public>[^\]]*)\])? "
                         r"\[(?P<status>[A-Z_]+)\]")
NETWORK_RE = re.compile(r"Network: (?P<name>\S+) \[(?P<cidrs>[^\]]*)\] \((?P<count>\d+) "
                        r"instances?\)")
EXTERNAL_RE = re.compile(r"Network: (?P<name>\S+) \(external\) \[(?P<subnet>[^\]]*)\]")
ROUTER_RE = re.compile(r"Router: (?P<name>\S+)(?: \((?P<gateway>\S+)\))?")


def check_tree(lines: list[str], conn: Any) -> dict[str, Line]:
    """Every line of the tree agrees with openstacksdk, and every server, network and router
    of the project appears.  Returns the lines by label."""
    servers = {s.name: s for s in conn.compute.servers()}
    networks = {n.id: n for n in conn.network.networks()}
    net_by_name = {n.name: n for n in networks.values()}
    subnets = {s.id: s for s in conn.network.subnets()}
    routers = {r.name: r for r in conn.network.routers()}
    ports = list(conn.network.ports())
    fips = list(conn.network.ips())
    parsed = parse_tree(lines)
    by_label = {line.label: line for line in parsed}
    assert len(by_label) == len(parsed), f"a line appears twice:\n{chr(10).join(lines)}"
    seen_servers, seen_networks, seen_routers = set(), set(), set()
    for line in parsed:
        label, parent = line.label, line.parent
        where = f"tree line {label!r}"
        if label in ("Compute", "Networking"):
            assert line.depth == 0, where
        elif label.startswith("Cloud: "):
            assert label == f"Cloud: {CLOUD} ({LOCATION})", where
            assert parent is not None and parent.label == "Compute", where
        elif label.startswith("Cluster: "):
            assert parent is not None and parent.label.startswith("Cloud: "), where
        elif label.startswith("Instance: "):
            match = INSTANCE_RE.fullmatch(label)
            assert match, where
            name = match["name"]
            assert name in servers, f"{where}: openstacksdk lists no server {name}"
            server = servers[name]
            seen_servers.add(name)
            assert match["status"] == server.status, where
            fixed = [(net, a["addr"]) for net, addrs in (server.addresses or {}).items()
                     for a in addrs if a.get("OS-EXT-IPS:type") == "fixed"]
            floating = [a["addr"] for addrs in (server.addresses or {}).values()
                        for a in addrs if a.get("OS-EXT-IPS:type") == "floating"]
            assert (match["net"], match["ip"]) in fixed, f"{where}: Nova says {fixed}"
            groups = list(dict.fromkeys(g["name"] for g in server.security_groups or []))
            assert match["groups"].split(", ") == groups, f"{where}: Nova says {groups}"
            bound = [f.floating_ip_address for f in fips
                     if f.port_id and any(p.id == f.port_id and p.device_id == server.id
                                          for p in ports)]
            if match["public"]:
                assert match["public"] in bound, f"{where}: Neutron says {bound}"
                assert match["public"] in floating, f"{where}: Nova says {floating}"
            else:
                assert not bound, f"{where}: Neutron says {bound}"
            cluster = (server.metadata or {}).get(CLUSTER_KEY)
            if parent is not None and parent.label.startswith("Cluster: "):
                assert parent.label == f"Cluster: {cluster}", where
            else:
                assert not cluster, f"{where}: Nova says cluster {cluster}"
        elif label.startswith("Router: "):
            match = ROUTER_RE.fullmatch(label)
            assert match and match["name"] in routers, where
            router = routers[match["name"]]
            seen_routers.add(router.name)
            gateway = (router.external_gateway_info or {}).get("network_id")
            assert match["gateway"] == (networks[gateway].name if gateway else None), where
        elif label.startswith("Network: "):
            match = NETWORK_RE.fullmatch(label) or EXTERNAL_RE.fullmatch(label)
            assert match and match["name"] in net_by_name, where
            net = net_by_name[match["name"]]
            seen_networks.add(net.name)
            if "subnet" in match.groupdict():
                assert net.is_router_external, where
                names = [subnets[s].name or subnets[s].cidr for s in net.subnet_ids]
                assert match["subnet"] in names, f"{where}: Neutron says {names}"
            else:
                assert not net.is_router_external, where
                cidrs = sorted(subnets[s].cidr for s in net.subnet_ids)
                assert sorted(match["cidrs"].split(", ")) == cidrs, where
                users = {p.device_id for p in ports if p.network_id == net.id
                         and (p.device_owner or "").startswith("compute:")}
                assert int(match["count"]) == len(users), f"{where}: Neutron says {users}"
            if parent is not None and parent.label.startswith("Router: "):
                router = routers[ROUTER_RE.fullmatch(parent.label)["name"]]
                attached = {p.network_id for p in ports if p.device_id == router.id
                            and p.device_owner == "network:router_interface"}
                gateway = (router.external_gateway_info or {}).get("network_id")
                assert net.id in attached | {gateway}, where
            else:
                assert parent is not None and parent.label == "Networking", where
        else:
            pytest.fail(f"unexpected {where}")
    assert seen_servers == set(servers), f"servers missing from the tree: " \
        f"{set(servers) - seen_servers}\n" + "\n".join(lines)
    assert seen_routers == set(routers), "\n".join(lines)
    # Every network of the project, and the external one where a router uses it.
    own = {n.name for n in networks.values() if not n.is_router_external}
    assert own <= seen_networks, f"networks missing: {own - seen_networks}\n" + "\n".join(lines)
    return by_label


def tree_of(app: MiniCloud) -> list[str]:
    return render(app.inventory.ensure_loaded().deployment())


# -- MiniCloud side --------------------------------------------------------------------------


@dataclass
class Env:
    home: Path
    db_url: str
    ssh: Path
    ssh_record: Path

    def app(self) -> MiniCloud:
        return MiniCloud(Config(home=self.home, db_url=self.db_url,
                                ssh_command=[str(self.ssh)])).open()

    def menu(self, keys: list[str], timeout: float = 300) -> str:
        """Run ``python -m minicloud`` (the menu) with ``keys`` typed, one a line."""
        env = dict(os.environ, MINICLOUD_HOME=str(self.home), MINICLOUD_DB_URL=self.db_url,
                   MINICLOUD_SSH=str(self.ssh), HOME=str(self.home),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                            os.environ.get("PYTHONPATH")])))
        env.pop("MINICLOUD_CONFIG", None)
        proc = subprocess.run([sys.executable, "-m", "minicloud"],
                              input="".join(k + "\n" for k in keys), capture_output=True,
                              text=True, cwd=self.home, env=env, timeout=timeout)
        assert proc.returncode == 0, f"menu exited {proc.returncode}\n{proc.stdout}\n" \
            f"{proc.stderr}"
        for stream in (proc.stdout, proc.stderr):
            assert "Traceback" not in stream, stream
        return proc.stdout


def menu_trees(out: str) -> list[list[str]]:
    """The trees the menu printed, each as its lines."""
    trees, lines = [], out.splitlines()
    for i, line in enumerate(lines):
        if line == "      MiniCloud":
            tree = [line]
            for more in lines[i + 1:]:
                if not more.startswith("      ") or not more.strip():
                    break
                tree.append(more)
            trees.append(tree)
    return trees


def public_key() -> str:
    """A real ed25519 public key in OpenSSH format (Nova checks the format)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode() + " functional-test"


@pytest.fixture(autouse=True)
def _one_at_a_time(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One OpenStack for every case: under pytest-xdist the cases may land on several
    workers, so each holds a lock (a file beside the workers' temporary folders) while it runs.
    (xdist_group with --dist loadgroup would say the same, but pytest 9.2 no longer honours
    it: pytest-dev/pytest-xdist#1386.)"""
    import fcntl

    shared = tmp_path_factory.getbasetemp().parent
    with open(shared / "openstack-functional.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    # MiniCloud uploads the user's public key once per cloud: give it one of its own.
    (home / ".ssh" / "id_ed25519.pub").write_text(public_key() + "\n")
    monkeypatch.setenv("HOME", str(home))
    record = tmp_path / "ssh-args"
    ssh = tmp_path / "fake-ssh"
    # No SSH server exists behind the fake hypervisor: this stands in for ssh.
    ssh.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{record}"\nexit 0\n')
    ssh.chmod(0o755)
    return Env(home, f"sqlite:///{tmp_path}/minicloud.db", ssh, record)


@pytest.fixture
def conn() -> Iterator[Any]:
    connection = sdk()
    clean_leftovers(connection)
    yield connection
    try:
        clean_leftovers(connection)
    finally:
        connection.close()


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

    # Connect through the real menu: Instance management > Connect > the instance, then the
    # topology, then Exit.  Instances are listed by name, outside ones included.
    names = sorted([name for name, _, _ in INSTANCES] + [OUTSIDE_VM])
    out = env.menu(["5", "8", str(names.index(CONNECTED) + 1), "10", "1", "8"])
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
        plan = app.instances.connect(theirs)  # no route out now: the private address
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
