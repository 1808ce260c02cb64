"""What every menu shares: the session (the app, opened on first use) and the submenu loop."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ...errors import CredentialsNeeded, MiniCloudError
from ..prompts import Cancelled, EndOfInput, Prompter, one_line

if TYPE_CHECKING:
    from ...app import MiniCloud

log = logging.getLogger("minicloud")


class StoreUnavailable(Exception):
    """The app could not be opened (its factory already printed why)."""


class Session:
    """The prompter and the app; the app is opened only when an entry first needs data."""

    def __init__(self, app_factory: Callable[[], MiniCloud | None], prompter: Prompter):
        self._factory = app_factory
        self._app: MiniCloud | None = None
        self._reopen = False
        self.p = prompter

    @property
    def app(self) -> MiniCloud:
        if self._app is None:
            app = self._factory()
            if app is None:
                raise StoreUnavailable()
            app.session.progress = lambda text: self.p.say(f"  ... {text}")
            self._app = app
        elif self._reopen:
            # After Destroy the store is closed with its tables dropped: open it as a first start.
            self._app.open()
        self._reopen = False
        return self._app

    def reopen_later(self) -> None:
        self._reopen = True

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


Action = Callable[[Session], Any]


def report_unexpected(p: Prompter, err: BaseException) -> None:
    log.exception("unexpected error in the menu")
    text = one_line(err) or type(err).__name__
    p.say(f"Unexpected error: {text}; details in the log file")


def run_action(session: Session, action: Action) -> None:
    """Run one menu entry: errors become one line; Ctrl-C cancels; end of input goes up."""
    p = session.p
    try:
        action(session)
    except (EndOfInput, StoreUnavailable):
        raise
    except Cancelled:
        pass
    except KeyboardInterrupt:
        p.say()
        p.say("Cancelled.")
    except CredentialsNeeded as err:
        # A later session of an OpenStack cloud added with a typed password: ask again.
        p.say(f"Error: {one_line(err)}")
        try:
            password = p.secret(f"Password for cloud {err.cloud} (kept for this session only)")
        except KeyboardInterrupt:
            p.say()
            p.say("Cancelled.")
            return
        if password:
            session.app.clouds.keep_secret(err.cloud, password)
            p.say("Password kept for this session: choose the entry again.")
    except MiniCloudError as err:
        p.say(f"Error: {one_line(err)}")
    except Exception as err:  # noqa: BLE001 - never a traceback; the log has it
        report_unexpected(p, err)


def run_submenu(session: Session, title: str,
                entries: Sequence[tuple[str, Action | None]]) -> None:
    """Show a submenu until ``Back`` (the entry whose action is None) or Ctrl-C."""
    session.app  # noqa: B018 - open the store now: every entry needs it
    labels = [label for label, _ in entries]
    while True:
        try:
            choice = session.p.menu(title, labels)
        except KeyboardInterrupt:
            session.p.say()
            return
        action = entries[choice - 1][1]
        if action is None:
            return
        run_action(session, action)


# -- small presentation helpers ----------------------------------------------------------------


def show_topology(session: Session) -> None:
    from ...topology import render_text

    app = session.app
    session.p.say()
    session.p.write(render_text(app.inventory.ensure_loaded().deployment()))


def pick_cloud(session: Session, label: str = "Cloud") -> str:
    clouds = session.app.clouds.all()

    def describe(c: Any) -> str:
        return f"{c.name} ({c.type}{', ' + c.location if c.location else ''})"

    cloud = session.p.pick(label, clouds, describe,
                           empty="No clouds yet: add one in Cloud management.")
    return cloud.name


def named(session: Session, obj: Any) -> str:
    """An object's name, with `` @CLOUD`` when MiniCloud knows several clouds."""
    if len(session.app.clouds.all()) > 1:
        return f"{obj.name} @{obj.cloud}"
    return obj.name


def network_name(session: Session, cloud: str, network_id: str | None) -> str:
    if not network_id:
        return "-"
    net = session.app.inventory.ensure_loaded().get("network", cloud, network_id)
    return net.name if net is not None else network_id
