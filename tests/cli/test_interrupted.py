"""Ctrl-C during an operation (issue 23, failure 10c): a command exits 130 with one line that
says what was left pending, never a repr of the exception; the menu says it and goes back to
its menu.  The interrupt lands just after a cloud call took effect, the worst moment: its undo
is not known yet, and undoing what came before it may fail."""

from __future__ import annotations

import io
from typing import Any

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.cli.menus.main import run_menu
from minicloud.cli.prompts import Prompter

CLOUD = "TryStack"
# The cloud calls of removing Tower (which holds a public IP MiniCloud allocated), in order.
CALLS = ["disassociate_public_ip", "delete_server", "release_public_ip"]


def _ctrl_c_after(app: MiniCloud, monkeypatch: pytest.MonkeyPatch, call: str) -> None:
    """The session's driver makes ``call`` once, then the user presses Ctrl-C."""
    driver = app.session.drivers.get(app.clouds.get(CLOUD))
    real = getattr(driver, call)

    def interrupted(*args: Any) -> Any:
        monkeypatch.setattr(driver, call, real)
        real(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(driver, call, interrupted)


def _settles(app: MiniCloud) -> None:
    """What the interruption left is settled by the next refresh (Tower removed or not, as
    the cloud shows it), and Reset then cleans the cloud as usual."""
    assert app.sync.refresh() == []
    assert app.inventory.cache.all("intent") == []
    assert app.resetter.reset().failures == []
    assert app.instances.all(CLOUD) == [] and app.public_ips.public_ips(CLOUD) == []


@pytest.mark.parametrize("call", CALLS)
def test_ctrl_c_during_instances_remove_exits_130_in_one_line(
        demo_app: MiniCloud, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], call: str) -> None:
    _ctrl_c_after(demo_app, monkeypatch, call)
    assert run_command(demo_app, ["instances", "remove", "Tower"]) == 130
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("minicloud: interrupted"), err
    assert "KeyboardInterrupt" not in err[0] and "Traceback" not in err[0]
    # What is left pending is named: the removal (its settle is what the next write does).
    assert "left pending" in err[0], err
    _settles(demo_app)


def test_ctrl_c_during_a_menu_removal_goes_back_to_the_menu(
        demo_app: MiniCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    _ctrl_c_after(demo_app, monkeypatch, "delete_server")
    out = io.StringIO()
    # Instance management, Remove an instance, Tower (third by name), yes; then input ends.
    script = io.StringIO("5\n9\n3\ny\n")
    assert run_menu(lambda: demo_app, Prompter(script, out)) == 0
    said = out.getvalue()
    cancelled = next(line for line in said.splitlines() if line.startswith("Cancelled"))
    assert "remove instance Tower left pending" in cancelled
    assert "KeyboardInterrupt" not in said and "Error" not in said
    assert said.rindex("[ Instances ]") > said.index(cancelled)  # back at its menu
    _settles(demo_app)
