"""Model objects to and from JSON-ready data (what the store keeps in each row's ``data``).

Plain code over the dataclasses' field names, read once per class: ``dataclasses.fields()``
and ``asdict()`` cost more than the rest of a load of 30,000 rows.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from .objects import Instance, Network, Nic, SecurityGroup, SecurityRule, Subnet

# The list fields whose items are model objects too.
_NESTED: dict[tuple[type, str], type] = {
    (Network, "subnets"): Subnet,
    (Instance, "nics"): Nic,
    (SecurityGroup, "rules"): SecurityRule,
}

T = TypeVar("T")

# Per class: its field names (in order and as a set), and the item class of each nested field.
_SHAPES: dict[type, tuple[tuple[str, ...], frozenset[str], dict[str, type]]] = {}


def _shape(cls: type) -> tuple[tuple[str, ...], frozenset[str], dict[str, type]]:
    shape = _SHAPES.get(cls)
    if shape is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        nested = {name: item for (owner, name), item in _NESTED.items() if owner is cls}
        shape = _SHAPES[cls] = (names, frozenset(names), nested)
    return shape


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    return value


def to_dict(obj: Any) -> dict[str, Any]:
    """The object as JSON-ready data (a deep copy, like ``dataclasses.asdict``)."""
    names, _, _ = _shape(type(obj))
    return {name: _plain(getattr(obj, name)) for name in names}


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a model object from :func:`to_dict` output; unknown keys are ignored."""
    _, names, nested = _shape(cls)
    kwargs = data if names.issuperset(data) else {k: v for k, v in data.items() if k in names}
    if nested:
        kwargs = dict(kwargs)
        for key, item in nested.items():
            value = kwargs.get(key)
            if value is not None:
                kwargs[key] = [from_dict(item, v) for v in value]
    return cls(**kwargs)

