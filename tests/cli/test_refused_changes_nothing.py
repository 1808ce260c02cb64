"""Issue 25, item 2: a refused action has changed nothing.  Every argument of every action
that writes is checked before the first cloud call: the contract runs each action on the demo
with each of its arguments made invalid in turn (the others valid) and counts the driver's
calls and the store's rows.  Every action's valid command line is run too, on a copy, so that
each refusal is the invalid argument's.
"""

from __future__ import annotations

import functools
import inspect
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minicloud.app import MiniCloud
from minicloud.cli.actions.base import Action
from minicloud.cli.actions.registry import ACTIONS
from minicloud.cli.commands import run_command
from minicloud.config import Config
from minicloud.drivers.stub.driver import StubDriver
from tests.backends import seed_demo_sqlite

# What prepares the demo so that every valid command line below applies (run once).
SETUP = [
    ["clusters", "add", "Empty", "--cloud", "TryStack"],
    ["networks", "create", "Spare", "--cidr", "10.30.0.0/24", "--cloud", "TryStack"],
    ["routers", "attach", "LondonGateway", "AntwerpNet"],
    ["routers", "create", "Bare", "--cloud", "TryStack"],
    ["instances", "stop", "Ben"],
]

# Each writing action's valid values on the prepared demo, by argument name.
VALID: dict[tuple[str, ...], dict[str, str]] = {
    ("refresh",): {"cloud": "TryStack"},
    ("clouds", "add"): {"name": "Lab", "type": "stub", "location": "Here",
                        "external_network": "pub", "external_cidr": "198.51.100.0/24",
                        "external_subnet": "pubsub"},
    ("clouds", "update"): {"name": "TryStack", "location": "Elsewhere"},
    ("clouds", "remove"): {"name": "TryStack"},
    ("clusters", "add"): {"cloud": "TryStack", "name": "Paris"},
    ("clusters", "remove"): {"name": "Empty", "cloud": "TryStack"},
    ("routers", "create"): {"cloud": "TryStack", "name": "R2", "gateway": "external"},
    ("routers", "attach"): {"router": "LondonGateway", "network": "Spare", "cloud": "TryStack"},
    ("routers", "detach"): {"router": "LondonGateway", "network": "AntwerpNet",
                            "cloud": "TryStack"},
    ("routers", "gateway"): {"router": "Bare", "network": "external", "cloud": "TryStack"},
    ("routers", "remove"): {"name": "Bare", "cloud": "TryStack"},
    ("networks", "create"): {"cloud": "TryStack", "name": "N2", "cidr": "10.40.0.0/24",
                             "router": "LondonGateway"},
    ("networks", "attach"): {"name": "Spare", "router": "LondonGateway", "cloud": "TryStack"},
    ("networks", "detach"): {"name": "AntwerpNet", "router": "LondonGateway",
                             "cloud": "TryStack"},
    ("networks", "remove"): {"name": "Spare", "cloud": "TryStack"},
    ("public-ips", "release"): {"address": "8.21.28.30", "cloud": "TryStack"},
    ("instances", "create"): {"cloud": "TryStack", "name": "Eiffel", "cluster": "London",
                              "image": "cirros", "flavor": "m1.tiny", "network": "LondonNet",
                              "security_group": "default", "fixed_ip": "10.10.2.50"},
    ("instances", "start"): {"name": "Ben", "cloud": "TryStack"},
    ("instances", "stop"): {"name": "Tower", "cloud": "TryStack"},
    ("instances", "reboot"): {"name": "Tower", "cloud": "TryStack"},
    ("instances", "connect"): {"name": "Bourla", "cloud": "TryStack",
                               "public_ip": "8.21.28.40", "user": "cirros"},
    ("instances", "remove"): {"name": "Ben", "cloud": "TryStack"},
    ("apply",): {"file": str(Path(__file__).resolve().parents[2] / "examples" / "trystack.yaml"),
                 "cloud_map": "TryStack=TryStack"},
}
# A value no argument takes: not a name, an address, a CIDR or a user; a location is text,
# so its invalid value is a control character; a Stub's state is a path or a URL.
INVALID = {"location": "bell\x07", "state": "ftp://host/state"}
WRONG = "a b"


def writing() -> list[Action]:
    return [a for a in ACTIONS if a.writes]


def options(action: Action) -> list[Any]:
    """The arguments the command line spells, switches aside (--yes, --clear)."""
    return [a for a in action.arguments() if a.option is not None and not a.switch]


def argv(action: Action, values: dict[str, str]) -> list[str]:
    line = list(action.path)
    for arg in options(action):
        if arg.name in values:
            line += [values[arg.name]] if arg.positional else [arg.option, values[arg.name]]
    if action.confirm == "always":
        line.append("--yes")
    return line


def variants() -> Iterator[tuple[str, list[str]]]:
    """Every writing action's command line with one argument made invalid."""
    for action in writing():
        valid = VALID.get(action.path, {})
        for arg in options(action):
            wrong = dict(valid, **{arg.name: INVALID.get(arg.name, WRONG)})
            yield f"{action.command}:{arg.name}", argv(action, wrong)


def test_every_writing_action_and_every_argument_is_covered() -> None:
    assert {a.path for a in writing() if options(a)} == set(VALID)
    for action in writing():
        names = {a.name for a in options(action)}
        assert set(VALID.get(action.path, {})) <= names, action.command


class Calls:
    """Every call to a Stub driver's public methods, counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[str] = []
        for name, member in inspect.getmembers(StubDriver, inspect.isfunction):
            if not name.startswith("_"):
                monkeypatch.setattr(StubDriver, name, self._counted(name, member))

    def _counted(self, name: str, method: Any) -> Any:
        @functools.wraps(method)
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.made.append(name)
            return method(*args, **kwargs)
        return counted


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the SQLite files of a folder (the store and the Stub's)."""
    found = {}
    for db in sorted(path.glob("*.db")):
        with sqlite3.connect(db) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                found[f"{db.name}:{table}"] = sorted(
                    map(repr, conn.execute(f'SELECT * FROM "{table}"')))
    return found


def _open(home: Path) -> MiniCloud:
    return MiniCloud(Config(home=home, db_url=f"sqlite:///{home}/minicloud.db"),
                     notify=lambda text: None).open()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("prepared")
    seed_demo_sqlite(home / "minicloud.db")
    app = _open(home)
    try:
        for line in SETUP:
            assert run_command(app, line) == 0, line
    finally:
        app.close()
    return home


def _copy(prepared: Path, home: Path) -> Path:
    shutil.copytree(prepared, home, dirs_exist_ok=True)
    return home


def test_each_invalid_argument_is_refused_before_any_cloud_call_or_store_change(
        prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    home = _copy(prepared, tmp_path / "home")
    calls = Calls(monkeypatch)
    app = _open(home)
    before = rows(home)
    changed = []
    try:
        for name, line in variants():
            calls.made.clear()
            code = run_command(app, line)
            err = capsys.readouterr().err
            if code == 0 or calls.made or rows(home) != before or "unexpected" in err:
                changed.append(f"{name}: exit {code}, driver calls {calls.made}, {err.strip()}")
                before = rows(home)
    finally:
        app.close()
    assert changed == []


@pytest.mark.parametrize("path", sorted(VALID), ids=" ".join)
def test_the_valid_command_line_is_done(prepared: Path, tmp_path: Path,
                                        path: tuple[str, ...],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    action = next(a for a in ACTIONS if a.path == path)
    app = _open(_copy(prepared, tmp_path / "home"))
    try:
        code = run_command(app, argv(action, VALID[path]))
    finally:
        app.close()
    assert code == 0, capsys.readouterr().err
