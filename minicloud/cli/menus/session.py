"""The menu's side of an action: its questions (from the action's declared arguments), the
result shown, and the errors each said in one line."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...model.errors import CredentialsNeeded, InUseError, MiniCloudError, ValidationError
from ..actions.base import Action, Arg, Check, Declined, Entry, Values, get
from ..present import DECLINED, Result
from ..prompts import Cancelled, EndOfInput, Prompter, one_line

if TYPE_CHECKING:
    from ...app import MiniCloud

log = logging.getLogger("minicloud")

# The "none of these" entry of a picker (e.g. "Enter the details by hand").
_OTHER = object()


class StoreUnavailable(Exception):
    """The app could not be opened (its factory already printed why)."""


class Session:
    """The prompter and the app; the app is opened only when an entry first needs data."""

    def __init__(self, app_factory: Callable[[], MiniCloud | None], prompter: Prompter):
        self._factory = app_factory
        self._app: MiniCloud | None = None
        self.p = prompter

    @property
    def app(self) -> MiniCloud:
        if self._app is None:
            app = self._factory()
            if app is None:
                raise StoreUnavailable()
            self._app = app
            # Each answer means time has passed: the next screen, picker, list or show asks
            # the store what moved first (one query), and reads those clouds again.  So
            # does the first, for an app built before the menu was drawn (--demo).
            self.p.answered = app.expire_reads
            app.expire_reads()
            # What killed processes left half-done is finished now, and said.
            for line in app.sync.finish_interrupted():
                self.p.say(line[:1].upper() + line[1:] + ".")
            app.sync.settle_interrupted()
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()

    # -- what an action may ask while it runs ---------------------------------------------------

    def confirm(self, question: str) -> None:
        if not self.p.confirm(question):
            raise Declined()

    def note(self, text: str) -> None:
        self.p.say(text)

    adding_a_cloud = "in Cloud management"


# -- questions ---------------------------------------------------------------------------------


def questions(action: Action) -> tuple[Arg, ...]:
    """The declared arguments the menu may ask (``expand`` ones stand for several)."""
    return tuple(a for a in action.args if a.prompt is not None or a.expand is not None)


def _pick(session: Session, arg: Arg, v: Values, default: Any) -> Any:
    app = session.app
    items: list[Any] = list(arg.pick(app, v)) if arg.pick is not None else []
    if arg.none is not None or arg.other is not None:
        if not items:
            return None
        items = [None, *items] if arg.none is not None else [*items, _OTHER]

    def describe(item: Any) -> str:
        if item is None:
            return arg.none or ""
        if item is _OTHER:
            return arg.other or ""
        return arg.show(app, item)

    empty = arg.empty(app, v) if callable(arg.empty) else arg.empty
    choice = session.p.pick(arg.prompt or arg.name, items, describe, default=default,
                            empty=empty)
    return None if choice is _OTHER else choice


def ask(session: Session, arg: Arg, v: Values) -> Any:
    """One question; the answer (None for an empty one)."""
    app, p, prompt = session.app, session.p, arg.prompt or arg.name
    if arg.secret:
        if arg.env and os.environ.get(arg.env):
            p.say(f"{prompt}: taken from {arg.env}.")
            return os.environ[arg.env]
        return p.secret(prompt)
    default = arg.default(app, v) if callable(arg.default) else arg.default
    if arg.pick is not None:
        return _pick(session, arg, v, default)
    answer = p.ask(prompt, default=default if default is not None else
                   ("" if arg.optional else None),
                   validate=_validator(app, arg.check, v) if arg.check is not None else None)
    return answer or None


def _validator(app: MiniCloud, check: Check, v: Values) -> Callable[[str], Any]:
    """The argument's check of a typed answer.  A manager's in-use refusal (an address
    another instance holds) is a reason to ask again too, not to end the entry."""
    def validate(text: str) -> Any:
        try:
            return check(app, v, text)
        except InUseError as err:
            raise ValidationError(str(err)) from None
    return validate


def ask_all(session: Session, action: Action, entry: Entry, v: Values,
            asked: set[str]) -> None:
    """Ask what the entry does not set and was not asked yet; an ``alone`` answer ends it."""
    for declared in questions(action):
        group = declared.expand(session.app, v) if declared.expand else (declared,)
        for arg in group:
            if arg.name not in asked and arg.name not in entry.preset and arg.prompt and \
                    (arg.when is None or arg.when(session.app, v)):
                setattr(v, arg.name, ask(session, arg, v))
                asked.add(arg.name)
            if arg.alone and arg.name in asked and get(v, arg.name) is not None:
                return


# -- running an entry --------------------------------------------------------------------------


def show(p: Prompter, result: Result) -> None:
    if result.block:
        p.say()
    for line in result.lines:
        p.say(line)
    for line in result.errors:
        p.say(f"Error: {line}")
    if result.status:
        p.say(result.status)


def _keep_secret(session: Session, action: Action, v: Values, err: CredentialsNeeded) -> None:
    """The secret the cloud needs, asked in its type's words (the secret setting's prompt,
    e.g. "Password" or "API secret key"): the action's own secret argument (a cloud being
    added), or kept for the session."""
    slot = next((a for a in action.arguments(session.app, v) if a.secret), None)
    if slot is not None:
        words = slot.prompt
    else:
        setting = session.app.clouds.secret_setting(err.cloud)
        words = setting.prompt if setting is not None else None
    value = session.p.secret(f"{words or 'Password'} for cloud {err.cloud} "
                             "(kept for this session only)")
    if slot is not None:
        setattr(v, slot.name, value)
    else:
        session.app.clouds.keep_secret(err.cloud, value)


def run_entry(session: Session, action: Action, entry: Entry) -> None:
    """Ask, run, show.  A missing secret is asked (no echo), then the action runs again.  A
    refused run of an action that allows it is offered again with the same answers."""
    v = action.values(entry.preset)
    asked: set[str] = set()
    secret_asked = False
    while True:
        try:
            ask_all(session, action, entry, v, asked)
            if action.writes and action.needs_cloud:
                for cloud in action.clouds_touched(v):
                    session.app.sync.use(cloud)  # the menu's first use reads the cloud
            result = action.run(session, v)
        except CredentialsNeeded as err:
            if secret_asked:
                raise
            secret_asked = True
            _keep_secret(session, action, v, err)
            continue
        except MiniCloudError as err:
            if not action.retry:
                raise
            session.p.say(f"Error: {one_line(err)}")
            change_answers(session, action, v, asked)  # Cancel ends the entry
            continue
        show(session.p, result)
        return


_AGAIN = object()


def change_answers(session: Session, action: Action, v: Values, asked: set[str]) -> None:
    """After a refusal: the answers given, to change one by one before trying again with
    them all; Cancel gives up.  The type is not offered (another type asks other questions:
    that is another entry)."""
    app, p = session.app, session.p
    while True:
        answers = [a for a in action.arguments(app, v)
                   if a.name in asked and a.prompt and a.name != "type"]

        def describe(item: Any) -> str:
            if item is _AGAIN:
                return "Try again with these answers"
            value = get(v, item.name)
            shown = "(hidden)" if item.secret and value else \
                "-" if value is None else item.show(app, value) if item.pick else str(value)
            return f"Change {item.prompt}: {shown}"

        choice = p.pick("Try again", [_AGAIN, *answers], describe, default=_AGAIN)
        if not isinstance(choice, Arg):
            return
        setattr(v, choice.name, ask(session, choice, v))


def report_unexpected(p: Prompter, err: BaseException) -> None:
    log.exception("unexpected error in the menu")
    text = one_line(err) or type(err).__name__
    p.say(f"Unexpected error: {text}; details in the log file")


def run_safely(session: Session, work: Callable[[], None]) -> None:
    """Run one menu entry: errors become one line; Ctrl-C cancels; end of input goes up."""
    p = session.p
    try:
        work()
    except (EndOfInput, StoreUnavailable, BrokenPipeError):
        raise  # BrokenPipeError: nobody reads any more (``| head``); the menu leaves quietly
    except Cancelled:
        pass
    except Declined:
        p.say(DECLINED)
    except KeyboardInterrupt as interrupt:
        p.say()
        p.say(f"Cancelled: {interrupt}" if str(interrupt) else "Cancelled.")
    except MiniCloudError as err:
        p.say(f"Error: {one_line(err)}")
    except Exception as err:  # noqa: BLE001 - never a traceback; the log has it
        report_unexpected(p, err)
