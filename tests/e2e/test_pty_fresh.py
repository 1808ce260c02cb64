"""A menu open at a terminal (pexpect) shows what another process did, at its next screen
(issue 23, item 4): a public IP given, a server stopped and started, a cloud removed; and it
refuses to stop a server another process stopped after the picker offered it.

The other process is this test's: commands run in process against the menu's store (as from
another shell, at a fraction of a subprocess's cost).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect
import pytest
from menu_helpers import minicloud_env

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.config import Config
from tests.backends import seed_demo_sqlite

# A wait only bounds a failure (a cold start on a loaded 2-core machine can be slow).
SLOW_START = 180
PROMPT = "Make a choice : [1] "
TOWER = "Instance: Tower [10.10.2.5] (LondonNet) [public_ssh]"
BEN = "Instance: Ben [10.10.2.6] (LondonNet) [default]"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The demo, with Tower's public IP released and a second cloud, Edge."""
    seed_demo_sqlite(tmp_path / "minicloud.db")
    elsewhere(tmp_path, "public-ips", "release", "8.21.28.30")
    elsewhere(tmp_path, "clouds", "add", "Edge", "--type", "stub",
              "--external-cidr", "198.51.100.0/24")
    return tmp_path


def elsewhere(home: Path, *argv: str) -> None:
    """A one-shot command on the menu's store, from this (another) process."""
    app = MiniCloud(Config(home=home, db_url=f"sqlite:///{home}/minicloud.db"),
                    notify=lambda text: None)
    try:
        assert run_command(app, list(argv)) == 0, argv
    finally:
        app.close()


def choose(child: pexpect.spawn, *answers: str) -> None:
    for answer in answers:
        child.sendline(answer)


def shown(child: pexpect.spawn, until: str = PROMPT) -> str:
    """What the menu shows up to its next prompt (``until``)."""
    child.expect_exact(until)
    return (child.before or "").replace("\r\n", "\n")


def test_the_next_screen_shows_what_another_process_did(home: Path) -> None:
    child = pexpect.spawn(sys.executable, ["-m", "minicloud"], cwd=str(home),
                          env=minicloud_env(home), encoding="utf-8", timeout=SLOW_START)
    shown(child)
    choose(child, "1")
    tree = shown(child)
    assert f"+---{TOWER} [ACTIVE]\n" in tree and "+---Cloud: Edge" in tree

    elsewhere(home, "clouds", "remove", "Edge", "--yes")
    choose(child, "2", "2")                                 # Clouds: List clouds
    shown(child)
    listed = shown(child)
    assert "TryStack  stub" in listed and "Edge" not in listed, listed

    elsewhere(home, "instances", "connect", "Tower", "--public-ip", "8.21.28.30")
    choose(child, "13", "1")                                # Back, the tree
    shown(child)
    tree = shown(child)
    assert f"+---{TOWER} [8.21.28.30] [ACTIVE]\n" in tree and "Edge" not in tree, tree
    choose(child, "4", "6")                                 # Networks: List public IPs
    shown(child)
    assert "8.21.28.30  TryStack  external  Tower" in shown(child)
    choose(child, "9", "5", "4")                            # Back; Instances: Show...
    shown(child)
    shown(child)
    shown(child, "Make a choice : ")
    choose(child, "3")                                      # ... Tower
    details = shown(child)
    assert "Public IP" in details and "8.21.28.30" in details, details

    elsewhere(home, "instances", "stop", "Ben")
    choose(child, "1")                                      # Instance topology
    assert f"+---{BEN} [SHUTOFF]\n" in shown(child)
    choose(child, "6")                                      # Stop: Ben is not offered
    offered = shown(child, "Make a choice : ")
    assert "Ben" not in offered and "[1] : Bourla" in offered, offered
    choose(child, "3")                                      # Cancel

    elsewhere(home, "instances", "start", "Ben")
    shown(child)
    choose(child, "1")
    assert f"+---{BEN} [ACTIVE]\n" in shown(child)
    choose(child, "6")                                      # Stop: Ben is offered...
    assert "[1] : Ben [10.10.2.6] [ACTIVE]" in shown(child, "Make a choice : ")
    elsewhere(home, "instances", "stop", "Ben")             # ... and stopped elsewhere
    choose(child, "1")
    assert "Error: instance Ben is stopped already" in shown(child)
    choose(child, "10", "8")
    child.expect(pexpect.EOF)
    child.close()
    assert "Traceback" not in (child.before or "")
    assert child.exitstatus == 0
