"""Identifiers (aimaas/registry/ids.py): a readable prefix plus 96 random bits in hex."""

from __future__ import annotations

import re

from aimaas.registry.ids import new_id


def test_an_id_is_its_prefix_and_24_hex_characters() -> None:
    made = new_id("job")
    assert re.fullmatch(r"job-[0-9a-f]{24}", made), made
    assert new_id("tn").startswith("tn-") and len(new_id("tn")) == len("tn-") + 24


def test_ids_do_not_repeat() -> None:
    assert len({new_id("file") for _ in range(1000)}) == 1000
