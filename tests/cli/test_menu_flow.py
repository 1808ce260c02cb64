"""The flow an operator expects from the menu (issue 15): each answer is checked at its
question, pickers offer only what the action applies to, refusals come before confirmations.

Driven through the real menu loop (``run_menu``) with a Prompter on ``io.StringIO``; a script
that runs out ends the menu as end of input does.
"""

from __future__ import annotations

import io

from minicloud.app import MiniCloud
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
    assert "Cluster name : cluster 'London' exists already in cloud TryStack\nCluster name : " \
        in out
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
