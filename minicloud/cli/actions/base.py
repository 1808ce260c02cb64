"""How a user action is declared once, for the menu and for the one-shot commands.

An :class:`Action` names its command (``path``), its menu entries (``menu``) and its arguments
(``args``, each an :class:`Arg`), and runs against the managers (``run``), returning a
:class:`~minicloud.cli.present.Result`.  From the same :class:`Arg` the commands derive an
argparse argument (positional or flag, required, metavar, help) and the menu a question (its
text, a picker of candidates, a validator, a default, optional).

Values travel in an ``argparse.Namespace``.  A value is what the user gave: a name on the
command line, or the object picked in the menu (a picked object carries its cloud); actions go
through :func:`obj` and :func:`name_of`, which accept both.
"""

from __future__ import annotations

import dataclasses
from argparse import Namespace
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from ...model.validation import check_name
from .. import present
from ..present import Result

if TYPE_CHECKING:
    from ...app import MiniCloud

Values = Namespace
Candidates = Callable[["MiniCloud", Values], Sequence[Any]]
Check = Callable[["MiniCloud", Values, str], str]
Default = str | Callable[["MiniCloud", Values], Any] | None
# A picker's "nothing to pick" line; a function of the values so far may ask the managers why.
Text = str | Callable[["MiniCloud", Values], str] | None


class Declined(Exception):
    """The user answered no to a confirmation: nothing was done."""


class Context(Protocol):
    """What a front end offers an action while it runs."""

    @property
    def app(self) -> MiniCloud: ...

    def confirm(self, question: str) -> None:
        """Go on when the user agrees; raise :class:`Declined` otherwise."""

    def note(self, text: str) -> None:
        """Say something while working (a command writes it to stderr)."""

    @property
    def adding_a_cloud(self) -> str:
        """How this front end adds a cloud, to end a sentence ("add a cloud ...")."""


@dataclass(frozen=True)
class Arg:
    """One argument of an action: a command-line argument and, with a ``prompt``, a question.

    Command line: ``positional`` arguments are required unless ``required`` is False (then
    optional, ``[NAME]``); others are ``flag`` options (``--name-with-dashes`` by default),
    ``switch`` ones take no value; an argument with ``env`` and no flag is read from that
    variable only (secrets never go on a command line).  ``choices`` are the values a flag
    accepts; flags naming the same ``exclusive`` group may not be given together.

    Menu (only when ``prompt`` is set, and ``when`` allows it): a ``secret`` is read with no
    echo (or taken from ``env``); with ``pick`` the answer is one of its candidates, with
    ``none`` offering "no value" first, ``other`` offering "none of these" last (both skip
    the question when there are no candidates), ``empty`` the line shown when there is
    nothing to pick; otherwise a typed answer checked by ``check``.  ``default`` is what
    Enter takes; ``optional`` lets an answer be empty.  An ``alone`` answer ends the
    questions.  ``expand`` stands for several arguments known only at run time (a cloud
    type's settings): given the values so far, or None for every possibility.
    """

    name: str
    help: str = ""
    metavar: str | None = None
    positional: bool = False
    required: bool = False
    switch: bool = False
    flag: str | None = None
    env: str | None = None
    prompt: str | None = None
    pick: Candidates | None = None
    show: Callable[[MiniCloud, Any], str] = present.name_only
    none: str | None = None
    other: str | None = None
    empty: Text = None
    check: Check | None = None
    default: Default = None
    optional: bool = False
    secret: bool = False
    alone: bool = False
    when: Callable[[MiniCloud, Values], bool] | None = None
    expand: Callable[[MiniCloud | None, Values | None], tuple[Arg, ...]] | None = None
    choices: tuple[str, ...] | None = None
    exclusive: str | None = None
    # A command may leave it out when ``pick`` offers exactly one candidate (the one cloud).
    sole: bool = False
    # A flag that may be given several times (its value is then a list).
    many: bool = False

    @property
    def option(self) -> str | None:
        """Its command-line spelling (``NAME`` or ``--flag``); None when it has none."""
        if self.expand is not None or (self.env and self.flag is None and not self.positional):
            return None
        if self.positional:
            return self.name
        return self.flag or "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Entry:
    """A menu entry of an action, with values the entry sets without asking."""

    label: str
    preset: Mapping[str, Any] = field(default_factory=dict)


# The commands that only read (besides lists and show): no interrupted write is finished first.
READ_ONLY = (("topology",), ("drift",), ("plan",), ("export",))


class Action:
    """One user action.  Subclasses declare ``path``, ``help``, ``args``, ``menu``; and run."""

    path: ClassVar[tuple[str, ...]]
    help: ClassVar[str]
    args: ClassVar[tuple[Arg, ...]] = ()
    # Its menu entries: labels, or Entry(label, preset) when the entry fixes some values.
    menu: ClassVar[tuple[str | Entry, ...]] = ()
    # "always": the command asks too (or takes --yes); "menu": only the menu asks, since a
    # command names its target itself.  The question is asked by run() through the context.
    confirm: ClassVar[Literal["no", "menu", "always"]] = "no"
    # The menu offers to try a refused run again with the same answers, changing only the
    # ones the user picks (many answers, and the cloud's refusal names what was wrong).
    retry: ClassVar[bool] = False
    # The menu reads the clouds an action names before it runs (a first use in the session);
    # an action that never calls its cloud (forgetting it, adding it) does not.
    needs_cloud: ClassVar[bool] = True

    def arguments(self, app: MiniCloud | None = None,
                  values: Values | None = None) -> tuple[Arg, ...]:
        """The declared arguments, ``expand`` ones replaced by what they stand for."""
        found: list[Arg] = []
        for arg in self.args:
            if arg.expand is None:
                found.append(arg)
            else:
                found.extend(arg.expand(app, values))
        return tuple(found)

    def entries(self) -> tuple[Entry, ...]:
        return tuple(e if isinstance(e, Entry) else Entry(e) for e in self.menu)

    def values(self, preset: Mapping[str, Any] | None = None) -> Values:
        """Values with every declared argument unset, then ``preset``."""
        values = Values(**{a.name: (False if a.switch else None) for a in self.args})
        for key, value in (preset or {}).items():
            setattr(values, key, value)
        return values

    def run(self, ctx: Context, v: Values) -> Result:
        raise NotImplementedError

    @property
    def command(self) -> str:
        return " ".join(self.path)

    @property
    def writes(self) -> bool:
        """Whether it changes anything (lists, show and the tree only read)."""
        return self.path[-1] not in ("list", "show") and self.path not in READ_ONLY

    @property
    def changes_nothing(self) -> bool:
        """Not even the store's schema may change (a check that cron runs: ``drift``)."""
        return self.path == ("drift",)

    def clouds_touched(self, v: Values) -> list[str]:
        """The clouds its values name: a ``cloud`` value, or the cloud of a picked object."""
        found: list[str] = []
        for key, value in vars(v).items():
            if key == "cloud" and isinstance(value, str):
                found.append(value)
            elif getattr(value, "kind", None) == "cloud":
                found.append(value.name)
            elif isinstance(getattr(value, "cloud", None), str):
                found.append(value.cloud)
        return list(dict.fromkeys(found))


# -- values: names or picked objects -----------------------------------------------------------


def name_of(value: Any) -> str | None:
    """The name a value stands for (a typed name, or a picked object's name)."""
    if value is None or isinstance(value, str):
        return value
    return str(value.name)


def obj(ctx: Context, kind: str, value: Any, cloud: Any = None) -> Any:
    """The object a value stands for, as the store holds it now: a picked one read again (it
    may have changed since it was offered), a name looked up by the managers."""
    if not isinstance(value, str):
        return ctx.app.clouds.current(value)
    return ctx.app.clouds.find(kind, value, name_of(cloud))


def get(v: Values, name: str) -> Any:
    return getattr(v, name, None)


# -- arguments many actions share --------------------------------------------------------------

JSON = Arg("json", switch=True, help="print JSON (see README.md)")
YES = Arg("yes", switch=True, help="do not ask (needed when there is no terminal)")
CLOUD_FILTER = Arg("cloud", metavar="C", help="only this cloud")
CLOUD_HINT = Arg("cloud", metavar="C",
                 help="the cloud (may be left out when the name is unambiguous)")


def clouds(app: MiniCloud, v: Values) -> Sequence[Any]:
    return app.clouds.all()


NO_CLOUDS = "No clouds yet: add one in Cloud management."
CLOUD = Arg("cloud", metavar="C", sole=True,
            help="the cloud (may be left out when there is only one it can be)",
            prompt="Cloud", pick=clouds, show=present.describe_cloud, empty=NO_CLOUDS)


def cloud_that_can(feature: str, empty: str) -> Arg:
    """The CLOUD argument, offering in the menu only clouds whose type can do ``feature``
    (as its driver declares it); ``empty`` is said when there are clouds, none of them such."""
    return dataclasses.replace(
        CLOUD, empty=lambda app, v: empty if app.clouds.all() else NO_CLOUDS,
        pick=lambda app, v: [c for c in app.clouds.all()
                             if getattr(app.clouds.features(c.name), feature)])


def none_because(app: MiniCloud, what: str, refusals: Sequence[Any]) -> str:
    """A picker's "nothing to pick" line, saying why from the managers' refusals (the first
    one: a short line), or that there are no clouds at all."""
    if not app.clouds.all():
        return NO_CLOUDS
    found = [str(r) for r in refusals if r is not None]
    return f"{what}: {found[0]}." if found else f"{what}."


def name_check(what: str) -> Check:
    return lambda app, v, text: check_name(text, what)


def new_name(what: str, free: Check | None = None) -> Arg:
    """The NAME of an object being created, e.g. ``new_name("router")``.  ``free`` is the
    manager's own check of a new name (valid, not taken): the menu runs it on the typed name,
    so a taken one is refused at once rather than after the other questions."""
    return Arg("name", metavar="NAME", positional=True, required=True, help=f"the {what}'s name",
               prompt=f"{what.capitalize()} name", check=free or name_check(f"{what} name"))


def chosen(what: str, candidates: Candidates, empty: Text,
           show: Callable[[MiniCloud, Any], str] = present.named,
           name: str = "name") -> Arg:
    """An existing object, named on the command line or picked in the menu."""
    return Arg(name, metavar=name.upper(), positional=True, required=True,
               help=f"the {what}'s name", prompt=what[:1].upper() + what[1:], pick=candidates,
               show=show, empty=empty)
