"""llamacpp.py: memory estimates and features from a GGUF header, and the in-process
xllamacpp backend on the shipped SmolLM2-135M (greedy text, outputs ending with usage,
a full slot refusing, a closed stream freeing its slot)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

import pytest

from aimaas.engine.backends.llamacpp import (
    LlamaCppConfig,
    LlamaCppModel,
    estimate_memory_bytes,
    llama_features,
)
from aimaas.engine.gguf import GgufInfo, read_gguf
from aimaas.engine.types import (
    ALL_FEATURES,
    GenerationOutput,
    GenerationRequest,
    Message,
    SamplingParams,
    TextGenerator,
)
from aimaas.errors import Overloaded
from tests.engine.conftest import CONTEXT, settled

GREEDY = SamplingParams(temperature=0)
TOOLS_TEMPLATE = "{% if tools %}{{ tools | tojson }}{% endif %}{{ messages }}"


def info(**metadata: object) -> GgufInfo:
    return GgufInfo(
        version=3, tensor_count=1, metadata={"general.architecture": "llama", **metadata}
    )


def test_the_estimate_is_the_file_plus_an_f16_kv_cache_per_token() -> None:
    full = info(**{
        "llama.block_count": 30, "llama.attention.head_count": 9,
        "llama.attention.head_count_kv": 3, "llama.embedding_length": 576,
    })  # fmt: skip
    # 30 layers x (K and V) x 3 kv heads x 64 dims (576 / 9) x 2 bytes, per token
    assert estimate_memory_bytes(full, 1000, 512) == 1000 + 512 * 30 * 2 * 3 * 64 * 2
    with_key_length = info(**{
        "llama.block_count": 2, "llama.attention.head_count": 4,
        "llama.attention.key_length": 100, "llama.embedding_length": 64,
    })  # fmt: skip
    assert estimate_memory_bytes(with_key_length, 0, 10) == 10 * 2 * 2 * 4 * 100 * 2
    assert estimate_memory_bytes(info(), 1234, 4096) == 1234  # no layers known: the file
    odd = info(**{"llama.block_count": "30", "llama.attention.head_count": 0})
    assert estimate_memory_bytes(odd, 7, 4096) == 7  # values that are not counts: defaults


def test_memory_counts_every_slot_and_the_prompt_cache(smollm2_gguf: Path) -> None:
    header = read_gguf(smollm2_gguf)
    one = LlamaCppConfig(smollm2_gguf, context_length=512, parallel=1, threads=1, max_queue=0)
    size = smollm2_gguf.stat().st_size
    assert one.memory_bytes(header) == estimate_memory_bytes(header, size, 512)
    four = dataclasses.replace(one, parallel=4, prompt_cache_mb=8)
    assert four.memory_bytes(header) == estimate_memory_bytes(header, size, 2048) + 8 * 1024**2
    assert four.memory_bytes(header) > one.memory_bytes(header) + 8 * 1024**2


def test_tools_need_a_template_that_renders_them() -> None:
    plain = info(**{"tokenizer.chat_template": "{{ messages }}"})
    with_tools = info(**{"tokenizer.chat_template": TOOLS_TEMPLATE})
    assert llama_features(plain, None) == ALL_FEATURES - {"tools"}
    assert llama_features(with_tools, None) == ALL_FEATURES
    assert llama_features(plain, TOOLS_TEMPLATE) == ALL_FEATURES  # the override decides
    assert llama_features(with_tools, "{{ messages }}") == ALL_FEATURES - {"tools"}


def test_the_model_is_a_text_generator_with_its_header(smollm2: LlamaCppModel) -> None:
    assert isinstance(smollm2, TextGenerator)
    assert smollm2.context_length == CONTEXT
    assert smollm2.features == ALL_FEATURES - {"tools"}  # SmolLM2's template has no tools
    assert smollm2.memory_bytes == smollm2.config.memory_bytes(smollm2.info)
    assert smollm2.admission.capacity == 1 and not smollm2.busy


def collect(model: LlamaCppModel, request: GenerationRequest) -> list[GenerationOutput]:
    async def run() -> list[GenerationOutput]:
        outputs = [output async for output in model.stream(request)]
        await settled(model)
        return outputs

    return asyncio.run(run())


def test_a_greedy_completion_streams_text_then_ends_with_usage(smollm2: LlamaCppModel) -> None:
    request = GenerationRequest(
        "completions", prompts=("The capital of France is",), sampling=GREEDY, max_tokens=4
    )
    outputs = collect(smollm2, request)
    text = "".join(c.text for o in outputs for c in o.choices)
    assert "Paris" in text
    last = outputs[-1]
    assert last.usage is not None and last.usage.completion_tokens == 4
    assert 0 < last.usage.prompt_tokens < 10
    assert [c.finish_reason for o in outputs for c in o.choices if c.finish_reason] == ["length"]
    assert all(o.usage is None for o in outputs[:-1])
    assert last.busy_seconds is not None and last.busy_seconds > 0
    again = collect(smollm2, request)
    assert "".join(c.text for o in again for c in o.choices) == text


def test_a_stream_that_has_ended_has_left_its_slot(smollm2: LlamaCppModel) -> None:
    """With one slot and no queue, the request sent the moment a stream ends is served: the
    slot is left before the end is seen (it was once left a moment later, a race)."""
    request = GenerationRequest(
        "completions", prompts=("One, two,",), sampling=GREEDY, max_tokens=1
    )

    async def back_to_back() -> list[int]:
        seen = []
        for _ in range(20):
            async for _output in smollm2.stream(request):
                pass
            seen.append(smollm2.admission.in_flight)
        return seen

    assert asyncio.run(back_to_back()) == [0] * 20


def test_a_chat_answer_stops_at_a_stop_string(smollm2: LlamaCppModel) -> None:
    request = GenerationRequest(
        "chat",
        messages=(Message("system", "Answer in one word."), Message("user", "Capital of France?")),
        sampling=GREEDY,
        max_tokens=8,
    )
    outputs = collect(smollm2, request)
    text = "".join(c.text for o in outputs for c in o.choices)
    assert text and outputs[-1].usage is not None
    stop = text.strip()[-1]  # a character it writes: it must end before it
    stopped = collect(smollm2, dataclasses.replace(request, sampling=SamplingParams(
        temperature=0, stop=(stop,))))  # fmt: skip
    stopped_text = "".join(c.text for o in stopped for c in o.choices)
    assert stop not in stopped_text and text.startswith(stopped_text)
    assert [c.finish_reason for o in stopped for c in o.choices if c.finish_reason] == ["stop"]


def test_a_full_slot_refuses_and_a_closed_stream_frees_it(smollm2: LlamaCppModel) -> None:
    endless = GenerationRequest("completions", prompts=("Once upon a time",), sampling=GREEDY)

    async def scenario() -> int:
        async with contextlib.aclosing(smollm2.stream(endless)) as first:  # type: ignore[type-var]
            await anext(first)  # running: the one slot is taken
            assert smollm2.busy
            second = smollm2.stream(endless)
            with pytest.raises(Overloaded) as refused:
                await anext(second)
            assert "'smollm2'" in refused.value.message
        await settled(smollm2)  # closed: the sequence is aborted and leaves its slot
        in_flight = smollm2.admission.in_flight
        short = dataclasses.replace(endless, max_tokens=2)
        outputs = [output async for output in smollm2.stream(short)]
        assert outputs[-1].usage is not None and outputs[-1].usage.completion_tokens == 2
        await settled(smollm2)
        return in_flight

    assert asyncio.run(scenario()) == 0
    assert smollm2.admission.in_flight == 0 and not smollm2.busy
