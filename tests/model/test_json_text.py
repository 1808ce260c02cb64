"""json_text: orjson where it can, the standard module's answer where it refuses."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicloud.model import json_text

SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
DATA = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@given(DATA)
def test_what_both_write_is_the_same_text(data: object) -> None:
    assert json_text.dumps(data) == json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    assert json_text.loads(json_text.dumps(data)) == data
    assert json_text.loads(json_text.dumps_bytes(data)) == data


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"name": "\\ud800"}', '{"a": 1, "a": 2}'])
def test_what_orjson_refuses_to_read_is_read_as_the_standard_module_reads_it(text: str) -> None:
    expected = json.loads(text)
    got = json_text.loads(text)
    assert repr(got) == repr(expected)


def test_what_orjson_refuses_to_write_is_written_by_the_standard_module() -> None:
    odd = {"name": "\ud800", "big": 2**70}
    assert json_text.dumps(odd) == json.dumps(odd, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(json_text.dumps_bytes(odd).decode("ascii")) == odd


def test_unreadable_text_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        json_text.loads("{not json")
