"""refresh says what each cloud holds once read, as one line a cloud; a cloud that could not
be read says why instead (menu and command share the action)."""

from __future__ import annotations

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from tests.faults import Faults


def test_refresh_sums_up_each_cloud(demo_app: MiniCloud,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(demo_app, ["refresh"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["TryStack: 3 instances, 3 networks, 1 router, 1 public IP.",
                   "Refreshed 1 of 1 cloud."]


def test_a_cloud_that_cannot_be_read_gets_no_summary(demo_app: MiniCloud,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with Faults({"list_servers": None}).installed(demo_app):
        assert run_command(demo_app, ["refresh"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == ["Refreshed 0 of 1 cloud."]
    assert "cloud TryStack: list servers failed" in err
