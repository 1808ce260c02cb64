"""[ MiniCloud ] and its submenus (DESIGN.md section 2): labels only; each entry is the action
that declares that label (minicloud/cli/actions)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Sequence
from functools import cache, partial
from typing import TYPE_CHECKING

from ..present import silence_stdout
from ..prompts import EndOfInput, Prompter
from .session import Session, StoreUnavailable, report_unexpected, run_entry, run_safely

if TYPE_CHECKING:
    from ...app import MiniCloud
    from ..actions.base import Action, Entry

TITLE = "MiniCloud"
EXIT = "Exit (keep data)"
BACK = "Back"
# Main menu entry -> (submenu title, its entries before Back).
SUBMENUS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Cloud management": ("Clouds", (
        "Cloud topology", "List clouds", "Add a cloud", "Update a cloud", "Remove a cloud",
        "Add a cluster", "Remove a cluster", "List images", "List flavors",
        "Refresh from clouds", "Export the deployment", "Apply a deployment file")),
    "Router management": ("Routers", (
        "Router topology", "List routers", "Create a router", "Attach a network",
        "Detach a network", "Set the gateway", "Clear the gateway", "Remove a router")),
    "Network management": ("Networks", (
        "Network topology", "List networks", "Create a network", "Attach to a router",
        "Detach from a router", "List public IPs", "Release a public IP", "Remove a network")),
    "Instance management": ("Instances", (
        "Instance topology", "List instances", "Create an instance", "Show an instance",
        "Start", "Stop", "Reboot", "Connect", "Remove an instance")),
}
ENTRIES = ["Cloud deployment topology", *SUBMENUS, "Reset to startup", "Destroy all data", EXIT]


@cache
def _entries() -> dict[str, tuple[Action, Entry]]:
    from ..actions.registry import by_label  # the actions load when first needed

    return by_label()


def run_label(session: Session, label: str) -> None:
    action, entry = _entries()[label]
    run_entry(session, action, entry)


def run_submenu(session: Session, title: str, labels: Sequence[str]) -> None:
    """Show a submenu until ``Back`` or Ctrl-C."""
    session.app  # noqa: B018 - open the store now: every entry needs it
    entries = [*labels, BACK]
    while True:
        try:
            choice = session.p.menu(title, entries)
        except KeyboardInterrupt:
            session.p.say()
            return
        label = entries[choice - 1]
        if label == BACK:
            return
        run_safely(session, partial(run_label, session, label))


def _main_entry(session: Session, label: str) -> None:
    if label in SUBMENUS:
        title, labels = SUBMENUS[label]
        run_submenu(session, title, labels)
    else:
        run_label(session, label)


def _honour_ctrl_c() -> None:
    """A menu on a terminal cancels with Ctrl-C even when it was started from something that
    ignores SIGINT (a job started in the background, nohup, some CI runners): Python keeps an
    ignored SIGINT ignored, and Ctrl-C would then do nothing at all."""
    if sys.stdin.isatty() and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run_menu(app_factory: Callable[[], MiniCloud | None],
             prompter: Prompter | None = None) -> int:
    """The interactive menu until Exit, end of input or Ctrl-C at the main menu.

    ``app_factory`` is called once, when an entry first needs data; when it returns None (it
    has said why) the menu ends with exit code 2.
    """
    p = prompter or Prompter()
    _honour_ctrl_c()
    session = Session(app_factory, p)
    try:
        while True:
            try:
                choice = p.menu(TITLE, ENTRIES)
            except KeyboardInterrupt:
                p.say()
                return 0
            label = ENTRIES[choice - 1]
            if label == EXIT:
                return 0
            run_safely(session, partial(_main_entry, session, label))
    except EndOfInput:
        p.say()
        return 0
    except StoreUnavailable:
        return 2
    except BrokenPipeError:
        # Nobody reads the output any more: leave quietly.
        silence_stdout()
        return 0
    finally:
        try:
            session.close()
        except Exception as err:  # noqa: BLE001 - closing must not hide the exit code
            report_unexpected(p, err)
