"""The shipped JSON Schema is a valid schema, and MiniCloud's own check of a file agrees with
the reference implementation (``jsonschema``) on the example and on each mistake the schema
alone catches."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from minicloud.deployment import schema
from minicloud.deployment.parse import parse_text
from minicloud.deployment.spec import FileError
from tests.deployment.test_parse import MISTAKES

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trystack.yaml"


def reference() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema.schema())
    cls.check_schema(schema.schema())
    return cls(schema.schema())


def test_the_schema_is_a_json_schema_and_uses_only_what_minicloud_reads() -> None:
    reference()

    def keywords(node: object) -> set[str]:
        if isinstance(node, dict):
            found = set(node)
            for key, value in node.items():
                if key in ("properties", "$defs"):
                    for sub in value.values():
                        found |= keywords(sub)
                elif isinstance(value, (dict, list)):
                    found |= keywords(value)
            return found
        if isinstance(node, list):
            return set().union(*(keywords(n) for n in node)) if node else set()
        return set()

    assert keywords(schema.schema()) <= schema.KEYWORDS


def test_the_example_is_valid_for_both() -> None:
    document = yaml.safe_load(EXAMPLE.read_text())
    reference().validate(document)
    schema.check(document)


# The mistakes of test_parse.py that the schema itself catches (the others are rules a schema
# cannot say: overlaps, references, duplicates).
SCHEMA_MISTAKES = [m for m in MISTAKES if m[0] in (
    "unknown key", "unknown key of an instance", "missing key", "bad name", "wrong type",
    "wrong version", "not a mapping", "number as a name")]


@pytest.mark.parametrize("mistake", SCHEMA_MISTAKES, ids=[m[0] for m in SCHEMA_MISTAKES])
def test_both_refuse_the_same_files(mistake: tuple[str, str, str]) -> None:
    _, text, _ = mistake
    document = yaml.safe_load(text)
    assert not reference().is_valid(document)
    with pytest.raises(schema.Mistake):
        schema.check(document)
    with pytest.raises(FileError):
        parse_text(text, "f.yaml")
