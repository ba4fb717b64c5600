"""Identifiers: the prefix, then 96 random bits as 24 hex digits; never the same twice."""

from __future__ import annotations

import re

from aimaas.registry.ids import new_id


def test_an_id_is_its_prefix_and_24_hex_digits() -> None:
    assert re.fullmatch(r"file-[0-9a-f]{24}", new_id("file"))


def test_ids_do_not_repeat() -> None:
    assert len({new_id("key") for _ in range(10_000)}) == 10_000
