"""The flow an operator expects from the menu (issue 15): each answer is checked at its
question, pickers offer only what the action applies to, refusals come before confirmations.

Driven through the real menu loop (``run_menu``) with a Prompter on ``io.StringIO``; a script
that runs out ends the menu as end of input does.
"""

from __future__ import annotations

import io

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.cli.menus.main import run_menu
from minicloud.cli.prompts import Prompter


def menu(app: MiniCloud, *answers: str) -> str:
    """What the menu shows for ``answers`` (one line each; ``""`` is Enter)."""
    out = io.StringIO()
    script = "".join(f"{a}\n" for a in answers)
    assert run_menu(lambda: app, Prompter(io.StringIO(script), out)) == 0
    return out.getvalue()


# -- 1. each answer is checked at its question ------------------------------------------------


def test_a_taken_cloud_name_is_refused_when_typed(demo_app: MiniCloud) -> None:
    out = menu(demo_app, "2", "3", "TryStack", "Lab")
    assert "Cloud name : a cloud named 'TryStack' exists already\nCloud name : " in out
    assert out.count("[ Cloud type ]") == 1  # asked once, for Lab


def test_a_taken_router_name_is_refused_when_typed(demo_app: MiniCloud) -> None:
    out = menu(demo_app, "3", "3", "", "LondonGateway", "R2", "1")
    assert ("Router name : a router named 'LondonGateway' exists already in cloud TryStack\n"
            "Router name : ") in out
    assert "Router R2 created in cloud TryStack.\n" in out
    assert "Error" not in out


def test_a_taken_network_name_is_refused_when_typed(demo_app: MiniCloud) -> None:
    out = menu(demo_app, "4", "3", "", "LondonNet")
    assert ("Network name : a network named 'LondonNet' exists already in cloud TryStack\n"
            "Network name : ") in out
    assert "CIDR" not in out


def test_a_taken_instance_name_is_refused_when_typed(demo_app: MiniCloud) -> None:
    out = menu(demo_app, "5", "3", "", "Tower")
    assert ("Instance name : an instance named 'Tower' exists already in cloud TryStack\n"
            "Instance name : ") in out
    assert "[ Cluster ]" not in out


def test_a_taken_cluster_name_is_refused_when_typed(demo_app: MiniCloud) -> None:
    out = menu(demo_app, "2", "6", "", "London", "Paris")
    assert ("Cluster name : a cluster named 'London' exists already in cloud TryStack\n"
            "Cluster name : ") in out
    assert "Cluster Paris added to cloud TryStack.\n" in out


def test_a_fixed_ip_is_checked_against_the_chosen_network(demo_app: MiniCloud) -> None:
    # Create an instance: cloud TryStack, name Eiffel, cluster London, the first image and
    # flavor, network LondonNet (10.10.2.0/24), the default group, then fixed IPs.
    out = menu(demo_app, "5", "3", "", "Eiffel", "3", "1", "1", "2", "",
               "10.99.0.5", "10.10.2.5", "10.10.2.50")
    ask = "Fixed IP (empty: the next free one) : "
    assert f"{ask}10.99.0.5 is not in LondonNet (10.10.2.0/24)\n{ask}" in out
    assert f"{ask}10.10.2.5 is in use by instance Tower\n{ask}" in out
    assert "Instance Eiffel created: ACTIVE, 10.10.2.50 on LondonNet.\n" in out


# -- 3. pickers offer only what the action applies to; refusals before confirmations ----------


def picker(out: str, title: str, nth: int = 0) -> list[str]:
    """The entries of the ``nth`` picker titled ``title`` shown in ``out``."""
    block = out.split(f"[ {title} ]\n")[nth + 1].split("Make a choice")[0]
    return [line.split(" : ", 1)[1] for line in block.splitlines() if line.startswith("[")]


def test_start_offers_stopped_instances_and_stop_running_ones(demo_app: MiniCloud) -> None:
    out = menu(demo_app, "5", "5",               # Start: every instance runs
               "6", "1",                          # Stop Ben
               "6", "1",                          # Stop again: Ben is not offered; Bourla
               "7", "1",                          # Reboot: only Tower is offered
               "5", "2")                          # Start: the two stopped ones
    assert "No stopped instance to start.\n" in out
    stop_lists = [picker(out, "Instance", n) for n in range(3)]
    assert [e.split()[0] for e in stop_lists[0]] == ["Ben", "Bourla", "Tower", "Cancel"]
    assert [e.split()[0] for e in stop_lists[1]] == ["Bourla", "Tower", "Cancel"]
    assert [e.split()[0] for e in stop_lists[2]] == ["Tower", "Cancel"]
    assert [e.split()[0] for e in picker(out, "Instance", 3)] == ["Ben", "Bourla", "Cancel"]
    assert "Instance Ben stopped: SHUTOFF.\n" in out
    assert "Instance Bourla stopped: SHUTOFF.\n" in out
    assert "Instance Tower rebooted: ACTIVE.\n" in out
    assert "Instance Bourla started: ACTIVE.\n" in out
    assert "Error" not in out


def test_attach_says_when_the_network_is_on_every_router(demo_app: MiniCloud) -> None:
    out = menu(demo_app, "4", "4")               # Attach: LondonNet is on the one router
    assert picker(out, "Network") == ["AntwerpNet [10.10.1.0/24]", "Cancel"]


def test_in_use_refusals_come_before_the_confirmation(demo_app: MiniCloud) -> None:
    out = menu(demo_app, "4", "8", "2",          # remove LondonNet: it has instances
               "8", "3",                          # remove external: not MiniCloud's
               "9", "3", "8", "",                 # remove LondonGateway: it carries Tower's IP
               "9", "2", "7", "2")                # remove cluster London: it has instances
    assert "Remove network LondonNet\n" not in out and "? [y/N]" not in out
    assert "Error: network LondonNet has instances: Ben, Tower; remove them first\n" in out
    assert "Error: MiniCloud did not create network external; it stays\n" in out
    assert "Error: router LondonGateway carries public IPs of Tower; release them first\n" in out
    assert "Error: cluster London still has instances: Ben, Tower; remove them first\n" in out


def test_remove_cluster_asks_for_confirmation(demo_app: MiniCloud) -> None:
    out = menu(demo_app, "2", "6", "", "Paris",
               "7", "3", "",                      # remove Paris? Enter = no
               "7", "3", "y")
    assert "Remove cluster Paris from cloud TryStack? [y/N] Nothing changed.\n" in out
    assert "Remove cluster Paris from cloud TryStack? [y/N] Cluster Paris removed from cloud " \
           "TryStack.\n" in out
    assert [c.name for c in demo_app.clusters.all()] == ["Antwerp", "London"]


def test_a_command_names_its_target_and_gets_the_same_refusal(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(demo_app, ["networks", "remove", "LondonNet"]) == 1
    assert capsys.readouterr().err == \
        "minicloud: network LondonNet has instances: Ben, Tower; remove them first\n"
    assert run_command(demo_app, ["instances", "start", "Tower"]) == 2
    assert capsys.readouterr().err == "minicloud: instance Tower is running already\n"
    # A command names its cluster: no question (the menu asks).
    assert run_command(demo_app, ["clusters", "add", "Paris", "--cloud", "TryStack"]) == 0
    assert run_command(demo_app, ["clusters", "remove", "Paris", "--cloud", "TryStack"]) == 0
    assert "Cluster Paris removed from cloud TryStack.\n" in capsys.readouterr().out
