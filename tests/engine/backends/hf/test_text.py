"""hf/text.py: generated tokens to text deltas, with a byte-per-token decoder (as byte-level
tokenizers decode): characters split across tokens wait for their last byte, and stop
strings split across tokens are held back and never sent."""

from __future__ import annotations

from aimaas.engine.backends.hf.text import TextStream


def decode(ids: list[int]) -> str:
    return bytes(ids).decode("utf-8", errors="replace")


def tokens(text: str) -> list[int]:
    return list(text.encode())


def test_text_streams_as_it_comes() -> None:
    stream = TextStream(decode, [])
    assert stream.push(tokens("Hello")) == "Hello"
    assert stream.push(tokens(", world")) == ", world"
    assert stream.finish() == ""
    assert stream.text == "Hello, world" and stream.ids == tokens("Hello, world")


def test_a_character_split_across_tokens_waits_for_its_last_byte() -> None:
    stream = TextStream(decode, [])
    euro = tokens("€")  # three bytes
    assert stream.push(tokens("5 ")) == "5 "
    assert stream.push(tokens("x") + euro[:1]) == ""  # what ends inside a character waits
    assert stream.push(euro[1:2]) == ""
    assert stream.push(euro[2:]) == "x€"
    cut = TextStream(decode, [])
    assert cut.push(euro[:2]) == ""
    assert cut.finish() == "\ufffd"  # the generation ended inside it: what there is


def test_a_stop_string_split_across_tokens_is_never_sent() -> None:
    stream = TextStream(decode, ["END"])
    assert stream.push(tokens("abc E")) == "abc "  # "E" could begin "END"
    assert stream.push(tokens("N")) == ""
    assert stream.push(tokens("D and more")) == ""
    assert stream.stopped
    assert stream.push(tokens("after")) == "" and stream.finish() == ""


def test_a_false_start_is_released() -> None:
    stream = TextStream(decode, ["END"])
    assert stream.push(tokens("E")) == ""
    assert stream.push(tokens("NX")) == "ENX"
    assert stream.push(tokens("EN")) == ""
    assert stream.finish() == "EN"  # ended without the rest of the stop string
    assert not stream.stopped


def test_the_earliest_of_several_stops_ends_the_text() -> None:
    stream = TextStream(decode, ["\n\n", "stop"])
    assert stream.push(tokens("one stop two\n\nthree")) == "one "
    assert stream.stopped
    held = TextStream(decode, ["ab", "abcd"])
    assert held.push(tokens("xa")) == "x"
    assert held.push(tokens("b")) == ""  # "ab" is a stop on its own
    assert held.stopped
