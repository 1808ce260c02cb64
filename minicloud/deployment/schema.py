"""The deployment file's JSON Schema (``schema.json``, shipped with the package) and the check
of a file against it.

Why not the ``jsonschema`` package: the schema uses a dozen keywords, which this module
interprets in about a hundred lines, words its refusals the way MiniCloud words every refusal
(``unknown key 'sise' (keys: cidr, router)`` rather than "Additional properties are not
allowed"), stops at the first mistake in the file's order, and costs nothing at start-up
(``jsonschema`` and its dependencies take longer to import than ``plan`` takes on a
1,000-instance file).  tests/deployment/test_schema.py checks the schema with ``jsonschema``
itself and that both agree on every example.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from ..model.validation import NAME_RULE
from .spec import Path

# The keywords interpreted here; any other in schema.json is an error of the schema itself.
KEYWORDS = {"$schema", "$id", "$defs", "$ref", "title", "description", "type", "const",
            "required", "properties", "additionalProperties", "propertyNames", "items",
            "minItems", "pattern", "minLength", "maxLength"}
TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "null": (type(None),), "integer": (int,),
}
WORDS = {"object": "a mapping of keys", "array": "a list", "string": "text",
         "boolean": "true or false", "null": "empty", "integer": "a whole number"}


@cache
def schema() -> dict[str, Any]:
    """The shipped JSON Schema."""
    text = resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


class Mistake(Exception):
    def __init__(self, path: Path, text: str) -> None:
        super().__init__(text)
        self.path = path
        self.text = text


def check(document: Any) -> None:
    """Raise :class:`Mistake` (where, and what) at the first place ``document`` does not
    follow the schema."""
    root = schema()
    _check(root, root, document, ())


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    ref = node.get("$ref")
    if ref is None:
        return node, None
    name = ref.removeprefix("#/$defs/")
    return root["$defs"][name], name


def _shown(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return WORDS["object" if isinstance(value, dict) else "array"]
    if isinstance(value, str):
        text = repr(value)
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 48 else text[:45] + "..."


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer",) and isinstance(value, bool):
        return False
    return isinstance(value, TYPES[kind])


def _check(root: dict[str, Any], node: dict[str, Any], value: Any, path: Path) -> None:
    node, ref = _resolve(root, node)
    kinds = node.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, k) for k in kinds):
            wanted = " or ".join(WORDS[k] for k in kinds)
            raise Mistake(path, f"must be {wanted}, not {_shown(value)}")
    if "const" in node and value != node["const"]:
        raise Mistake(path, f"must be {json.dumps(node['const'])}, not {_shown(value)}")
    if isinstance(value, str):
        _check_text(node, ref, value, path)
    if isinstance(value, list):
        if len(value) < node.get("minItems", 0):
            raise Mistake(path, f"must list at least {node['minItems']}")
        if "items" in node:
            for index, item in enumerate(value):
                _check(root, node["items"], item, (*path, index))
    if isinstance(value, dict):
        _check_mapping(root, node, value, path)


def _check_text(node: dict[str, Any], ref: str | None, value: str, path: Path) -> None:
    if len(value) < node.get("minLength", 0):
        raise Mistake(path, "must not be empty")
    if "maxLength" in node and len(value) > node["maxLength"]:
        raise Mistake(path, f"is longer than {node['maxLength']} characters")
    if "pattern" in node and re.search(node["pattern"], value) is None:
        if ref == "name":
            raise Mistake(path, f"invalid name {_shown(value)}: use {NAME_RULE}")
        raise Mistake(path, f"invalid value {_shown(value)}")


def _check_mapping(root: dict[str, Any], node: dict[str, Any], value: dict[str, Any],
                   path: Path) -> None:
    properties: dict[str, Any] = node.get("properties", {})
    extra = node.get("additionalProperties", True)
    names = node.get("propertyNames")
    for key, item in value.items():
        if names is not None:
            try:
                _check(root, names, key, path)
            except Mistake as err:
                raise Mistake((*path, key), err.text) from None
        if key in properties:
            _check(root, properties[key], item, (*path, key))
        elif extra is False:
            known = ", ".join(properties)
            raise Mistake((*path, key), f"unknown key {_shown(key)} (keys: {known})")
        elif isinstance(extra, dict):
            _check(root, extra, item, (*path, key))
    missing = [k for k in node.get("required", ()) if k not in value]
    if missing:
        raise Mistake(path, f"missing key {_shown(missing[0])}")
