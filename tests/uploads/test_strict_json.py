"""The strict JSON parser: NaN and the infinities always refused; duplicate keys, overflowing
numbers and huge objects on request; deep nesting an error, not a crash."""

from __future__ import annotations

import json

import pytest

from aimaas.uploads.strict_json import StrictJSONError, parse


def test_plain_json_parses() -> None:
    assert parse('{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_constants_are_refused(constant: str) -> None:
    with pytest.raises(StrictJSONError) as caught:
        parse(f'{{"a": {constant}}}')
    assert caught.value.msg == f"{constant} is not a valid JSON number"
    assert str(caught.value) == caught.value.msg  # no position for a rule broken anywhere


def test_rules_on_request() -> None:
    assert parse('{"a": 1, "a": 2}') == {"a": 2}
    with pytest.raises(StrictJSONError, match="the key 'a' appears twice"):
        parse('{"a": 1, "a": 2}', unique_keys=True)
    assert parse("[1e999]") == [float("inf")]
    with pytest.raises(StrictJSONError, match="out of the range of a 64-bit float"):
        parse("[1e999]", finite_numbers=True)
    with pytest.raises(StrictJSONError, match="more than 2 members"):
        parse('{"a": 1, "b": 2, "c": 3}', max_members=2)


def test_syntax_errors_keep_their_position() -> None:
    with pytest.raises(StrictJSONError) as caught:
        parse('{"a": }')
    assert isinstance(caught.value, json.JSONDecodeError)
    assert caught.value.msg == "Expecting value" and caught.value.pos == 6
    assert str(caught.value) == "Expecting value: line 1 column 7 (char 6)"
    assert not caught.value.too_deep


def test_deep_nesting_is_an_error() -> None:
    with pytest.raises(StrictJSONError) as caught:
        parse("[" * 100_000 + "]" * 100_000)
    assert caught.value.too_deep and caught.value.msg == "the JSON is nested too deeply"
