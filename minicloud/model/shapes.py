"""What a stored object may hold: one shape per model class, read once from its dataclass's
fields and their types (DESIGN.md section 7: a row that does not fit is skipped and named,
never rewritten).

A shape checks the JSON a row holds, before the codec builds the object: every field the
class needs without a default is there, and every field that is there has its declared JSON
type, nested objects and the items of lists included.  Fields the class does not know are
fine (a newer MiniCloud may add some); a wrong type is not: the object would fail later, in
the middle of a command.  The few fields declared as free-form dicts (an intent's owner and
planned changes, a drift record's differences) are given the shape of what is written there.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin, get_type_hints

from .drift import Difference
from .objects import Change, Cloud, DriftRecord, Intent

# What is wrong with a value, in a few words; None when it fits.
Check = Callable[[Any], "str | None"]

# The JSON types (as json.loads gives them) a plain declared type takes.  A float field takes
# a whole number too (json writes 0.0 as 0.0, but another writer may not); bool is never a
# number here, though Python counts it as one.
_PLAIN: dict[Any, frozenset[type]] = {
    str: frozenset({str}),
    int: frozenset({int}),
    float: frozenset({int, float}),
    bool: frozenset({bool}),
    type(None): frozenset({type(None)}),
}
_WORDS = {str: "text", int: "a whole number", float: "a number", bool: "true or false",
          type(None): "null", list: "a list", dict: "an object"}
_MISSING = object()


@dataclass
class _Owner:
    """``Intent.owner``: the process that recorded it and its session
    (state.intents.this_process); an intent with no owner is timed by its lease alone."""

    host: str = ""
    pid: int = 0
    started: str | None = None
    session: str = ""


@dataclass
class _PlannedChange(Change):
    """An item of ``Intent.changes``: a change record to make, naming by ``network_name`` a
    network not created yet."""

    network_name: str | None = None


@dataclass
class _AddedCloud:
    """The one item of an "add cloud" intent's changes: the cloud it adds."""

    name: str
    cloud: Cloud


def _intent_change(value: Any) -> str | None:
    """An item of ``Intent.changes``: the cloud an "add cloud" intent adds, or a change."""
    if type(value) is dict and value.get("name") == "cloud":
        return shape(_AddedCloud).problem(value)
    return shape(_PlannedChange).problem(value)


# Fields declared as free-form data, and what is written there: a type, or a check.
_REFINED: dict[tuple[type, str], Any] = {
    (Intent, "owner"): _Owner,
    (DriftRecord, "differences"): list[Difference],
}
_REFINED_CHECKS: dict[tuple[type, str], Check] = {}  # filled in below, once _items exists


@dataclass(frozen=True)
class Shape:
    """The fields of one class: (name, needed, the JSON types a plain field takes, or the
    check of a composite one), and the two fields its objects are keyed by (``key_of``)."""

    fields: tuple[tuple[str, bool, frozenset[type] | None, Check | None], ...]
    names: frozenset[str]

    @property
    def key_fields(self) -> tuple[str, str]:
        """A cloud is keyed by its name twice, a cluster by its cloud and name, anything
        else by its cloud and id (each class's ``key`` property)."""
        return ("cloud" if "cloud" in self.names else "name",
                "id" if "id" in self.names else "name")

    def problem(self, data: Any) -> str | None:
        """What keeps ``data`` from being this class's object; None when it fits."""
        if type(data) is not dict:
            return f"{_word(data)} where an object belongs"
        get = data.get
        for name, needed, plain, check in self.fields:
            value = get(name, _MISSING)
            if value is _MISSING:
                if needed:
                    return f"{name}: missing"
                continue
            if plain is not None:
                if type(value) not in plain:
                    return f"{name}: {_word(value)} where {_expected(plain)} belongs"
            else:
                found = check(value)  # type: ignore[misc]
                if found is not None:
                    return f"{name}{'' if found.startswith('[') else ': '}{found}"
        return None


_SHAPES: dict[Any, Shape] = {}


def shape(cls: type) -> Shape:
    """The shape of a dataclass, made once."""
    made = _SHAPES.get(cls)
    if made is None:
        hints = get_type_hints(cls)
        fields = []
        for f in dataclasses.fields(cls):
            where = (_declaring(cls, f.name), f.name)
            declared = _REFINED.get(where, hints[f.name])
            needed = (f.default is dataclasses.MISSING
                      and f.default_factory is dataclasses.MISSING)
            plain = None if where in _REFINED_CHECKS else _plain(declared)
            check = _REFINED_CHECKS.get(where) or (None if plain is not None
                                                   else _check(declared))
            fields.append((f.name, needed, plain, check))
        made = _SHAPES[cls] = Shape(tuple(fields), frozenset(f[0] for f in fields))
    return made


def problem(cls: type, data: Any) -> str | None:
    """What keeps ``data`` (a row's JSON) from being a ``cls``; None when it fits."""
    return shape(cls).problem(data)


def key_of(cls: type, data: dict[str, Any]) -> tuple[str, str]:
    """The ``(cloud, id)`` key the object made of ``data`` has (its ``key`` property), from
    data that fits the class's shape."""
    cloud, ident = shape(cls).key_fields
    return data[cloud], data[ident]


def _declaring(cls: type, name: str) -> type:
    """The class among ``cls`` and its bases that declares field ``name``."""
    for base in cls.__mro__:
        if name in getattr(base, "__annotations__", {}):
            return base
    return cls


def _plain(declared: Any) -> frozenset[type] | None:
    """The JSON types of a plain type or a union of plain types; None for anything else."""
    if declared in _PLAIN:
        return _PLAIN[declared]
    if get_origin(declared) in (Union, types.UnionType):
        parts = [_plain(arg) for arg in get_args(declared)]
        if all(part is not None for part in parts):
            return frozenset().union(*parts)  # type: ignore[arg-type]
    return None


def _check(declared: Any) -> Check:
    """The check of a composite type: a union, a list or tuple, a dict, a dataclass."""
    if declared is Any:
        return lambda value: None
    plain = _plain(declared)
    if plain is not None:
        return lambda value: (None if type(value) in plain
                              else f"{_word(value)} where {_expected(plain)} belongs")
    origin, args = get_origin(declared), get_args(declared)
    if origin in (Union, types.UnionType):
        return _union([_check(arg) for arg in args])
    if origin in (list, tuple):
        item = _plain(args[0]) if args else None
        return _plain_items(item) if item is not None else \
            _items(_check(args[0]) if args else _check(Any))
    if origin is dict:
        return _values(_check(args[1]) if len(args) > 1 else _check(Any))
    if dataclasses.is_dataclass(declared):
        return shape(declared).problem  # type: ignore[arg-type]
    raise TypeError(f"no shape for the declared type {declared!r}")


def _union(checks: list[Check]) -> Check:
    def check(value: Any) -> str | None:
        found = None
        for one in checks:
            found = one(value)
            if found is None:
                return None
        return found

    return check


def _items(item: Check) -> Check:
    def check(value: Any) -> str | None:
        if type(value) is not list:
            return f"{_word(value)} where a list belongs"
        for index, element in enumerate(value):
            found = item(element)
            if found is not None:
                return f"[{index}]{'' if found.startswith('[') else ': '}{found}"
        return None

    return check


def _plain_items(plain: frozenset[type]) -> Check:
    """A list of plain values (``list[str]``): checked without a call per item."""
    def check(value: Any) -> str | None:
        if type(value) is not list:
            return f"{_word(value)} where a list belongs"
        for index, element in enumerate(value):
            if type(element) not in plain:
                return f"[{index}]: {_word(element)} where {_expected(plain)} belongs"
        return None

    return check


def _values(item: Check) -> Check:
    def check(value: Any) -> str | None:
        if type(value) is not dict:
            return f"{_word(value)} where an object belongs"
        for key, element in value.items():
            found = item(element)
            if found is not None:
                return f"[{key!r}]: {found}"
        return None

    return check


_REFINED_CHECKS[(Intent, "changes")] = _items(_intent_change)


def _word(value: Any) -> str:
    return _WORDS.get(type(value), type(value).__name__)


def _expected(plain: frozenset[type]) -> str:
    if plain == _PLAIN[float]:
        return _WORDS[float]
    return " or ".join(sorted(_WORDS[t] for t in plain))
