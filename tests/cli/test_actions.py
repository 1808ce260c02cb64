"""The menu and the one-shot commands take their arguments from the same declarations.

For every declared action: the argparse subcommand's arguments are exactly the declaration's
(spelling, required, metavar, help), and the menu asks exactly the declared questions, in
order; a changed declaration changes both.  Also: the UI reads nothing around the managers,
and a missing password in the menu is asked once, then the action runs again.
"""

from __future__ import annotations

import argparse
import io
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from minicloud.app import MiniCloud
from minicloud.cli import commands
from minicloud.cli.actions.base import Action, Arg, Entry, Values
from minicloud.cli.actions.instances import InstancesStop
from minicloud.cli.actions.registry import ACTIONS, by_label
from minicloud.cli.menus import main as menus_main
from minicloud.cli.menus.session import Session, ask_all, questions, run_entry
from minicloud.cli.present import Result, said
from minicloud.cli.prompts import Prompter
from minicloud.config import load_config
from minicloud.model.errors import CredentialsNeeded
from tests.backends import seed_demo_sqlite

CLI = Path(__file__).resolve().parents[2] / "minicloud" / "cli"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MiniCloud]:
    for name in ("MINICLOUD_DB_URL", "MINICLOUD_CONFIG", "OS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINICLOUD_HOME", str(tmp_path))
    seed_demo_sqlite(tmp_path / "minicloud.db")
    opened = MiniCloud(load_config(), notify=lambda text: None).open()
    yield opened
    opened.close()


class Recorder(Prompter):
    """Answers every question without a keyboard and records each question's text: a picker
    takes its default (else its first entry), a question its default (else ``x1``)."""

    def __init__(self, answers: dict[str, str] | None = None):
        super().__init__(io.StringIO(""), io.StringIO())
        self.asked: list[str] = []
        self.answers = answers or {}

    def ask(self, label: str, default: str | None = None,
            validate: Callable[[str], Any] | None = None) -> str:
        self.asked.append(label)
        return self.answers.get(label, default or "x1")

    def pick(self, label: str, items: Sequence[Any], describe: Callable[[Any], str] = str,
             default: Any = None, empty: str | None = None) -> Any:
        self.asked.append(label)
        assert items, f"nothing to pick for {label}"
        wanted = self.answers.get(label)
        if wanted is not None:
            return next(i for i in items if describe(i).startswith(wanted))
        return default if default is not None else items[0]

    def secret(self, label: str, required: bool = True) -> str:
        self.asked.append(label)
        return "pw"

    def confirm(self, question: str) -> bool:
        return False


def subparser(parser: argparse.ArgumentParser, path: Sequence[str]) -> argparse.ArgumentParser:
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def command_args(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if not isinstance(a, argparse._HelpAction)}


def expected_questions(app: MiniCloud, action: Action, entry: Entry, v: Values) -> list[str]:
    """What the declarations say the menu asks, given the answers it got."""
    prompts = []
    for declared in questions(action):
        for arg in declared.expand(app, v) if declared.expand else (declared,):
            if arg.prompt and arg.name not in entry.preset and \
                    (arg.when is None or arg.when(app, v)):
                prompts.append(arg.prompt)
    return prompts


# -- the command line is the declaration -------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.command)
def test_the_subcommand_has_exactly_the_declared_arguments(app: MiniCloud,
                                                           action: Action) -> None:
    parsed = command_args(subparser(commands.build_parser(), action.path))
    declared = {a.name: a for a in action.arguments(app) if a.option is not None}
    assert set(parsed) == set(declared)
    for name, arg in declared.items():
        got = parsed[name]
        assert got.help == (arg.help or None), name
        if arg.positional:
            assert got.option_strings == [] and got.nargs == (None if arg.required else "?")
            assert got.metavar == (arg.metavar or arg.name.upper())
        else:
            assert got.option_strings == [arg.option], name
            assert got.required == arg.required, name
            if not arg.switch:
                assert got.metavar == arg.metavar, name
    # What has no command-line spelling is the environment's (a password) or derived.
    for arg in action.arguments(app):
        if arg.option is None:
            assert arg.env or arg.expand, arg.name


def test_every_cloud_types_settings_are_flags_of_clouds_add(app: MiniCloud) -> None:
    parsed = command_args(subparser(commands.build_parser(), ("clouds", "add")))
    for type_name in app.clouds.types():
        for setting in app.clouds.settings_for(type_name):
            if setting.secret:
                assert setting.name not in parsed  # from OS_PASSWORD, never a flag
            else:
                flag = getattr(setting, "flag", None) or "--" + setting.name.replace("_", "-")
                assert parsed[setting.name].option_strings == [flag]
                assert type_name in (parsed[setting.name].help or "")


# -- the menu asks the declaration -------------------------------------------------------------


@pytest.mark.parametrize("label", sorted(by_label()))
def test_the_menu_asks_exactly_the_declared_questions(app: MiniCloud, label: str) -> None:
    action, entry = by_label()[label]
    if label == "Start":  # Start offers stopped instances only; the demo's all run
        app.instances.stop(app.instances.all()[0])
    # Pickers offer what the action applies to: not while the router carries Tower's public
    # IP, nor a gateway on the router that has one.
    if label in ("Clear the gateway", "Set the gateway", "Detach a network",
                 "Detach from a router"):
        app.public_ips.release(app.public_ips.public_ips()[0])
    if label == "Set the gateway":
        app.routers.clear_gateway(app.routers.all()[0])
    p = Recorder({"Cloud type": "stub"})
    v = action.values(entry.preset)
    ask_all(Session(lambda: app, p), action, entry, v, set())
    assert p.asked == expected_questions(app, action, entry, v)
    assert set(p.asked) <= {a.prompt for a in action.arguments(app, v)}


def test_every_menu_entry_is_declared_once_and_every_label_is_an_action() -> None:
    labels = [e.label for a in ACTIONS for e in a.entries()]
    assert len(labels) == len(set(labels))
    shown = [*menus_main.ENTRIES]
    for _, entries in menus_main.SUBMENUS.values():
        shown += entries
    wanted = set(shown) - set(menus_main.SUBMENUS) - {menus_main.EXIT}
    assert wanted == set(labels)


# -- a changed declaration changes both --------------------------------------------------------


class Tagged(InstancesStop):
    """``instances stop`` with one more argument, and without --cloud."""

    args = (*InstancesStop.args[:1],
            Arg("colour", metavar="HUE", help="a colour", prompt="Colour", default="red"))
    seen: list[tuple[str | None, str | None]] = []

    def run(self, ctx: Any, v: Values) -> Result:
        self.seen.append((getattr(v.name, "name", v.name), v.colour))
        return said("tagged")


def test_a_changed_declaration_changes_the_command_and_the_menu(
        app: MiniCloud, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    tagged = Tagged()
    Tagged.seen.clear()
    actions = tuple(tagged if a.path == tagged.path else a for a in ACTIONS)
    monkeypatch.setattr(commands, "ACTIONS", actions)
    parsed = command_args(subparser(commands.build_parser(), tagged.path))
    assert set(parsed) == {"name", "colour"}  # --cloud went, --colour came
    assert parsed["colour"].metavar == "HUE" and parsed["colour"].help == "a colour"
    assert commands.run_command(app, ["instances", "stop", "Ben", "--colour", "blue"]) == 0
    assert commands.run_command(app, ["instances", "stop", "Ben", "--cloud", "X"]) == 2
    assert capsys.readouterr().out == "tagged\n"

    p = Recorder({"Instance": "Ben"})
    v = tagged.values()
    ask_all(Session(lambda: app, p), tagged, Entry("Stop"), v, set())
    assert p.asked == ["Instance", "Colour"]
    run_entry(Session(lambda: app, p), tagged, Entry("Stop"))
    assert Tagged.seen == [("Ben", "blue"), ("Ben", "red")]


def test_the_menu_and_the_command_reach_run_with_the_same_values(
        app: MiniCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    action, entry = by_label()["Create a network"]

    def record(self: Any, ctx: Any, v: Values) -> Result:
        seen.append({a.name: getattr(getattr(v, a.name), "name", getattr(v, a.name))
                     for a in self.args})
        return said("recorded")

    monkeypatch.setattr(type(action), "run", record)
    assert commands.run_command(app, ["networks", "create", "N9", "--cloud", "TryStack",
                                      "--cidr", "10.9.0.0/24", "--router",
                                      "LondonGateway"]) == 0
    p = Recorder({"Network name": "N9", "CIDR (e.g. 10.0.0.0/24)": "10.9.0.0/24",
                  "Attach to router": "LondonGateway"})
    run_entry(Session(lambda: app, p), action, entry)
    assert seen[0] == seen[1] == {"cloud": "TryStack", "name": "N9", "cidr": "10.9.0.0/24",
                                  "router": "LondonGateway"}


# -- errors keep their type --------------------------------------------------------------------


class NeedsPassword(Action):
    path, help, menu = ("test", "password"), "needs a password once", ("Needs a password",)
    runs: list[int] = []

    def run(self, ctx: Any, v: Values) -> Result:
        self.runs.append(1)
        if len(self.runs) == 1:
            raise CredentialsNeeded("TryStack", "log in", "unauthorized", "password is needed")
        return said("Done with the password.")


def test_a_missing_password_is_asked_once_then_the_action_runs_again(
        app: MiniCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    kept: list[tuple[str, str]] = []
    monkeypatch.setattr(app.clouds, "keep_secret", lambda cloud, pw: kept.append((cloud, pw)))
    out = io.StringIO()
    NeedsPassword.runs.clear()
    run_entry(Session(lambda: app, Prompter(io.StringIO("s3cret\n"), out)), NeedsPassword(),
              Entry("Needs a password"))
    assert kept == [("TryStack", "s3cret")]
    assert len(NeedsPassword.runs) == 2
    assert out.getvalue() == ("Password for cloud TryStack (kept for this session only) : "
                              "Done with the password.\n")


# -- the UI reads nothing around the managers --------------------------------------------------

FORBIDDEN = re.compile(
    r"minicloud\.(cache|store|drivers)|from \.\.\.?(cache|store|drivers)\b|managers\.base"
    r"|\.inventory\b|\.store\b|\b_drivers\b|make_driver_for|driver_class|\.passwords\b")


def test_the_cli_imports_nothing_around_the_managers() -> None:
    found = [f"{path.relative_to(CLI)}:{n}: {line.strip()}"
             for path in sorted(CLI.rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if FORBIDDEN.search(line)]
    assert found == []
