"""The interactive menu driven through stdin, as a piped script would (DESIGN.md 2-4b)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from menu_helpers import EMPTY_TOPOLOGY, EMPTY_TREE, MAIN_MENU, REFERENCE_TREE, Runner, with_demo

from minicloud.drivers import DRIVERS
from tests.conftest import KNOWN_SECTIONS
from tests.reference import AFTER_RESET_TREE


@pytest.fixture
def run(tmp_path: Path) -> Runner:
    """A fresh temporary home (also HOME and the working directory)."""
    return Runner(tmp_path)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo deployment, built once (``--demo topology``) and copied for every test."""
    return with_demo(Runner(tmp_path_factory.mktemp("demo"))).home


@pytest.fixture
def demo(run: Runner, demo_home: Path) -> Runner:
    """A home holding the demo deployment."""
    shutil.copytree(demo_home, run.home, dirs_exist_ok=True)
    return run


def keys(*answers: str) -> str:
    """One line per answer (an empty string is Enter)."""
    return "".join(f"{a}\n" for a in answers)


# Adds stub cloud Lab (default external network `public`, 203.0.113.0/24) from the main menu
# and returns to it.
# Cloud management > Add a cloud: name, type (stub), location, then the Stub's settings
# (external network, its CIDR, its subnet, where its state lives), all defaults; Back.
ADD_LAB = ("2", "3", "Lab", "", "lab.local", "", "", "", "", "13")


def test_exit_shows_exactly_the_main_menu_and_opens_nothing(run: Runner) -> None:
    result = run(stdin="8\n")
    assert result.code == 0
    assert result.out == MAIN_MENU
    assert result.err == ""
    assert not (run.home / "minicloud.db").exists()


def test_first_start_topology_then_end_of_input(run: Runner) -> None:
    result = run(stdin="1\n")
    assert result.code == 0
    assert result.out == MAIN_MENU + "\n" + EMPTY_TREE + MAIN_MENU + "\n"


def test_demo_tree_in_the_menu_and_after_restart(run: Runner) -> None:
    result = run("--demo", stdin="1\n8\n")
    assert result.code == 0
    assert REFERENCE_TREE in result.out
    assert result.out.startswith(MAIN_MENU)
    assert run.topology() == REFERENCE_TREE
    again = run("--demo", stdin="\n8\n")  # Enter takes [1]; a second --demo changes nothing
    assert REFERENCE_TREE in again.out
    assert "already holds clouds" in again.err
    assert run.topology() == REFERENCE_TREE


def test_cloud_management(run: Runner) -> None:
    result = run(stdin=keys(
        "2",
        "2",                                      # list: none yet
        "4",                                      # update with no cloud: says so
        "3", "Lab", "", "lab.local", "", "", "", "",  # add stub Lab, defaults
        "3", "Spare", "", "", "ext", "10.99.0.0/24", "", "spare.db",  # state: a file of its own
        "3", "Lab", "Spare2", "", "", "", "", "", "",  # a second Lab: refused when typed
        "5", "3", "y",                            # remove Spare2
        "2",
        "4", "1", "Ghent",                        # update Lab's location
        "6", "1", "bad name", "Antwerp",          # a bad cluster name: one line, asked again
        "6", "1", "North",
        "7", "2", "y",                            # remove cluster North (Antwerp, North)
        "8", "1",                                 # images of Lab
        "9", "1",                                 # flavors of Lab
        "10",                                     # refresh
        "5", "2", "y",                            # remove Spare
        "5", "", "",                              # remove Lab? Enter = no
        "1",
        "13", "8"))
    out = result.out
    assert result.code == 0, result.err
    assert "No clouds yet.\n" in out
    assert "No clouds yet: add one in Cloud management.\n" in out
    assert "Cloud Lab added (stub).\n" in out
    assert "Cloud Spare added (stub).\n" in out
    assert "Cloud name : a cloud named 'Lab' exists already\nCloud name : " in out
    assert ("\nNAME   TYPE  LOCATION   REACHABLE  CLUSTERS  INSTANCES  SYNCED\n"
            "Lab    stub  lab.local  yes        -         0          synced just now\n"
            "Spare  stub  -          yes        -         0          synced just now\n") in out
    assert "Cloud Lab: location is now Ghent.\n" in out
    assert re.search(r"Cluster name : invalid cluster name 'bad name': use 1-64 characters[^\n]*"
                     r"\nCluster name : Cluster Antwerp added to cloud Lab\.\n", out)
    assert "Cluster North removed from cloud Lab.\n" in out
    assert ("\nNAME    CLOUD  ID\ncirros  Lab    image-cirros\n"
            "ubuntu  Lab    image-ubuntu\n") in out
    assert ("\nNAME       VCPUS  RAM_MB  DISK_GB  CLOUD\n"
            "m1.tiny    1      512     1        Lab\n"
            "m1.small   1      2048    20       Lab\n") in out
    assert "Refreshed 2 of 2 clouds.\n" in out
    assert "Cloud Spare forgotten; its resources stay in the cloud.\n" in out
    assert "Remove cloud Lab from MiniCloud? [y/N] Nothing changed.\n" in out
    assert "+---Cloud: Lab (Ghent)\n" in out
    tree = run.topology()  # a restart keeps it all
    assert "Cloud: Lab (Ghent)" in tree and "Cluster: Antwerp" in tree
    assert "Spare" not in tree and "North" not in tree
    assert "Network: public (external) [203.0.113.0/24]" in tree
    # Spare's state is where its setting said, beside the store; the others' in the default
    # file there; forgetting Spare left its resources in its place.
    assert (run.home / "spare.db").is_file() and (run.home / "minicloud-stub.db").is_file()
    assert b"Spare" in (run.home / "spare.db").read_bytes()


def test_router_and_network_management(run: Runner) -> None:
    result = run(stdin=keys(
        *ADD_LAB,
        "3",
        "2",                                      # list: none
        "3", "", "Gw", "",                        # gateway: the one external network
        "3", "", "Inner", "1",                    # no gateway
        "9",
        "4",
        "3", "", "Net1", "10.1.0.0", "10.1.0.0/24", "2",   # CIDR refused once; router Gw
        "3", "", "Net2", "10.1.0.0/16", "10.2.0.0/24", "1",  # overlap refused; no router
        "2",
        "4", "2", "2",                            # attach Net2 to Inner
        "5", "2", "",                             # detach Net2 from its only router
        "9",
        "3",
        "4", "2", "2",                            # router Inner: attach Net2
        "5", "2", "",                             # router Inner: detach Net2
        "7", "",                                  # clear Gw's gateway
        "7",                                      # no router has a gateway now
        "6", "1", "",                             # set Gw's gateway: public
        "6", "2",                                 # again: only Inner is offered; Cancel
        "8", "2", "y",                            # remove Inner
        "2",
        "1",
        "9", "8"))
    out = result.out
    assert result.code == 0, result.err
    assert "No routers yet.\n" in out
    assert "Router Gw created in cloud Lab with gateway public.\n" in out
    assert "Router Inner created in cloud Lab.\n" in out
    assert "CIDR (e.g. 10.0.0.0/24) : invalid CIDR '10.1.0.0'" in out
    assert "Network Net1 [10.1.0.0/24] created in cloud Lab, attached to router Gw.\n" in out
    assert "10.1.0.0/16 overlaps Net1 (10.1.0.0/24) in cloud Lab\n" in out
    assert "Network Net2 [10.2.0.0/24] created in cloud Lab.\n" in out
    assert "\nNet1    Lab    10.1.0.0/24     no        Gw       0          yes\n" in out
    assert "\npublic  Lab    203.0.113.0/24  yes       Gw       0          no\n" in out
    assert out.count("Network Net2 attached to router Inner.\n") == 2
    assert out.count("Network Net2 detached from router Inner.\n") == 2
    assert "Router Gw: gateway cleared.\n" in out
    assert "No router has a gateway.\n" in out
    assert "Router Gw: gateway is now public.\n" in out
    # Gw is not offered again: it has a gateway (issue 25, item 5).
    assert "[ Router ]\n[1] : Inner\n[2] : Cancel\n" in out
    assert "Error" not in out
    assert "Router Inner removed.\n" in out
    assert ("\nNAME  CLOUD  GATEWAY  NETWORKS  OWNED\n"
            "Gw    Lab    public   Net1      yes\n") in out
    tree = run.topology()
    assert "+---Router: Gw (public)\n" in tree
    assert "Inner" not in tree
    assert "+---Network: Net2 [10.2.0.0/24] (0 instances)\n" in tree


def test_instance_management_on_the_demo(demo: Runner) -> None:
    # Instances sort by name: Ben, Bourla, (Extra,) Tower.
    result = demo(stdin=keys(
        "5",
        "2",
        "8", "3",                                 # connect Tower
        "8", "1", "",                             # connect Ben: any free public IP
        "3", "", "Extra", "3", "1", "1", "2", "", "10.10.2.99",
        "4", "3",
        "6", "3", "6", "4",                       # stop; Stop again does not offer it
        "7", "4",                                 # nor does Reboot: cancel
        "5", "", "7", "3",                        # start (the one stopped), reboot
        "9", "3", "",                             # remove? Enter = no
        "9", "3", "y",
        "1",
        "10", "8"))
    out = result.out
    assert result.code == 0, result.err
    assert ("\nTower   TryStack  London   ACTIVE  10.10.2.5   LondonNet   8.21.28.30  public_ssh  "
            "cirros  m1.tiny\n") in out
    assert "\nssh cirros@8.21.28.30\n" in out
    assert re.search(r"\nssh cirros@8\.21\.28\.\d+\n(.|\n)*\nssh cirros@8\.21\.28\.(?!30\n)\d+\n",
                     out)
    assert "Instance Extra created: ACTIVE, 10.10.2.99 on LondonNet.\n" in out
    assert "Status               : ACTIVE\n" in out
    assert "Cluster              : London\n" in out
    assert "Instance Extra stopped: SHUTOFF.\n" in out
    assert "Error" not in out
    assert "Instance Extra started: ACTIVE.\n" in out
    assert "Instance Extra rebooted: ACTIVE.\n" in out
    assert "Remove instance Extra from cloud TryStack? [y/N] Nothing changed.\n" in out
    assert "Instance Extra removed.\n" in out
    tree = demo.topology()
    assert "Extra" not in tree
    assert re.search(r"Instance: Ben \[10\.10\.2\.6\] \(LondonNet\) \[default, public_ssh\] "
                     r"\[8\.21\.28\.\d+\] \[ACTIVE\]", tree)


def test_public_ips_and_removals(demo: Runner) -> None:
    result = demo(stdin=keys(
        "4",
        "6",                                      # list public IPs
        "8", "2",                                 # remove LondonNet: it has instances
        "8", "3",                                 # remove external: not MiniCloud's
        "7", "", "",                              # release? Enter = no
        "7", "", "y",
        "6",
        "9",
        "5", "9", "1", "y", "9", "1", "y", "9", "", "y",  # remove Ben, Bourla, Tower
        "10",
        "4", "8", "2", "y",                       # now LondonNet goes
        "9",
        "3", "8", "", "y",                        # and the router
        "9",
        "2", "7", "1", "y", "7", "", "y", "13",   # and the clusters
        "8"))
    out = result.out
    assert result.code == 0, result.err
    assert ("\nADDRESS     CLOUD     NETWORK   INSTANCE  OWNED\n"
            "8.21.28.30  TryStack  external  Tower     yes\n") in out
    assert "Error: network LondonNet has instances: Ben, Tower; remove them first\n" in out
    assert "Error: MiniCloud did not create network external; it stays\n" in out
    assert ("Release public IP 8.21.28.30 back to cloud TryStack, detaching it from instance "
            "Tower? [y/N] Nothing changed.\n") in out
    assert "Public IP 8.21.28.30 released (it was attached to instance Tower).\n" in out
    assert "No public IPs.\n" in out
    for name in ("Ben", "Bourla", "Tower"):
        assert f"Instance {name} removed.\n" in out
    assert "Network LondonNet removed.\n" in out
    assert "Router LondonGateway removed.\n" in out
    assert "Cluster Antwerp removed from cloud TryStack.\n" in out
    assert "Cluster London removed from cloud TryStack.\n" in out
    assert demo.topology() == """\
      MiniCloud
      |
      +---Compute
      |   |
      |   +---Cloud: TryStack (trystack.org)
      |
      +---Networking
          |
          +---Network: AntwerpNet [10.10.1.0/24] (0 instances)
          +---Network: external (external) [trystack]
"""


@pytest.mark.parametrize("answer", ["", "N"])
def test_reset_and_destroy_default_to_no(demo: Runner, answer: str) -> None:
    result = demo(stdin=keys("6", answer, "7", answer, "8"))
    assert result.code == 0
    assert result.out.count("Nothing changed.\n") == 2
    assert demo.topology() == REFERENCE_TREE


def test_reset_keeps_clouds_clusters_and_the_external_network(demo: Runner) -> None:
    result = demo(stdin=keys("6", "y", "1", "8"))
    assert result.code == 0, result.err
    assert "Reset to startup: undo everything MiniCloud did in every cloud" in result.out
    assert "  released public IP 8.21.28.30\n" in result.out
    assert "  deleted instance Tower\n" in result.out
    assert "  deleted router LondonGateway\n" in result.out
    assert "  deleted network AntwerpNet\n" in result.out
    assert "Error" not in result.out
    assert "Reset done: the clouds are as when they were added.\n" in result.out
    assert AFTER_RESET_TREE in result.out
    assert demo.topology() == AFTER_RESET_TREE


def test_destroy_leaves_a_first_start(demo: Runner) -> None:
    result = demo(stdin=keys("7", "y", "1", "8"))
    assert result.code == 0, result.err
    assert "All data destroyed: the next start is a first start.\n" in result.out
    assert "\n" + EMPTY_TREE in result.out  # the same session goes on as a first start
    assert demo.topology() == EMPTY_TOPOLOGY
    again = demo("--demo", "topology")  # a first start: the demo can be built again
    assert again.out == REFERENCE_TREE


def test_destroy_then_exit_at_once(demo: Runner) -> None:
    assert demo(stdin=keys("7", "y", "8")).code == 0
    assert demo.topology() == EMPTY_TOPOLOGY


MENU_GARBAGE = [b"abc", b"99", b"-1", b"0", b"x" * 10_000, b"9" * 10_000, b"\xff\xfe\x80",
                b"\x1b[A", b"1e3", b" 2 2"]


def test_garbage_at_every_prompt_kind(run: Runner) -> None:
    lines = [
        *MENU_GARBAGE, b"2",            # main menu
        *MENU_GARBAGE, b"3",            # Clouds menu -> Add a cloud
        b"", b"bad name", b"-x", b"x" * 10_000, b"\xff", b"\x07", b"Lab",  # name (ask)
        *MENU_GARBAGE, b"",             # type (pick; Enter takes stub)
        b"x" * 10_000, b"\xff", b"\x07", b"Here",  # location (optional)
        b"", b"not-a-cidr", b"",  # external network: default name, a bad CIDR, default
        b"",                            # its subnet: none
        b"",                            # where its state lives: beside the store
        b"5", *MENU_GARBAGE, b"1",      # remove a cloud: pick
        b"abc", b"99", b"\xff", b"x" * 10_000, b"n",   # confirm
        b"13", b"8",
    ]
    result = run(stdin=b"\n".join(lines) + b"\n")
    out = result.out
    assert result.code == 0
    assert out.count("Please pick a number between 1 and 8.\n") == len(MENU_GARBAGE)
    assert out.count("Please pick a number between 1 and 13.\n") == len(MENU_GARBAGE)
    types = len(DRIVERS) + 1  # the cloud types and Cancel
    assert out.count(f"Please pick a number between 1 and {types}.\n") == len(MENU_GARBAGE)
    assert out.count("Please pick a number between 1 and 2.\n") == len(MENU_GARBAGE)
    assert "Cloud name : A value is required.\n" in out
    assert "Cloud name : invalid cloud name 'bad name': use 1-64 characters" in out
    assert "Cloud name : invalid cloud name '-x'" in out
    # Too long, said with the field's own limit (issue 25, Words).
    assert "That is too long" not in out
    assert "Cloud name : invalid cloud name 'xxxxx" in out
    assert "Location (e.g. a region or host) : location too long (255 characters at most)\n" in out
    assert out.count("That is not valid UTF-8 text.\n") == 2
    assert out.count("Control characters are not allowed.\n") == 2
    assert "External network CIDR : [203.0.113.0/24] invalid CIDR 'not-a-cidr'" in out
    assert out.count("Please answer y or n.\n") == 4
    assert "Cloud Lab added (stub).\n" in out
    assert "Nothing changed.\n" in out
    assert "x" * 1001 not in out and "Unexpected" not in out
    assert "Cloud: Lab (Here)" in run.topology()


EOF_SCRIPTS = [
    "",                                # main menu
    "2\n",                             # submenu
    "2\n3\n",                          # ask
    "2\n3\nLab\n",                     # pick
    "2\n3\nLab\n\nHere\n\n",           # a driver setting
    "2\n3\nLab\n\nHere\n\n\n",         # the last question
    "6\n",                             # confirm
    "2\n6\n",                          # a pick with nothing to pick, then the submenu
]


def test_end_of_input_anywhere_exits_0_with_nothing_half_done(run: Runner) -> None:
    for script in EOF_SCRIPTS:
        result = run(stdin=script)
        assert result.code == 0
        assert result.out.endswith("\n")
    assert run.topology() == EMPTY_TOPOLOGY
    # With every question answered the cloud is there; end of input at the confirmation.
    assert run(stdin="2\n3\nLab\n\nHere\n\n\n\n5\n\n").code == 0
    assert "Cloud: Lab (Here)" in run.topology()


def test_end_of_input_in_the_demo_keeps_it(demo: Runner) -> None:
    for script in ("5\n", "5\n9\n", "5\n9\n3\n", "4\n3\n", "3\n3\n", "7\n"):
        assert demo(stdin=script).code == 0
    assert demo.topology() == REFERENCE_TREE


def test_manager_errors_are_one_line_and_the_menu_goes_on(demo: Runner) -> None:
    result = demo(stdin=keys("3", "8", "", "9", "8"))  # remove a router with public IPs
    assert result.code == 0
    assert "Error: router LondonGateway carries public IPs of Tower; release them first\n" \
        in result.out
    assert result.out.endswith(MAIN_MENU)


def test_store_that_cannot_open_exits_2(run: Runner) -> None:
    # A folder where the SQLite file should be: found only by opening it, at the first entry.
    (run.home / "adir").mkdir()
    (run.home / "minicloud.ini").write_text(f"[database]\nurl = sqlite:///{run.home}/adir\n")
    result = run(stdin="1\n")
    assert result.code == 2
    assert result.out == MAIN_MENU  # the menu came first; nothing after the error
    assert result.err.startswith("minicloud: ")
    assert len(result.err.splitlines()) == 1


@pytest.mark.parametrize("url", [
    "postgresql://mini@db/minicloud", "mysql://mini@db/minicloud",
    "mysql+pymysql://mini@db/minicloud?charset=latin1", "mysql+pymysql://mini@db/",
])
def test_unsupported_store_url_is_one_line_before_the_menu(run: Runner, url: str) -> None:
    (run.home / "minicloud.ini").write_text(f"[database]\nurl = {url}\n")
    result = run(stdin="2\n1\n")
    assert result.code == 2
    assert result.out == ""  # said before the menu, once, not at every entry
    assert result.err.startswith(f"minicloud: unsupported store URL {url} (")
    assert "sqlite:///PATH or mysql+pymysql://" in result.err
    assert len(result.err.splitlines()) == 1


@pytest.mark.parametrize("content", [b"this is no database at all, not even close\n",
                                     b"\0" * 100])
def test_corrupt_sqlite_store_is_said_before_the_menu(run: Runner, content: bytes) -> None:
    (run.home / "minicloud.db").write_bytes(content)
    result = run(stdin="1\n")
    assert result.code == 2
    assert result.out == ""
    assert result.err == (f"minicloud: store {run.home / 'minicloud.db'}: not an SQLite "
                          "database (damaged, or another kind of file); move it away or set "
                          "[database] url to another file\n")


def test_damaged_sqlite_schema_is_said_before_the_menu(run: Runner) -> None:
    # A valid header over a page of garbage: the header check passes, the schema read fails.
    (run.home / "minicloud.db").write_bytes(b"SQLite format 3\0" + b"\xff" * 4080)
    result = run(stdin="1\n")
    assert result.code == 2
    assert result.out == ""
    assert "its schema is damaged" in result.err
    assert len(result.err.splitlines()) == 1


def test_misspelled_ini_section_and_key_are_warned_and_the_menu_goes_on(run: Runner) -> None:
    (run.home / "minicloud.ini").write_text("[databse]\nurl = x\n[ssh]\ncomand = y\n")
    result = run(stdin="8\n")
    assert result.code == 0
    assert result.out == MAIN_MENU
    assert result.err.splitlines() == [
        f"minicloud: warning: {run.home / 'minicloud.ini'}: unknown section [databse] "
        f"(known: {KNOWN_SECTIONS})",
        f"minicloud: warning: {run.home / 'minicloud.ini'}: unknown key 'comand' in [ssh] "
        "(known: command, user)",
    ]


def _run_with(run: Runner, stdin: str, **env: str) -> tuple[int, str, str]:
    """``python -m minicloud`` in ``run``'s home with extra environment variables."""
    import subprocess
    import sys

    from menu_helpers import minicloud_env

    proc = subprocess.run([sys.executable, "-m", "minicloud"], input=stdin.encode(),
                          capture_output=True, cwd=run.home,
                          env={**minicloud_env(run.home), **env}, timeout=60)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert "Traceback" not in out + err, out + err
    return proc.returncode, out, err


def test_openstack_add_in_the_menu_refuses_a_bad_url_and_says_refused_in_one_line(
        run: Runner) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    code, out, _ = _run_with(
        run, keys("2", "3", "OS", "openstack", "", "notaurl", f"http://127.0.0.1:{port}/v3",
                  "p", "u", "", "", "", "a-long-password", "13"),
        OS_CLIENT_CONFIG_FILE=str(run.home / "no-clouds.yaml"))
    assert code == 0
    assert ("invalid auth URL 'notaurl': write http(s)://HOST[:PORT]/PATH, e.g. "
            "https://keystone.example.com:5000/v3\n") in out
    assert ("  ... logging in (each request gives up after 30 s without an answer: "
            "[openstack] timeout in minicloud.ini)\n") in out
    assert (f"Error: cloud OS: log in unreachable: cannot reach http://127.0.0.1:{port}: "
            "connection refused\n") in out
