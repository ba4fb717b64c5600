"""What a generation used and how fast it went, read off hand-built outputs."""

from __future__ import annotations

import pytest

from aimaas.engine.types import ChoiceDelta, GenerationOutput, Usage
from aimaas.runtime.generation_meter import GenerationMeter


class Recorded:
    def __init__(self) -> None:
        self.values: list[float] = []

    def observe(self, amount: float) -> None:
        self.values.append(amount)


def text(piece: str) -> GenerationOutput:
    return GenerationOutput(choices=(ChoiceDelta(0, text=piece),))


def test_first_token_gaps_queue_time_finish_and_usage() -> None:
    ttft, itl = Recorded(), Recorded()
    meter = GenerationMeter(started=10.0, ttft=ttft, itl=itl)
    meter.observe(GenerationOutput(choices=(ChoiceDelta(0),)), 10.1)  # the role: no token
    meter.observe(text("a"), 10.5)
    meter.observe(text("b"), 10.75)
    end = GenerationOutput(choices=(ChoiceDelta(0, finish_reason="length"),), busy_seconds=0.5)
    meter.observe(end, 11.0)
    assert ttft.values == [pytest.approx(0.5)] and itl.values == [pytest.approx(0.25)]
    assert meter.finish == "length" and meter.queue_seconds == pytest.approx(0.5)
    assert meter.completion_tokens == 2 and meter.prompt_tokens == 0  # no usage yet
    meter.observe(GenerationOutput(usage=Usage(prompt_tokens=30, completion_tokens=3)), 11.0)
    assert (meter.prompt_tokens, meter.completion_tokens, meter.tokens_used) == (30, 3, 33)


def test_a_generation_cut_off_is_aborted_and_counts_its_token_outputs() -> None:
    meter = GenerationMeter(started=0.0, ttft=Recorded(), itl=Recorded())
    for piece in ("x", "", "y"):
        meter.observe(text(piece), 1.0)
    assert meter.finish == "aborted" and meter.tokens_used == 2 and meter.queue_seconds is None
