"""[ MiniCloud ]: the main menu (DESIGN.md section 2)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..prompts import EndOfInput, Prompter
from .common import Session, StoreUnavailable, report_unexpected, run_action, show_topology

if TYPE_CHECKING:
    from ...app import MiniCloud

TITLE = "MiniCloud"
ENTRIES = [
    "Cloud deployment topology",
    "Cloud management",
    "Router management",
    "Network management",
    "Instance management",
    "Reset to startup",
    "Destroy all data",
    "Exit (keep data)",
]
EXIT = len(ENTRIES)


def _clouds(session: Session) -> None:
    from . import clouds

    clouds.run(session)


def _routers(session: Session) -> None:
    from . import routers

    routers.run(session)


def _networks(session: Session) -> None:
    from . import networks

    networks.run(session)


def _instances(session: Session) -> None:
    from . import instances

    instances.run(session)


def _print_report(session: Session, report: object, what: str) -> None:
    p = session.p
    undone = getattr(report, "undone", [])
    failures = getattr(report, "failures", [])
    if undone:
        p.say(f"{what}: {len(undone)} change{'s' if len(undone) != 1 else ''} undone:")
        for line in undone:
            p.say(f"  {line}")
    else:
        p.say(f"{what}: nothing to undo.")
    for line in failures:
        p.say(f"Failed: {line}")


def reset(session: Session) -> None:
    app, p = session.app, session.p
    if not p.confirm("Reset to startup: undo everything MiniCloud did in every cloud "
                     "(clouds and clusters are kept)?"):
        p.say("Nothing changed.")
        return
    _print_report(session, app.clouds.reset(), "Reset")


def destroy(session: Session) -> None:
    app, p = session.app, session.p
    if not p.confirm("Destroy all data: reset every cloud, then forget every cloud and "
                     "cluster?"):
        p.say("Nothing changed.")
        return
    report = app.clouds.destroy()
    _print_report(session, report, "Destroy")
    if report.failures:
        p.say("Destroy stopped: the reset failed, so no cloud was forgotten.")
        return
    session.reopen_later()
    p.say("All data destroyed: the next start is a first start.")


ACTIONS: dict[int, Callable[[Session], None]] = {
    1: show_topology,
    2: _clouds,
    3: _routers,
    4: _networks,
    5: _instances,
    6: reset,
    7: destroy,
}


def run_menu(app_factory: Callable[[], MiniCloud | None],
             prompter: Prompter | None = None) -> int:
    """The interactive menu until Exit, end of input or Ctrl-C at the main menu.

    ``app_factory`` is called once, when an entry first needs data; when it returns None (it
    has said why) the menu ends with exit code 2.
    """
    p = prompter or Prompter()
    session = Session(app_factory, p)
    try:
        while True:
            try:
                choice = p.menu(TITLE, ENTRIES)
            except KeyboardInterrupt:
                p.say()
                return 0
            if choice == EXIT:
                return 0
            try:
                run_action(session, ACTIONS[choice])
            except (EndOfInput, StoreUnavailable):
                raise
            except Exception as err:  # noqa: BLE001 - never a traceback
                report_unexpected(p, err)
    except EndOfInput:
        p.say()
        return 0
    except StoreUnavailable:
        return 2
    except BrokenPipeError:
        # Nobody reads the output any more: leave quietly.
        _silence_stdout()
        return 0
    finally:
        try:
            session.close()
        except Exception as err:  # noqa: BLE001 - closing must not hide the exit code
            report_unexpected(p, err)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
