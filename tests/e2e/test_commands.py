"""One-shot commands, end to end: ``python -m minicloud COMMAND ...`` in a subprocess.

The README's demo deployment is built purely through commands and must print the reference
tree of DESIGN.md section 4 byte for byte; JSON output follows its documented shape; every
failure class has its exit code and one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backends import seed_demo_sqlite
from tests.consistency import command as launch_command
from tests.reference import REFERENCE_TREE as REFERENCE

# What the topology command says with no cloud (the menu names its own entry instead).
EMPTY = "Nothing to show yet: add a cloud with 'minicloud clouds add NAME --type TYPE'."

REPO = Path(__file__).resolve().parents[2]

# Variables that would make the runs depend on the machine they happen on.
SCRUBBED = ("MINICLOUD_SSH", "MINICLOUD_DB_URL", "MINICLOUD_CONFIG",
            "MINICLOUD_DB_PASSWORD", "OS_CLOUD", "OS_PASSWORD", "OS_CLIENT_CONFIG_FILE")

INSTANCE_KEYS = {"name", "cloud", "cluster", "id", "status", "image", "flavor", "private_ip",
                 "network", "networks", "security_groups", "public_ip"}
CLOUD_KEYS = {"name", "type", "location", "reachable", "synced_at", "drift", "clusters",
              "instances"}
ROUTER_KEYS = {"name", "cloud", "id", "gateway", "networks", "owned"}
NETWORK_KEYS = {"name", "cloud", "id", "cidrs", "external", "subnet", "routers", "instances",
                "owned"}


def minicloud(home: Path, *args: str, env: dict[str, str] | None = None,
              stdin: str | None = None, fail: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m minicloud ARGS`` (with ``fail``, the test launcher making those driver
    calls fail: tests/launch.py)."""
    environ = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    environ.update(MINICLOUD_HOME=str(home), HOME=str(home),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                            environ.get("PYTHONPATH")])))
    environ.update(env or {})
    return subprocess.run(launch_command(*args, fail=fail), cwd=home, env=environ,
                          capture_output=True, text=True, timeout=120,
                          input=stdin if stdin is not None else "")


def ok(home: Path, *args: str, **kw: object) -> str:
    done = minicloud(home, *args, **kw)  # type: ignore[arg-type]
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stdout


def fails(home: Path, code: int, *args: str, **kw: object) -> str:
    """Run a command that must fail with ``code``; returns its one stderr line."""
    done = minicloud(home, *args, **kw)  # type: ignore[arg-type]
    assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines, args
    if code == 1:
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("minicloud: "), done.stderr
    return lines[-1]


DEMO = [
    ("clouds", "add", "TryStack", "--type", "stub", "--location", "trystack.org",
     "--external-network", "external", "--external-cidr", "8.21.28.0/24",
     "--external-subnet", "trystack"),
    ("clusters", "add", "Antwerp", "--cloud", "TryStack"),
    ("clusters", "add", "London", "--cloud", "TryStack"),
    ("routers", "create", "LondonGateway", "--cloud", "TryStack", "--gateway", "external"),
    ("networks", "create", "LondonNet", "--cloud", "TryStack", "--cidr", "10.10.2.0/24",
     "--router", "LondonGateway"),
    ("networks", "create", "AntwerpNet", "--cloud", "TryStack", "--cidr", "10.10.1.0/24"),
    ("instances", "create", "Bourla", "--cloud", "TryStack", "--cluster", "Antwerp",
     "--image", "cirros", "--flavor", "m1.tiny", "--network", "AntwerpNet",
     "--fixed-ip", "10.10.1.12"),
    ("instances", "create", "Tower", "--cloud", "TryStack", "--cluster", "London",
     "--image", "cirros", "--flavor", "m1.tiny", "--network", "LondonNet",
     "--security-group", "public_ssh", "--fixed-ip", "10.10.2.5"),
    ("instances", "create", "Ben", "--cloud", "TryStack", "--cluster", "London",
     "--image", "cirros", "--flavor", "m1.tiny", "--network", "LondonNet",
     "--fixed-ip", "10.10.2.6"),
]


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A home whose store holds the README's demo deployment (a copy of one built once)."""
    seed_demo_sqlite(tmp_path / "minicloud.db")
    return tmp_path


@pytest.fixture(scope="module")
def small_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Stub cloud with a network and an instance, built once through commands."""
    home = tmp_path_factory.mktemp("small")
    ok(home, "clouds", "add", "Alpha", "--type", "stub")
    ok(home, "networks", "create", "Net", "--cloud", "Alpha", "--cidr", "10.0.0.0/24")
    ok(home, "instances", "create", "Vm", "--cloud", "Alpha", "--image", "cirros",
       "--flavor", "m1.tiny", "--network", "Net")
    return home


@pytest.fixture
def small(small_home: Path, tmp_path: Path) -> Path:
    """A copy of ``small_home`` of the test's own."""
    shutil.copytree(small_home, tmp_path, dirs_exist_ok=True)
    return tmp_path


def json_of(home: Path, *args: str) -> object:
    return json.loads(ok(home, *args))


# --- the demo through commands -------------------------------------------------------------


def test_demo_built_by_commands_prints_the_reference_tree(tmp_path: Path) -> None:
    """The README's demo deployment, built only through one-shot commands."""
    assert ok(tmp_path, "topology") == EMPTY + "\n"
    for command in DEMO:
        ok(tmp_path, *command)
    # Connect gives Tower its public IP; a Stub cloud has no host, so the command is shown.
    assert ok(tmp_path, "instances", "connect", "Tower", "--public-ip", "8.21.28.30") == \
        "ssh cirros@8.21.28.30\n"
    done = minicloud(tmp_path, "topology")
    assert done.returncode == 0
    assert done.stdout == REFERENCE
    assert done.stderr == ""


def test_connect_again_reuses_the_public_ip(demo: Path) -> None:
    assert ok(demo, "instances", "connect", "Tower") == "ssh cirros@8.21.28.30\n"
    assert ok(demo, "instances", "connect", "Tower", "--user", "root") == \
        "ssh root@8.21.28.30\n"
    assert ok(demo, "topology") == REFERENCE


def test_topology_json_has_the_documented_shape(demo: Path) -> None:
    data = json_of(demo, "topology", "--json")
    assert isinstance(data, dict)
    assert set(data) == {"clouds", "routers", "networks"}
    (cloud,) = data["clouds"]
    assert set(cloud) == CLOUD_KEYS
    assert (cloud["name"], cloud["type"], cloud["location"], cloud["reachable"]) == \
        ("TryStack", "stub", "trystack.org", True)
    assert cloud["instances"] == []
    assert [c["name"] for c in cloud["clusters"]] == ["Antwerp", "London"]
    for cluster in cloud["clusters"]:
        assert set(cluster) == {"name", "instances"}
        for inst in cluster["instances"]:
            assert set(inst) == INSTANCE_KEYS
            assert inst["cluster"] == cluster["name"]
            assert inst["cloud"] == "TryStack"
    london = cloud["clusters"][1]["instances"]
    assert [i["name"] for i in london] == ["Tower", "Ben"]  # by private IP, as the tree
    tower = london[0]
    assert tower["private_ip"] == "10.10.2.5"
    assert tower["network"] == "LondonNet"
    assert tower["networks"] == ["LondonNet"]
    assert tower["security_groups"] == ["public_ssh"]
    assert tower["public_ip"] == "8.21.28.30"
    assert (tower["status"], tower["image"], tower["flavor"]) == ("ACTIVE", "cirros", "m1.tiny")
    assert london[1]["public_ip"] is None
    assert isinstance(tower["id"], str) and tower["id"]

    (router,) = data["routers"]
    assert set(router) == ROUTER_KEYS
    assert router["name"] == "LondonGateway"
    assert router["gateway"] == "external"
    assert router["networks"] == ["LondonNet"]
    assert router["owned"] is True

    networks = {n["name"]: n for n in data["networks"]}
    assert [n["name"] for n in data["networks"]] == ["AntwerpNet", "LondonNet", "external"]
    for net in networks.values():
        assert set(net) == NETWORK_KEYS
    assert networks["external"]["external"] is True
    assert networks["external"]["subnet"] == "trystack"
    assert networks["external"]["cidrs"] == ["8.21.28.0/24"]
    assert networks["external"]["owned"] is False
    assert networks["external"]["routers"] == ["LondonGateway"]
    assert networks["LondonNet"]["instances"] == 2
    assert networks["LondonNet"]["routers"] == ["LondonGateway"]
    assert networks["LondonNet"]["external"] is False
    assert networks["AntwerpNet"]["instances"] == 1
    assert networks["AntwerpNet"]["routers"] == []
    assert networks["AntwerpNet"]["owned"] is True


def test_list_json_prints_lists_of_the_same_objects(demo: Path) -> None:
    topo = json_of(demo, "topology", "--json")
    assert isinstance(topo, dict)
    clouds = json_of(demo, "clouds", "list", "--json")
    # clouds list also says each cloud's settings as given (a Stub's state: with the store)
    assert [c.pop("settings") for c in clouds] == [{
        "external_network": "external", "external_cidr": "8.21.28.0/24",
        "external_subnet": "trystack"}]
    assert clouds == topo["clouds"]
    assert json_of(demo, "routers", "list", "--json") == topo["routers"]
    assert json_of(demo, "networks", "list", "--json") == topo["networks"]
    assert json_of(demo, "networks", "list", "--cloud", "TryStack", "--json") == \
        topo["networks"]
    instances = json_of(demo, "instances", "list", "--json")
    assert isinstance(instances, list)
    assert [i["name"] for i in instances] == ["Ben", "Bourla", "Tower"]
    assert all(set(i) == INSTANCE_KEYS for i in instances)
    nested = [i for c in topo["clouds"][0]["clusters"] for i in c["instances"]]
    assert sorted(instances, key=lambda i: i["id"]) == sorted(nested, key=lambda i: i["id"])
    shown = json_of(demo, "instances", "show", "Tower", "--json")
    assert shown == next(i for i in instances if i["name"] == "Tower")
    clusters = json_of(demo, "clusters", "list", "--json")
    assert [(c["name"], c["cloud"]) for c in clusters] == [("Antwerp", "TryStack"),
                                                           ("London", "TryStack")]
    ips = json_of(demo, "public-ips", "list", "--json")
    assert [(p["address"], p["instance"], p["network"]) for p in ips] == \
        [("8.21.28.30", "Tower", "external")]
    images = json_of(demo, "images", "list", "--cloud", "TryStack", "--json")
    assert [i["name"] for i in images] == ["cirros", "ubuntu"]
    flavors = json_of(demo, "flavors", "list", "--cloud", "TryStack", "--json")
    assert [f["name"] for f in flavors] == ["m1.tiny", "m1.small", "m1.medium"]
    groups = json_of(demo, "security-groups", "list", "--json")
    assert [g["name"] for g in groups] == ["default", "public_ssh"]


def test_text_listings(demo: Path) -> None:
    assert "TryStack" in ok(demo, "clouds", "list")
    assert ok(demo, "instances", "list").splitlines()[0].split()[:2] == ["NAME", "CLOUD"]
    assert "Tower" in ok(demo, "instances", "list", "--cloud", "TryStack")
    assert "8.21.28.30" in ok(demo, "instances", "show", "Tower")
    assert "LondonGateway" in ok(demo, "routers", "list")
    assert "m1.tiny" in ok(demo, "flavors", "list", "--cloud", "TryStack")
    assert "public_ssh" in ok(demo, "security-groups", "list")
    assert ok(demo, "refresh") == ("TryStack: 3 instances, 3 networks, 1 router, 1 public IP.\n"
                                   "Refreshed 1 of 1 cloud.\n")
    assert ok(demo, "topology") == REFERENCE


def test_in_use_is_an_operation_failure(demo: Path) -> None:
    line = fails(demo, 1, "clusters", "remove", "London", "--cloud", "TryStack")
    assert "Tower" in line and "Ben" in line
    assert ok(demo, "topology") == REFERENCE


# --- exit codes ----------------------------------------------------------------------------


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    assert "usage:" in minicloud(tmp_path, "no-such-command").stderr
    fails(tmp_path, 2, "no-such-command")
    fails(tmp_path, 2, "clouds")
    fails(tmp_path, 2, "clouds", "add")
    fails(tmp_path, 2, "networks", "create", "Net", "--cloud", "X")  # no --cidr
    fails(tmp_path, 2, "topology", "--bogus")
    fails(tmp_path, 2, "help", "no-such-command")


def test_unknown_names_exit_2(small: Path) -> None:
    assert "Nope" in fails(small, 2, "instances", "show", "Nope")
    fails(small, 2, "instances", "stop", "Vm", "--cloud", "Nowhere")
    fails(small, 2, "clusters", "add", "K", "--cloud", "Nowhere")
    fails(small, 2, "images", "list", "--cloud", "Nowhere")
    fails(small, 2, "routers", "attach", "NoRouter", "Net")
    fails(small, 2, "public-ips", "release", "198.51.100.7")


def test_ambiguous_names_exit_2(tmp_path: Path) -> None:
    for cloud, cidr in (("Alpha", "10.1.0.0/24"), ("Beta", "10.2.0.0/24")):
        ok(tmp_path, "clouds", "add", cloud, "--type", "stub")
        ok(tmp_path, "networks", "create", "Shared", "--cloud", cloud, "--cidr", cidr)
    line = fails(tmp_path, 2, "networks", "remove", "Shared")
    assert "Alpha" in line and "Beta" in line
    # Naming the cloud settles it.
    ok(tmp_path, "networks", "remove", "Shared", "--cloud", "Beta")
    ok(tmp_path, "networks", "remove", "Shared")
    assert [n["name"] for n in json_of(tmp_path, "networks", "list", "--json")] == \
        ["public", "public"]


def test_validation_errors_exit_2(small: Path) -> None:
    assert "host bits" in fails(small, 2, "networks", "create", "N2", "--cloud", "Alpha",
                                "--cidr", "10.1.0.1/24")
    assert "overlaps" in fails(small, 2, "networks", "create", "N2", "--cloud", "Alpha",
                               "--cidr", "10.0.0.0/16")
    assert "letters (of any script), digits" in fails(small, 2, "clusters", "add", "bad name!",
                                      "--cloud", "Alpha")
    fails(small, 2, "clouds", "add", "Alpha", "--type", "stub")  # exists already
    fails(small, 2, "clouds", "add", "Gamma", "--type", "no-such-type")
    fails(small, 2, "instances", "start", "Vm")  # running already
    fails(small, 2, "routers", "gateway", "R")  # neither NETWORK nor --clear


def test_operation_failure_exits_1_and_leaves_nothing(small: Path) -> None:
    before = ok(small, "topology")
    line = fails(small, 1, "networks", "create", "Broken", "--cloud", "Alpha", "--cidr",
                 "10.5.0.0/24", fail="create_network")
    assert "create network" in line
    assert ok(small, "topology") == before
    ok(small, "networks", "create", "Broken", "--cloud", "Alpha", "--cidr", "10.5.0.0/24")


def test_destroy_and_reset_without_yes_and_no_terminal_exit_2(small: Path) -> None:
    before = ok(small, "topology")
    assert "--yes" in fails(small, 2, "destroy")
    assert "--yes" in fails(small, 2, "reset")
    assert "--yes" in fails(small, 2, "clouds", "remove", "Alpha")
    assert ok(small, "topology") == before


def test_power_actions_reset_and_destroy(small: Path) -> None:
    ok(small, "instances", "stop", "Vm")
    assert json_of(small, "instances", "show", "Vm", "--json")["status"] == "SHUTOFF"
    fails(small, 2, "instances", "reboot", "Vm")
    ok(small, "instances", "start", "Vm")
    ok(small, "instances", "reboot", "Vm", "--cloud", "Alpha")
    assert json_of(small, "instances", "show", "Vm", "--json")["status"] == "ACTIVE"
    ok(small, "clusters", "add", "K", "--cloud", "Alpha")
    ok(small, "reset", "--yes")
    assert json_of(small, "instances", "list", "--json") == []
    assert [n["name"] for n in json_of(small, "networks", "list", "--json")] == ["public"]
    assert [c["name"] for c in json_of(small, "clusters", "list", "--json")] == ["K"]
    ok(small, "destroy", "--yes")
    assert ok(small, "topology") == EMPTY + "\n"
    assert json_of(small, "clouds", "list", "--json") == []


def test_routers_networks_and_public_ips(tmp_path: Path) -> None:
    ok(tmp_path, "clouds", "add", "Alpha", "--type", "stub")
    ok(tmp_path, "routers", "create", "R", "--cloud", "Alpha")
    ok(tmp_path, "networks", "create", "Net", "--cloud", "Alpha", "--cidr", "10.0.0.0/24")
    ok(tmp_path, "routers", "attach", "R", "Net")
    ok(tmp_path, "routers", "gateway", "R", "public")
    fails(tmp_path, 2, "routers", "gateway", "R", "public")  # already its gateway
    ok(tmp_path, "instances", "create", "Vm", "--cloud", "Alpha", "--image", "cirros",
       "--flavor", "m1.tiny", "--network", "Net")
    plan = ok(tmp_path, "instances", "connect", "Vm").strip()
    assert plan.startswith("ssh cirros@203.0.113.")
    address = plan.split("@")[1]
    assert json_of(tmp_path, "instances", "show", "Vm", "--json")["security_groups"] == \
        ["default", "public_ssh"]
    fails(tmp_path, 1, "routers", "detach", "R", "Net")  # carries Vm's public IP
    ok(tmp_path, "instances", "remove", "Vm")
    assert json_of(tmp_path, "public-ips", "list", "--json") == []
    ok(tmp_path, "routers", "detach", "R", "Net")
    ok(tmp_path, "routers", "gateway", "R", "--clear")
    assert json_of(tmp_path, "routers", "list", "--json")[0]["gateway"] is None
    ok(tmp_path, "networks", "remove", "Net")
    ok(tmp_path, "routers", "remove", "R")
    fails(tmp_path, 2, "public-ips", "release", address)
    ok(tmp_path, "clouds", "remove", "Alpha", "--yes")
    assert ok(tmp_path, "topology") == EMPTY + "\n"


def test_openstack_cloud_failure_is_one_line(tmp_path: Path) -> None:
    done = minicloud(tmp_path, "clouds", "add", "Os", "--type", "openstack",
                     "--os-cloud", "nowhere", env={"OS_PASSWORD": "s3cr3t-word"})
    assert done.returncode in (1, 2), done
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minicloud: "), done.stderr
    assert "s3cr3t-word" not in done.stdout + done.stderr
    assert ok(tmp_path, "topology") == EMPTY + "\n"


def test_notices_go_to_stderr(small: Path) -> None:
    done = minicloud(small, "topology")
    assert done.stderr == ""
    assert "Cloud: Alpha" in done.stdout


# --- help ----------------------------------------------------------------------------------


def _all_commands() -> list[list[str]]:
    from minicloud.cli.commands import build_parser

    def walk(parser: object, path: list[str]) -> list[list[str]]:
        found = [path]
        for action in parser._actions:  # type: ignore[attr-defined]
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                for name, sub in choices.items():
                    found += walk(sub, [*path, name])
        return found

    return walk(build_parser(), [])


def test_help_for_every_command(tmp_path: Path) -> None:
    """One process runs ``--help`` on every command through run_command (fast)."""
    commands = _all_commands()
    assert ["instances", "connect"] in commands and ["routers", "gateway"] in commands
    script = (
        "import json, sys, contextlib, io\n"
        "from minicloud.app import MiniCloud\n"
        "from minicloud.config import load_config\n"
        "from minicloud.cli.commands import run_command\n"
        "app = MiniCloud(load_config()).open()\n"
        "out = {}\n"
        "for cmd in json.loads(sys.argv[1]):\n"
        "    buf = io.StringIO()\n"
        "    with contextlib.redirect_stdout(buf):\n"
        "        code = run_command(app, [*cmd, '--help'])\n"
        "    out[' '.join(cmd)] = [code, buf.getvalue()]\n"
        "app.close()\n"
        "print(json.dumps(out))\n"
    )
    environ = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    environ.update(MINICLOUD_HOME=str(tmp_path), HOME=str(tmp_path), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", script, json.dumps(commands)], cwd=tmp_path,
                          env=environ, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    for name, (code, text) in results.items():
        assert code == 0, name
        assert text.startswith("usage: minicloud"), name
        assert f"minicloud {name}".strip() in text, name


def test_help_in_a_subprocess(tmp_path: Path) -> None:
    top = ok(tmp_path, "help")
    for group in ("topology", "clouds", "clusters", "images", "flavors", "refresh", "routers",
                  "networks", "public-ips", "instances", "security-groups", "reset",
                  "destroy"):
        assert group in top
    assert "--fixed-ip" in ok(tmp_path, "instances", "create", "--help")
    assert "--external-cidr" in ok(tmp_path, "help", "clouds", "add")
    assert "--clear" in ok(tmp_path, "routers", "gateway", "-h")
