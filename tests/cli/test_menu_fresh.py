"""An open menu shows what the store holds now (issue 23, item 4): another session's change
is on the menu's next screen, picker, list or show, and an action's precondition is checked on
what the store holds when it runs.

The menu runs in process (``run_menu`` with a Prompter on a script); "another session" is a
second MiniCloud on the same store running a one-shot command, at a point of the script: after
the menu showed one screen and before it reads the next answer.  On SQLite and MySQL.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.commands import run_command
from minicloud.cli.menus.main import run_menu
from minicloud.cli.prompts import Prompter
from tests.conftest import reopen_app
from tests.render.test_saved_views import _copy_store, _elsewhere

Step = str | Callable[[], Any]


class Script(io.TextIOBase):
    """The menu's input: answers, and between them things that happen elsewhere meanwhile
    (run when the menu asks for the answer that follows them)."""

    def __init__(self, steps: list[Step]) -> None:
        self._steps = list(steps)

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        while self._steps:
            step = self._steps.pop(0)
            if isinstance(step, str):
                return step + "\n"
            step()
        return ""


def menu(app: MiniCloud, *steps: Step) -> str:
    out = io.StringIO()
    assert run_menu(lambda: app, Prompter(Script(list(steps)), out)) == 0
    return out.getvalue()


def elsewhere(app: MiniCloud, *argv: str) -> Callable[[], None]:
    """A one-shot command in another session on the same store (as from another shell)."""
    def run() -> None:
        other = reopen_app(app, notify=lambda text: None)
        try:
            assert run_command(other, list(argv)) == 0, argv
        finally:
            other.close()
    return run


def screens(out: str, title: str) -> list[str]:
    """What was shown after each choice in a menu titled ``title``, up to the next menu."""
    return [part.split("Make a choice : [1] ", 1)[1].split("\n[ ")[0]
            for part in out.split(f"[ {title} ]\n")[1:]]


def picker(out: str, nth: int) -> list[str]:
    """The first word of each entry of the ``nth`` instance picker shown in ``out``."""
    block = out.split("[ Instance ]\n")[nth + 1].split("Make a choice")[0]
    return [line.split(" : ", 1)[1].split()[0] for line in block.splitlines()]


TOWER = "Instance: Tower [10.10.2.5] (LondonNet) [public_ssh]"
BEN = "Instance: Ben [10.10.2.6] (LondonNet) [default]"


def test_a_public_ip_given_elsewhere_is_on_the_next_tree_list_and_show(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(demo_app, ["public-ips", "release", "8.21.28.30"]) == 0
    out = menu(demo_app,
               "1",                                      # the tree: Tower has no public IP
               elsewhere(demo_app, "instances", "connect", "Tower", "--public-ip",
                         "8.21.28.30"),
               "1",                                      # the tree again
               "4", "6", "9",                            # Networks: List public IPs, Back
               "5", "4", "3", "10")                      # Instances: Show Tower, Back
    trees = out.split("[ MiniCloud ]")
    assert f"+---{TOWER} [ACTIVE]\n" in trees[1]
    assert f"+---{TOWER} [8.21.28.30] [ACTIVE]\n" in trees[2]
    assert "8.21.28.30  TryStack  external  Tower" in out
    shown = out.split("[ Instance ]")[1]
    assert "Public IP" in shown and "8.21.28.30" in shown, shown
    assert "Error" not in out


def test_stops_and_starts_elsewhere_are_seen_and_a_stale_stop_is_refused(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    out = menu(demo_app,
               "5",
               "7", "3",                                 # reboot Tower (first use of the cloud)
               elsewhere(demo_app, "instances", "stop", "Ben"),
               "1",                                      # Instance topology: Ben SHUTOFF
               "6", "3",                                 # Stop offers Bourla, Tower: Cancel
               elsewhere(demo_app, "instances", "start", "Ben"),
               "1",                                      # Ben ACTIVE again
               "6",                                      # Stop offers Ben, Bourla, Tower...
               elsewhere(demo_app, "instances", "stop", "Ben"),
               "1",                                      # ... Ben, stopped meanwhile
               "1", "10")
    assert "Instance Tower rebooted: ACTIVE.\n" in out
    trees = [s for s in screens(out, "Instances") if "+---Instance: " in s]
    assert f"+---{BEN} [SHUTOFF]\n" in trees[0], trees[0]
    assert f"+---{BEN} [ACTIVE]\n" in trees[1], trees[1]
    assert f"+---{BEN} [SHUTOFF]\n" in trees[2], trees[2]
    assert picker(out, 1) == ["Bourla", "Tower", "Cancel"]
    assert picker(out, 2) == ["Ben", "Bourla", "Tower", "Cancel"]
    assert "Error: instance Ben is stopped already\n" in out
    assert "Instance Ben stopped" not in out


def test_clouds_removed_added_or_destroyed_elsewhere_are_on_the_next_screen(
        demo_app: MiniCloud, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(demo_app, ["clouds", "add", "Edge", "--type", "stub",
                                  "--external-cidr", "198.51.100.0/24"]) == 0
    out = menu(demo_app,
               "2", "2",                                 # List clouds: Edge, TryStack
               elsewhere(demo_app, "clouds", "remove", "Edge", "--yes"),
               "2",                                      # TryStack only
               elsewhere(demo_app, "clouds", "add", "Far", "--type", "stub",
                         "--external-cidr", "198.51.100.0/24"),
               "1",                                      # Cloud topology: Far, TryStack
               "11",
               elsewhere(demo_app, "destroy", "--yes"),
               "1")                                      # the tree: nothing any more
    lists = [s for s in screens(out, "Clouds") if "NAME" in s]
    assert [line.split()[0] for line in lists[0].strip().splitlines()[1:]] == ["Edge", "TryStack"]
    assert [line.split()[0] for line in lists[1].strip().splitlines()[1:]] == ["TryStack"]
    tree = next(s for s in screens(out, "Clouds") if "+---Cloud: " in s)
    assert "Cloud: Edge" not in tree and "+---Cloud: Far" in tree, tree
    assert screens(out, "MiniCloud")[-2].strip() == \
        "Nothing to show yet: add a cloud in Cloud management.", out[-600:]


def test_a_backup_put_back_under_an_open_menu_is_shown_as_it_is(
        demo_app: MiniCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The store's rows replaced by a backup, then written again by another session: the
    cloud has the generation the menu saw, with other rows; the token tells them apart."""
    url = demo_app.config.db_url.rendered()  # the URL as text, for the copy helpers
    backup = _elsewhere(url, "backup")
    out = menu(demo_app,
               lambda: _copy_store(url, backup),
               elsewhere(demo_app, "clusters", "add", "Lost"),
               "1",                                      # the tree: Lost
               lambda: _copy_store(backup, url),
               elsewhere(demo_app, "clusters", "add", "Kept"),
               "1")                                      # the tree: Kept, and no Lost
    trees = screens(out, "MiniCloud")
    assert "+---Cluster: Lost\n" in trees[0] and "Kept" not in trees[0], trees[0]
    assert "+---Cluster: Kept\n" in trees[1] and "Lost" not in trees[1], trees[1]
