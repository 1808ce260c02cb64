"""One-shot commands: the argparse parser is built from the actions' declarations.

Exit codes: 0 done; 1 the operation failed (or the user declined); 2 bad usage, an unknown or
ambiguous name, a request the managers or the cloud refuse as invalid (a malformed, reserved or
outside address), or a configuration matter (a missing password included); an address in use
is 1, whoever finds it; 130 interrupted.  Errors are one line on stderr
(``minicloud: <text>``), never a traceback; bad usage that the parser finds (an unknown option,
a missing argument) is worded as Python's command lines word it: the command's usage line,
then ``minicloud COMMAND: error: <text>``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..model.errors import (
    INVALID,
    AmbiguousError,
    ConfigError,
    CredentialsNeeded,
    DriverError,
    MiniCloudError,
    NotFoundError,
    ValidationError,
)
from .actions.base import Action, Arg, Declined
from .actions.registry import ACTIONS, GROUPS
from .options import GLOBAL_OPTIONS
from .present import DECLINED, Result, silence_stdout, to_json
from .prompts import EndOfInput, Prompter

if TYPE_CHECKING:
    from ..app import MiniCloud


OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130
# Errors that mean "the request was wrong", not "the operation failed".
# A missing password is a configuration matter too: set OS_PASSWORD.
USAGE_ERRORS = (NotFoundError, AmbiguousError, ValidationError, ConfigError, CredentialsNeeded)


class UsageError(Exception):
    """Bad usage: printed as ``minicloud: <text>`` (argparse's errors as argparse words them)."""

    def __init__(self, text: str, raw: bool = False):
        super().__init__(text)
        self.raw = raw


class _Parser(argparse.ArgumentParser):
    """Raises instead of exiting, so that the exit code stays run_command's.  The top level
    knows each command's parser (``commands``, by action path) to word errors in its usage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: dict[tuple[str, ...], argparse.ArgumentParser] = {}

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.format_usage().rstrip()}\n{self.prog}: error: {message}",
                         raw=True)


def _err(text: str) -> None:
    print(f"minicloud: {text}", file=sys.stderr)


class CommandContext:
    """How an action talks to the person (or script) running a command."""

    def __init__(self, app: MiniCloud, action: Action, values: argparse.Namespace):
        self.app = app
        self.action = action
        self.values = values

    def confirm(self, question: str) -> None:
        """``--yes``, or ``y`` at a ``[y/N]`` prompt on a terminal; no terminal is bad usage.
        Actions that confirm only in the menu go on: the command named its target."""
        if self.action.confirm != "always" or getattr(self.values, "yes", False):
            return
        if not sys.stdin.isatty():
            raise UsageError(f"{question.rstrip('?')}: confirm with --yes "
                             "(no terminal to ask on)")
        try:
            agreed = Prompter().confirm(question)
        except EndOfInput:
            agreed = False
        if not agreed:
            raise Declined()

    def note(self, text: str) -> None:
        print(text, file=sys.stderr)

    adding_a_cloud = "with 'minicloud clouds add NAME --type TYPE'"


# --- the parser ----------------------------------------------------------------------------


def add_argument(parser: Any, arg: Arg) -> None:
    """``arg`` as argparse sees it (nothing for an argument with no command-line spelling);
    ``parser`` is a parser or one of its mutually exclusive groups."""
    option = arg.option
    if option is None:
        return
    if arg.positional:
        parser.add_argument(arg.name, metavar=arg.metavar or arg.name.upper(),
                            nargs=None if arg.required else "?", help=arg.help or None)
    elif arg.switch:
        parser.add_argument(option, dest=arg.name, action="store_true", help=arg.help or None)
    elif arg.many:
        parser.add_argument(option, dest=arg.name, action="append", metavar=arg.metavar,
                            help=arg.help or None)
    else:
        parser.add_argument(option, dest=arg.name, required=arg.required, metavar=arg.metavar,
                            choices=arg.choices, help=arg.help or None)


def _subparsers(parser: argparse.ArgumentParser, dest: str) -> Any:
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", dest=dest,
                                parser_class=_Parser)
    sub.required = True
    return sub


def build_parser(words: Sequence[str] | None = None) -> _Parser:
    """Every action's command; with ``words`` (the command line's), the arguments of the
    command they name only: help and a usage error cost what one command costs."""
    parser = _Parser(
        prog="minicloud",
        description="One-shot commands (the interactive menu offers the same operations). "
                    "Exit codes: 0 done, 1 the operation failed, 2 bad usage or unknown name.",
        epilog="'minicloud help COMMAND' shows a command's options.",
    )
    # Read by the entry point before COMMAND (cli/main.py); listed here so that help shows
    # them where a reader looks.
    global_options = parser.add_argument_group("global options (before COMMAND)")
    for flag, metavar, text in GLOBAL_OPTIONS:
        if metavar:
            global_options.add_argument(flag, metavar=metavar, help=text)
        else:
            global_options.add_argument(flag, action="store_true", help=text)
    sub = _subparsers(parser, "command")
    text = "show the help of minicloud or of a command"
    helper = sub.add_parser("help", help=text, description=text)
    helper.add_argument("topic", nargs="*", metavar="COMMAND", help="e.g. 'instances create'")
    groups: dict[str, Any] = {}
    for action in ACTIONS:
        *group, name = action.path
        where = sub
        if group:
            if group[0] not in groups:
                text = GROUPS[group[0]]
                inner = sub.add_parser(group[0], help=text, description=text)
                groups[group[0]] = _subparsers(inner, f"{group[0]}_command")
            where = groups[group[0]]
        command = where.add_parser(name, help=action.help, description=action.help)
        command.set_defaults(action=action)
        parser.commands[action.path] = command
        if words is None or tuple(words[:len(action.path)]) == action.path:
            exclusive: dict[str, Any] = {}
            for arg in action.arguments():
                where = command
                if arg.exclusive is not None:
                    if arg.exclusive not in exclusive:
                        exclusive[arg.exclusive] = command.add_mutually_exclusive_group()
                    where = exclusive[arg.exclusive]
                add_argument(where, arg)
    return parser


# --- running -------------------------------------------------------------------------------


def show(result: Result, as_json: bool) -> int:
    if as_json and result.data is not None:
        # Indented on a terminal, compact in a pipe or a file (scripts read it).
        sys.stdout.write(to_json(result.data, pretty=sys.stdout.isatty()) + "\n")
    elif result.output is not None:
        sys.stdout.write(result.output)
    else:
        sys.stdout.writelines(line + "\n" for line in result.lines)
    sys.stdout.flush()
    for line in result.errors:
        _err(line)
    if result.code is not None:
        return result.code
    return FAILED if result.errors else OK


def _the_only(app: MiniCloud, arg: Arg, values: argparse.Namespace) -> str:
    """The one candidate of an argument left out (the only cloud there is); bad usage when
    there is none or more than one."""
    found = [getattr(c, "name", str(c)) for c in (arg.pick(app, values) if arg.pick else [])]
    if len(found) == 1:
        return found[0]
    if not found and len(app.clouds.all()) == 1:
        # The one cloud there is, though the action does not apply to it now: the action
        # says why (its refusal), not that there is no cloud.
        return app.clouds.all()[0].name
    if not found:
        raise UsageError(f"{arg.option}: there is no {arg.name} to use yet")
    raise UsageError(f"{arg.option} is needed: one of {', '.join(sorted(found))}")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The command line as its action's values, before any store is opened: help is printed
    (SystemExit), bad usage raised (UsageError)."""
    words = [w for w in argv if not w.startswith("-")]
    parser = build_parser(words[1:] if words[:1] == ["help"] else words)
    values, extras = parser.parse_known_args(list(argv))
    if extras:  # said by the command's own parser, with its usage, not the top level's
        action = getattr(values, "action", None)
        command = parser.commands.get(action.path) if action is not None else None
        (command or parser).error(f"unrecognized arguments: {' '.join(extras)}")
    if values.command == "help":
        parser.parse_args([*values.topic, "--help"])
    return values


def _run(opener: MiniCloud | Callable[[], MiniCloud | None], argv: Sequence[str]) -> int:
    try:
        values = parse(argv)
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else OK
    app = opener() if callable(opener) else opener
    if app is None:
        return USAGE  # the configuration or the store could not be read (said already)
    action: Action = values.action
    if action.changes_nothing:
        app.read_only()
    try:
        # Help and usage errors never get here: they need no store.  Rows are read as the
        # command asks for them (one cloud's, or one row), not the whole store.
        app.open(load=False)
    except MiniCloudError as err:
        _err(str(err))
        return USAGE
    for arg in action.arguments(app):
        if arg.env and arg.option is None:
            setattr(values, arg.name, os.environ.get(arg.env) or None)
        if arg.sole and getattr(values, arg.name, None) is None:
            setattr(values, arg.name, _the_only(app, arg, values))
    if action.writes:
        # What a killed process left half-done (a remove, a Destroy) is finished first.
        for line in app.sync.finish_interrupted():
            print(f"minicloud: {line}", file=sys.stderr)
    result = action.run(CommandContext(app, action, values), values)
    app.report_skipped()
    as_json = bool(getattr(values, "json", False)) or getattr(values, "format", None) == "json"
    return show(result, as_json)


def run_command(app: MiniCloud | Callable[[], MiniCloud | None], argv: Sequence[str]) -> int:
    """Run one command; returns its exit code.  Never raises.  ``app`` may be a function
    that makes it: then help and usage errors never make one."""
    try:
        return _run(app, argv)
    except UsageError as err:
        print(err if err.raw else f"minicloud: {err}", file=sys.stderr)
        return USAGE
    except Declined:
        _err(DECLINED)
        return FAILED
    except USAGE_ERRORS as err:
        _err(str(err))
        return USAGE
    except DriverError as err:
        # The cloud refused the request as malformed (an address outside the subnet...):
        # the request was wrong, as when MiniCloud's own check says so.
        _err(str(err))
        return USAGE if err.reason == INVALID else FAILED
    except MiniCloudError as err:
        _err(str(err))
        return FAILED
    except ImportError as err:
        _err(f"a cloud driver cannot be loaded: {err}")
        return FAILED
    except BrokenPipeError:
        # Nobody reads the output any more (``| head``): leave quietly.
        silence_stdout()
        return OK
    except KeyboardInterrupt as interrupt:
        # One line, saying what was left pending (an Interrupted says it), never a repr.
        print(file=sys.stderr)
        _err("; ".join(filter(None, ["interrupted", str(interrupt)])))
        return INTERRUPTED
    except Exception as err:
        import logging  # only here: help and usage errors never pay for it

        logging.getLogger("minicloud").exception("command %s failed", " ".join(argv))
        _err(f"unexpected error: {type(err).__name__}: {err} (details in the log file)")
        return FAILED
