"""What every functional test against the local OpenStack stands on: the clouds.yaml entry,
the names the scenarios use (and clean up), openstacksdk's side (the objects that exist before
MiniCloud sees the cloud, leftovers of an interrupted run), MiniCloud's side (a home, a store, a
fake ``ssh``, the menu run on stdin) and the tree checked line by line against openstacksdk."""


from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from minicloud.app import MiniCloud
from minicloud.config import Config
from minicloud.drivers.base import CLUSTER_KEY, OWNER_TAG
from minicloud.model.names import KEYPAIR_PREFIX, PUBLIC_SSH
from minicloud.render.topology import render

ENV = "MINICLOUD_TEST_OS_CLOUD"
ENTRY = os.environ.get(ENV, "")

needs_openstack = [
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


