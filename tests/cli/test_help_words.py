"""The help says what there is: global options, every subcommand of every group, and a
command's own usage when it is used wrongly."""

from __future__ import annotations

import io
import re

import pytest

from minicloud.cli.actions.registry import ACTIONS
from minicloud.cli.commands import run_command


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_command(lambda: None, list(argv))  # help never makes an app
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_the_global_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _help(capsys, "help")
    assert code == 0
    section = out.split("global options (before COMMAND):", 1)[1]
    for flag in ("--config PATH", "--debug", "--demo", "--version"):
        assert flag in section, flag


def test_every_subcommand_is_named_in_its_groups_line(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _help(capsys, "help")
    flat = re.sub(r"\s+", " ", out.split("COMMAND ...", 1)[1].split("commands:", 1)[1])
    for action in ACTIONS:
        if len(action.path) != 2:
            continue
        group, name = action.path
        line = re.search(rf" {re.escape(group)} ([a-z, -]*):", flat)
        assert line and name in line.group(1).split(", "), (group, name)


@pytest.mark.parametrize("argv", [["networks", "create", "N"], ["instances", "create", "x"],
                                  ["routers", "gateway"], ["clusters", "add", "K", "--bogus"]])
def test_a_usage_error_shows_that_commands_usage(argv: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _help(capsys, *argv)
    assert code == 2
    assert err.startswith(f"usage: minicloud {argv[0]} {argv[1]} "), err
    assert err.strip().splitlines()[-1].startswith(f"minicloud {argv[0]} {argv[1]}: error:")


def test_a_refused_name_is_quoted_as_typed(app, capsys: pytest.CaptureFixture[str]) -> None:
    from minicloud.cli.menus.main import run_menu
    from minicloud.cli.prompts import Prompter

    # Zürich is a name (letters of any script, issue 25); Zü rich is not, and is quoted as
    # typed.
    assert run_command(app, ["clouds", "add", "Zü rich", "--type", "stub"]) == 2
    assert "invalid cloud name 'Zü rich': use" in capsys.readouterr().err
    assert run_command(app, ["clouds", "add", "a\nb", "--type", "stub"]) == 2
    assert "invalid cloud name 'a\\nb': use" in capsys.readouterr().err
    # Cloud management > Add a cloud > the name, then Ctrl-D
    out = io.StringIO()
    run_menu(lambda: app, Prompter(io.StringIO("2\n3\nZü rich\n"), out))
    assert "invalid cloud name 'Zü rich': use" in out.getvalue()
