"""Entry point: global options, logging, then the menu or a one-shot command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .. import __version__
from .options import GLOBAL_OPTIONS

if TYPE_CHECKING:
    from ..app import MiniCloud
    from ..config import Config
    from .prompts import Prompter

USAGE = "minicloud [--config PATH] [--debug] [--demo] [COMMAND ...]"
DESCRIPTION = (
    "MiniCloud: one place to see and change the instances, networks and routers of several "
    "clouds. With no COMMAND it opens the interactive menu; 'minicloud help' lists commands."
)


def parse_global(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="minicloud", usage=USAGE, description=DESCRIPTION)
    for flag, metavar, text in GLOBAL_OPTIONS:
        if flag == "--version":
            parser.add_argument(flag, action="version", version=f"minicloud {__version__}",
                                help=text)
        elif metavar:
            parser.add_argument(flag, metavar=metavar, help=text)
        else:
            parser.add_argument(flag, action="store_true", help=text)
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="a one-shot command (e.g. 'topology'); none opens the menu")
    return parser.parse_args(argv)


def setup_logging(config: object, debug: bool) -> None:
    """Everything to the log file; with --debug, to stderr too.  Never a password."""
    import logging

    from ..secrets import RedactingFilter

    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # dataset's DDL chatter
    home = config.home  # type: ignore[attr-defined]
    try:
        home.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(config.log_file, encoding="utf-8")  # type: ignore[attr-defined]
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    if debug:
        err = logging.StreamHandler(sys.stderr)
        err.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
        err.addFilter(RedactingFilter())
        root.addHandler(err)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_global(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        # Odd bytes on stdin must not crash a prompt; odd names must print.
        try:
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    if not args.command and not args.demo:
        # The menu is drawn before anything heavy is imported or opened.
        from .menus.main import run_menu

        config = precheck(args)
        if config is None:
            return 2
        prompter = _menu_prompter()
        # The app is built at the menu's first need, reporting long waits to the menu.
        return run_menu(lambda: open_app(args, config=config, progress=prompter.progress),
                        prompter)
    try:
        return _one_shot(args)
    except KeyboardInterrupt as interrupt:
        # Ctrl-C while the store opens or the demo is built (a command catches its own).
        said = "; ".join(filter(None, ["interrupted", str(interrupt)]))
        print(f"\nminicloud: {said}", file=sys.stderr)
        return 130


def _one_shot(args: argparse.Namespace) -> int:
    """A command (or ``--demo`` then the menu) on an opened store."""
    if args.command:
        # A command lives for a moment and makes tens of thousands of objects with no
        # cycles on a large store: the collector's passes over them would cost more than
        # the whole rest of the command.
        import gc

        gc.disable()
        if not args.demo:
            from .commands import run_command

            opened: list[MiniCloud] = []

            def opener() -> MiniCloud | None:
                made = open_app(args, load=False, progress=_terminal_progress())
                opened.extend([made] if made else [])
                return made

            try:
                return run_command(opener, args.command)
            finally:
                for made in opened:
                    made.close()
    # --demo then the menu: the app is built now, reporting long waits to the menu's prompter.
    prompter = None if args.command else _menu_prompter()
    app = open_app(args, load=bool(args.demo) or not args.command,
                   progress=prompter.progress if prompter is not None else _terminal_progress())
    if app is None:
        return 2
    try:
        if args.demo:
            from ..managers.demo import build_demo
            from ..model.errors import MiniCloudError

            try:
                if not build_demo(app):
                    print("The store already holds clouds: demo not built.", file=sys.stderr)
            except MiniCloudError as err:
                print(f"Demo not built: {err}", file=sys.stderr)
                return 1
        if not args.command:
            from .menus.main import run_menu

            return run_menu(lambda: app, prompter)
        from .commands import run_command

        return run_command(app, args.command)
    finally:
        app.close()


def _terminal_progress() -> Callable[[str], None] | None:
    """Where a command reports a long wait (a login, a silent server, a job): stderr, when
    it is a terminal someone watches; a script's log gets the outcome only."""
    try:
        watched = sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        watched = False
    if not watched:
        return None
    return lambda text: print(f"minicloud: ... {text}", file=sys.stderr, flush=True)


def _menu_prompter() -> Prompter:
    from .prompts import Prompter

    return Prompter()


def precheck(args: argparse.Namespace) -> Config | None:
    """What the menu checks before it is drawn, cheaply (a few milliseconds): the
    configuration (the store URL included) and an SQLite store file's header and schema.
    Other store failures are said at the first entry that needs the store.  None (said in
    one line on stderr) when something is wrong."""
    from ..config import load_config
    from ..managers.precheck import check_store
    from ..model.errors import MiniCloudError

    try:
        config = load_config(args.config, args.debug)
        _warn(config)
        check_store(config.db_url)
    except MiniCloudError as err:
        print(f"minicloud: {err}", file=sys.stderr)
        return None
    return config


def _warn(config: Config) -> None:
    for line in config.warnings:
        print(f"minicloud: warning: {line}", file=sys.stderr)


def open_app(args: argparse.Namespace, load: bool = True, config: Config | None = None,
             progress: Callable[[str], None] | None = None) -> MiniCloud | None:
    """Load the configuration (unless ``config``: the menu's precheck read it) and (unless
    ``load`` is false: a command opens the store once its arguments are known to be right)
    open the store; one line on stderr when that fails.  ``progress``: where the app reports
    long waits (the menu shows them)."""
    from ..app import MiniCloud
    from ..config import load_config
    from ..managers.precheck import check_store
    from ..model.errors import MiniCloudError

    try:
        if config is None:
            config = load_config(args.config, args.debug)
            _warn(config)
            check_store(config.db_url)
        setup_logging(config, args.debug)
        app = MiniCloud(config, notify=lambda text: print(text, file=sys.stderr),
                        progress=progress)
        return app.open() if load else app
    except MiniCloudError as err:
        print(f"minicloud: {err}", file=sys.stderr)
        return None
