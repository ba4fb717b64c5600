"""generated_text.py: the whole text of a request on a real model (SmolLM2 on xllamacpp),
the same as its stream joined, with the stream closed afterwards."""

from __future__ import annotations

import asyncio

from aimaas.engine.backends.llamacpp import LlamaCppModel
from aimaas.engine.generated_text import generated_text
from aimaas.engine.types import GenerationRequest, Message, SamplingParams
from tests.engine.conftest import settled

GREEDY = SamplingParams(temperature=0)


def test_the_text_is_the_stream_joined(smollm2: LlamaCppModel) -> None:
    request = GenerationRequest(
        "completions", prompts=("The capital of France is",), sampling=GREEDY, max_tokens=4
    )

    async def both() -> tuple[str, str]:
        streamed = [output async for output in smollm2.stream(request)]
        joined = "".join(choice.text for output in streamed for choice in output.choices)
        await settled(smollm2)  # the slot is free once its worker has left it
        text = await generated_text(smollm2, request)
        await settled(smollm2)
        return joined, text

    joined, text = asyncio.run(both())
    assert text == joined and "Paris" in text
    assert smollm2.admission.in_flight == 0


def test_a_chat_answer_is_its_text_only(smollm2: LlamaCppModel) -> None:
    request = GenerationRequest(
        "chat", messages=(Message("user", "Say hi."),), sampling=GREEDY, max_tokens=5
    )

    async def run() -> str:
        text = await generated_text(smollm2, request)
        await settled(smollm2)
        return text

    text = asyncio.run(run())
    assert text.strip() and "<|im_" not in text  # no template tokens, no role marker
    assert smollm2.admission.in_flight == 0
