"""--cloud may be left out where one cloud makes it unambiguous; with several it is asked for
by name, in one line (exit 2)."""

from __future__ import annotations

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command

COMMANDS = [
    ["images", "list"],
    ["flavors", "list"],
    ["networks", "create", "N2", "--cidr", "10.77.0.0/24"],
    ["routers", "create", "R2"],
    ["clusters", "add", "K2"],
]


def test_one_cloud_needs_no_cloud_option(demo_app: MiniCloud,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    for argv in COMMANDS:
        assert run_command(demo_app, argv) == 0, (argv, capsys.readouterr().err)
    assert run_command(demo_app, ["instances", "create", "V2", "--image", "cirros",
                                  "--flavor", "m1.tiny", "--network", "N2"]) == 0
    assert demo_app.instances.find("instance", "V2", "TryStack").private_ip == "10.77.0.2"


def test_several_clouds_need_it_named(demo_app: MiniCloud,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    demo_app.clouds.add("Other", "stub")
    capsys.readouterr()
    for argv in COMMANDS:
        assert run_command(demo_app, argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err == "minicloud: --cloud is needed: one of Other, TryStack", err


def test_no_cloud_yet_says_so(app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(app, ["images", "list"]) == 2
    assert capsys.readouterr().err.strip() == "minicloud: --cloud: there is no cloud to use yet"
