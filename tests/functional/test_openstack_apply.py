"""A deployment file applied to a real OpenStack (issue 28): the README's demo,
``examples/trystack.yaml``, written for a Stub cloud, applied unchanged with ``--cloud-map`` to
the local OpenStack (whose second external network is TryStack's: ``external``, subnet
``trystack``, 8.21.28.0/24; tests/functional/openstack/stack.py).

The result is checked with openstacksdk, and its tree is the tree the same file draws on a Stub
cloud of the same name.  Then the file changes (a flavor, a router, an added network, a removed
instance, another public address): ``plan`` says so in one line each, ``apply`` makes it so
and openstacksdk sees it; a file naming an image the cloud lacks is refused at ``plan`` time
and changes nothing; Reset leaves the cloud as it was before MiniCloud touched it.

Neutron's default policy lets only an admin choose a floating IP's address
(``create_floatingip:floating_ip_address``; a member's request is refused with HTTP 403, one
line at the step that asked, the apply stopped there).  So, as on a real cloud, the addresses
the file names are reserved for the project by the admin beforehand; MiniCloud takes the
project's free address rather than allocating one, and Reset gives it back unbound.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.config import Config
from minicloud.drivers.base import CLUSTER_KEY, OWNER_TAG
from minicloud.model.names import PUBLIC_SSH
from tests.functional.harness import (
    CLOUD,
    ENTRY,
    LOCATION,
    REPO,
    Env,
    check_tree,
    needs_openstack,
    tree_of,
)

pytestmark = needs_openstack

FILE = REPO / "examples" / "trystack.yaml"
MAP = ["--cloud-map", f"TryStack={CLOUD}"]
EXTERNAL = "external"  # TryStack's external network, as the file's router names it
# The stack's other external network, which the Stub cloud does not have: its line is the one
# difference between the two trees.
OTHER_EXTERNAL = "          +---Network: public (external) [public-subnet]"
# (server, network, fixed address, cluster, security groups, public address)
SERVERS = {
    "Ben": ("LondonNet", "10.10.2.6", "London", ["default"], None),
    "Bourla": ("AntwerpNet", "10.10.1.12", "Antwerp", ["default"], None),
    "Tower": ("LondonNet", "10.10.2.5", "London", [PUBLIC_SSH], "8.21.28.30"),
}
NETWORKS = {"AntwerpNet": "10.10.1.0/24", "LondonNet": "10.10.2.0/24"}
# The file changed: Ben m1.tiny -> m1.small, AntwerpNet onto the router, ParisNet added,
# Bourla removed, Tower's public address another one.
CHANGES = [
    ("      Bourla:\n        image: cirros\n        flavor: m1.tiny\n        cluster: Antwerp\n"
     "        network: AntwerpNet\n        fixed_ip: 10.10.1.12\n"
     "        security_groups: [default]\n", ""),
    ("      Ben:\n        image: cirros\n        flavor: m1.tiny\n",
     "      Ben:\n        image: cirros\n        flavor: m1.small\n"),
    ("        cidr: 10.10.1.0/24\n",
     "        cidr: 10.10.1.0/24\n        router: LondonGateway\n      ParisNet:\n"
     "        cidr: 10.10.3.0/24\n"),
    ("public_ip: 8.21.28.30", "public_ip: 8.21.28.31"),
]
CHANGED_PLAN = [
    "+ network ParisNet 10.10.3.0/24",
    "~ network AntwerpNet: router none -> LondonGateway",
    "~ instance Ben: flavor m1.tiny -> m1.small (replaced)",
    "~ instance Tower: public IP 8.21.28.30 -> 8.21.28.31",
    "- instance Bourla",
]


def command(env: Env, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``minicloud ARGV`` in this process, on the test's store: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = run_command(env.app, list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, out + err
    return code, out, err


def cloud_picture(conn: Any) -> dict[str, list[Any]]:
    """Everything of the project's that MiniCloud could touch, as openstacksdk lists it."""
    return {
        "networks": sorted((n.name, n.is_router_external, tuple(sorted(n.subnet_ids)))
                           for n in conn.network.networks()),
        "subnets": sorted((s.name, s.cidr) for s in conn.network.subnets()),
        "routers": sorted(r.name for r in conn.network.routers()),
        "ports": sorted(p.id for p in conn.network.ports()),
        "floating IPs": sorted((f.floating_ip_address, f.port_id) for f in conn.network.ips()),
        "security groups": sorted(g.name for g in conn.network.security_groups()),
        "servers": sorted((s.name, s.status) for s in conn.compute.servers()),
        "key pairs": sorted(k.name for k in conn.compute.keypairs()),
    }


@contextmanager
def reserved(conn: Any, addresses: list[str]) -> Iterator[None]:
    """The admin reserves ``addresses`` of the external network for the test's project (kept
    from an interrupted run), and deletes them afterwards."""
    import openstack

    admin = openstack.connect(cloud=f"{ENTRY}-admin")
    try:
        external = conn.network.find_network(EXTERNAL)
        held = {f.floating_ip_address for f in conn.network.ips()}
        for address in addresses:
            if address not in held:
                admin.network.create_ip(floating_network_id=external.id,
                                        floating_ip_address=address,
                                        project_id=conn.current_project_id)
        yield
    finally:
        for fip in conn.network.ips():
            if fip.floating_ip_address in addresses:
                admin.network.delete_ip(fip.id)
        admin.close()


def stub_tree(home: Path, text: str) -> list[str]:
    """The tree the file's ``text`` draws when applied to a Stub cloud (in a new ``home``) that
    looks like TryStack."""
    home.mkdir()
    app = MiniCloud(Config(home=home, db_url=f"sqlite:///{home}/stub.db")).open()
    try:
        app.clouds.add(CLOUD, "stub", LOCATION, {"external_network": EXTERNAL,
                                                 "external_cidr": "8.21.28.0/24",
                                                 "external_subnet": "trystack"})
        spec_file = home / "deployment.yaml"
        spec_file.write_text(text)
        spec = app.deployments.read(str(spec_file), [f"TryStack={CLOUD}"])
        report = app.deployments.apply(spec, shown=app.deployments.plan(spec).plan,
                                       say=lambda line: None)
        assert report.failed is None, report
        return tree_of(app)
    finally:
        app.close()


def check_servers(conn: Any, servers: dict[str, tuple[str, str, str, list[str], str | None]],
                  flavors: dict[str, str]) -> None:
    fips = {f.floating_ip_address: f for f in conn.network.ips()}
    for name, (network, address, cluster, groups, public) in servers.items():
        server = conn.compute.find_server(name)
        assert server is not None, f"openstacksdk lists no server {name}"
        server = conn.compute.get_server(server.id)
        assert server.status == "ACTIVE", (name, server.status)
        assert server.metadata.get(CLUSTER_KEY) == cluster, (name, server.metadata)
        assert server.metadata.get(OWNER_TAG) == "true", (name, server.metadata)
        assert server.flavor["original_name"] == flavors.get(name, "m1.tiny"), name
        fixed = [(net, a["addr"]) for net, addrs in server.addresses.items() for a in addrs
                 if a.get("OS-EXT-IPS:type") == "fixed"]
        assert fixed == [(network, address)], (name, fixed)
        assert sorted({g["name"] for g in server.security_groups}) == groups, name
        ports = {p.id for p in conn.network.ports(device_id=server.id)}
        bound = sorted(a for a, f in fips.items() if f.port_id in ports)
        assert bound == ([public] if public else []), (name, bound)


def nova_shows(conn: Any, name: str, address: str) -> None:
    """Wait until Nova shows the floating ``address`` among the server's (Neutron tells it
    within a second or so: gotcha 9 of shared/OPENSTACK_STACK.md)."""
    deadline = time.monotonic() + 30
    while address not in [a["addr"] for addrs in conn.compute.get_server(
            conn.compute.find_server(name).id).addresses.values() for a in addrs
            if a.get("OS-EXT-IPS:type") == "floating"]:
        assert time.monotonic() < deadline, f"Nova never showed {address} on {name}"
        time.sleep(0.5)


def same_tree_as_the_stubs(env: Env, conn: Any, stub_home: Path, text: str) -> None:
    """MiniCloud's tree of the OpenStack agrees with openstacksdk, and is the tree the file's
    ``text`` draws on a Stub cloud (the OpenStack's other external network aside)."""
    app = env.app()
    tree = tree_of(app)
    app.close()
    check_tree(tree, conn)
    assert [line for line in tree if line != OTHER_EXTERNAL] == stub_tree(stub_home, text), \
        "\n".join(tree)


def check_networks(conn: Any, networks: dict[str, tuple[str, bool]]) -> None:
    router = conn.network.find_router("LondonGateway")
    assert router is not None and OWNER_TAG in router.tags
    external = conn.network.find_network(EXTERNAL)
    assert router.external_gateway_info["network_id"] == external.id
    interfaces = {p.network_id for p in conn.network.ports(
        device_id=router.id, device_owner="network:router_interface")}
    on_router = set()
    for name, (cidr, routed) in networks.items():
        net = conn.network.find_network(name)
        assert net is not None and OWNER_TAG in net.tags, name
        assert [conn.network.get_subnet(s).cidr for s in net.subnet_ids] == [cidr], name
        if routed:
            on_router.add(net.id)
    assert interfaces == on_router


def test_the_readme_file_applied_to_openstack(env: Env, conn: Any, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with reserved(conn, ["8.21.28.30", "8.21.28.31"]):
        applied_and_reset(env, conn, tmp_path, capsys)


def applied_and_reset(env: Env, conn: Any, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    before = cloud_picture(conn)
    assert EXTERNAL in {n[0] for n in before["networks"] if n[1]}, \
        "the stack has no TryStack external network (tests/functional/openstack/stack.py)"
    text = FILE.read_text()
    app = env.app()
    app.clouds.add(CLOUD, "openstack", LOCATION, {"os_cloud": ENTRY})
    app.close()

    # The file as written, onto the OpenStack: planned, applied, then nothing left to do.
    code, out, err = command(env, capsys, "plan", str(FILE), *MAP)
    assert code == 3, out + err
    assert out.splitlines()[-1] == "Plan: 8 to add, 0 to change, 0 to remove.", out
    assert "+ router LondonGateway (gateway external)" in out.splitlines(), out
    code, out, err = command(env, capsys, "apply", str(FILE), *MAP, "--yes")
    assert code == 0, out + err
    assert out.splitlines()[-1] == "Apply complete: 8 changes made.", out
    check_networks(conn, {"AntwerpNet": (NETWORKS["AntwerpNet"], False),
                          "LondonNet": (NETWORKS["LondonNet"], True)})
    check_servers(conn, SERVERS, {})
    nova_shows(conn, "Tower", "8.21.28.30")
    groups = [g for g in conn.network.security_groups() if g.name == PUBLIC_SSH]
    assert len(groups) == 1, groups
    same_tree_as_the_stubs(env, conn, tmp_path / "stub", text)
    assert command(env, capsys, "plan", str(FILE), *MAP)[0] == 0
    code, out, _ = command(env, capsys, "plan", str(FILE), *MAP, "--refresh")
    assert code == 0, out

    # The file changed: one line per change, applied, seen by openstacksdk.
    for old, new in CHANGES:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    changed = tmp_path / "trystack-changed.yaml"
    changed.write_text(text)
    code, out, err = command(env, capsys, "plan", str(changed), *MAP)
    assert code == 3, out + err
    assert sorted(out.splitlines()[:-1]) == sorted(CHANGED_PLAN), out
    code, out, err = command(env, capsys, "apply", str(changed), *MAP, "--yes")
    assert code == 0, out + err
    servers = dict(SERVERS)
    del servers["Bourla"]
    servers["Tower"] = (*SERVERS["Tower"][:4], "8.21.28.31")
    assert conn.compute.find_server("Bourla") is None
    check_servers(conn, servers, {"Ben": "m1.small"})
    nova_shows(conn, "Tower", "8.21.28.31")
    check_networks(conn, {"AntwerpNet": (NETWORKS["AntwerpNet"], True),
                          "LondonNet": (NETWORKS["LondonNet"], True),
                          "ParisNet": ("10.10.3.0/24", False)})
    assert [f.port_id for f in conn.network.ips() if f.floating_ip_address == "8.21.28.30"] \
        == [None], "the address Tower gave back is still bound"
    same_tree_as_the_stubs(env, conn, tmp_path / "stub-changed", text)
    assert command(env, capsys, "plan", str(changed), *MAP, "--refresh")[0] == 0

    # An image this cloud lacks: refused at plan time, at its line, nothing changed.
    unknown = tmp_path / "unknown-image.yaml"
    unknown.write_text(text.replace("image: cirros", "image: ubuntu-24.04", 1))
    line = text[:text.index("image: cirros")].count("\n") + 1  # Ben's image
    picture = cloud_picture(conn)
    for verb in ("plan", "apply"):
        flag = "--yes" if verb == "apply" else "--refresh"
        code, out, err = command(env, capsys, verb, str(unknown), *MAP, flag)
        assert code == 2, out + err
        assert err.splitlines() == [
            f"minicloud: {unknown}, line {line}, clouds.TryStack.instances.Ben.image: unknown image"
            f" 'ubuntu-24.04' in cloud {CLOUD} (images: cirros)"], err
    assert cloud_picture(conn) == picture

    # Reset: the cloud as it was before MiniCloud touched it.
    code, out, err = command(env, capsys, "reset", "--yes")
    assert code == 0, out + err
    assert cloud_picture(conn) == before


def test_an_address_the_cloud_refuses_stops_the_apply_until_it_is_reserved(
        env: Env, conn: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """A member may not choose a floating IP's address (Neutron's default policy): the apply
    stops at Tower's step in one line, with what was done; once the admin has reserved the
    address for the project, the next apply that reads the cloud first (``--refresh``: the
    reservation was made outside MiniCloud) takes it and finishes the file, and Reset gives
    everything back."""
    before = cloud_picture(conn)
    app = env.app()
    app.clouds.add(CLOUD, "openstack", LOCATION, {"os_cloud": ENTRY})
    app.close()
    code, out, err = command(env, capsys, "apply", str(FILE), *MAP, "--yes")
    assert code == 1, out + err
    assert len(out.splitlines()) == 7 and out.startswith("done: + cluster Antwerp"), out
    failed = [line for line in err.splitlines() if line.startswith("minicloud: failed: ")]
    assert len(failed) == 1 and "+ instance Tower" in failed[0], err
    assert "8.21.28.30" in failed[0] and "HTTP 403" in failed[0], err
    assert "not done" not in err, err  # Tower's step was the last one
    assert conn.compute.find_server("Tower") is not None  # the instance stays: partly done
    code, out, _ = command(env, capsys, "plan", str(FILE), *MAP)
    assert (code, out.splitlines()[0]) == (3, "~ instance Tower: public IP none -> 8.21.28.30")
    with reserved(conn, ["8.21.28.30"]):
        code, out, err = command(env, capsys, "apply", str(FILE), *MAP, "--refresh", "--yes")
        assert code == 0, out + err
        check_servers(conn, SERVERS, {})
        assert command(env, capsys, "plan", str(FILE), *MAP)[0] == 0
        code, out, err = command(env, capsys, "reset", "--yes")
        assert code == 0, out + err
        # As before, the reserved address aside (the admin's, unbound again).
        assert cloud_picture(conn) == {**before, "floating IPs": sorted(
            [*before["floating IPs"], ("8.21.28.30", None)])}
    assert cloud_picture(conn) == before
