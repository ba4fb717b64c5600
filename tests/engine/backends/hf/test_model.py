"""hf/model.py: the transformers backend in process, on a tiny random Llama built here
(greedy text, stop strings, outputs ending with usage, refusals, a full slot, a closed
stream freeing its place), and its wait for the engine's next output."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from aimaas.engine.backends.hf import (
    TransformersConfig,
    TransformersModel,
    estimate_memory_bytes,
    model,
)
from aimaas.engine.types import (
    GenerationOutput,
    GenerationRequest,
    Message,
    SamplingParams,
    TextGenerator,
)
from aimaas.errors import ContextExceeded, InvalidInput, Overloaded, Unavailable
from tests.e2e.test_transformers_backend import CONTEXT, WORDS, build_tiny_llama

GREEDY = SamplingParams(temperature=0)
PROMPT = GenerationRequest("completions", prompts=("the quick brown fox",), sampling=GREEDY)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-llama")
    build_tiny_llama(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tiny_folder: Path) -> Iterator[TransformersModel]:
    config = TransformersConfig(tiny_folder, context_length=4096, parallel=1, threads=1,
                                max_queue=0)  # fmt: skip
    loaded = TransformersModel("tiny", config)
    yield loaded
    loaded.close()


def collect(generator: TransformersModel, request: GenerationRequest) -> list[GenerationOutput]:
    async def run() -> list[GenerationOutput]:
        return [output async for output in generator.stream(request)]

    return asyncio.run(run())


def text_of(outputs: list[GenerationOutput]) -> str:
    return "".join(choice.text for output in outputs for choice in output.choices)


def finishes(outputs: list[GenerationOutput]) -> list[str]:
    return [c.finish_reason for o in outputs for c in o.choices if c.finish_reason]


def test_the_model_serves_within_its_position_embeddings(
    tiny: TransformersModel, tiny_folder: Path
) -> None:
    assert isinstance(tiny, TextGenerator)
    assert tiny.context_length == CONTEXT  # 4096 asked, 1024 positions
    assert tiny.features == {"stop"} and tiny.dtype == "float32"
    assert tiny.eos_ids == {tiny.tokenizer.eos_token_id}
    # The estimate made before loading counts the file (its header too): within 1 %.
    estimate = estimate_memory_bytes(tiny_folder, 4096, 1)
    assert abs(estimate - tiny.memory_bytes) <= 0.01 * tiny.memory_bytes


def test_a_greedy_completion_is_the_same_each_time_and_ends_with_usage(
    tiny: TransformersModel,
) -> None:
    request = dataclasses.replace(PROMPT, max_tokens=6)
    outputs = collect(tiny, request)
    text = text_of(outputs)
    assert text and set(text.replace(" ", "")) <= set("".join(WORDS) + ".,!?")
    assert finishes(outputs) == ["length"]
    last = outputs[-1]
    assert last.usage is not None and last.usage.completion_tokens == 6
    assert last.usage.prompt_tokens == len(tiny.tokenizer(PROMPT.prompts[0])["input_ids"])
    assert outputs[-2].busy_seconds is not None and outputs[-2].busy_seconds >= 0
    assert text_of(collect(tiny, request)) == text
    assert tiny.admission.in_flight == 0


def test_a_stop_string_ends_the_text_before_it(tiny: TransformersModel) -> None:
    full = text_of(collect(tiny, dataclasses.replace(PROMPT, max_tokens=12)))
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    assert stop.strip()
    sampling = dataclasses.replace(GREEDY, stop=(stop,))
    outputs = collect(tiny, dataclasses.replace(PROMPT, max_tokens=12, sampling=sampling))
    text = text_of(outputs)
    assert stop not in text and full.startswith(text) and full[len(text) :].startswith(stop)
    assert finishes(outputs) == ["stop"]


def test_a_chat_opens_its_stream_then_answers(tiny: TransformersModel) -> None:
    request = GenerationRequest(
        "chat", messages=(Message("user", "tell me a story"),), sampling=GREEDY, max_tokens=4
    )
    outputs = collect(tiny, request)
    first = outputs[0].choices[0]
    assert (first.index, first.text, first.finish_reason) == (0, "", None)
    assert text_of(outputs) and finishes(outputs) == ["length"]
    templated = tiny.tokenizer.apply_chat_template(
        [{"role": "user", "content": "tell me a story"}], tokenize=False, add_generation_prompt=True
    )
    assert str(templated).startswith("<s><|user|>tell me a story")  # the model's own template
    prompt_ids = tiny.tokenizer(str(templated), add_special_tokens=False)["input_ids"]
    assert outputs[-1].usage is not None
    assert outputs[-1].usage.prompt_tokens == len(prompt_ids)


def test_what_does_not_fit_is_refused_before_the_engine(tiny: TransformersModel) -> None:
    two = GenerationRequest("completions", prompts=("a", "b"))
    with pytest.raises(InvalidInput, match="one prompt per request"):
        collect(tiny, two)
    long = GenerationRequest("completions", prompts=(" ".join(WORDS * 60),))
    with pytest.raises(ContextExceeded) as exceeded:
        collect(tiny, long)
    assert exceeded.value.param == "prompt" and exceeded.value.context_length == CONTEXT
    assert exceeded.value.prompt_tokens is not None and exceeded.value.prompt_tokens > CONTEXT
    assert tiny.admission.in_flight == 0


def test_a_full_slot_refuses_and_a_closed_stream_frees_its_place(tiny: TransformersModel) -> None:
    async def scenario() -> list[GenerationOutput]:
        async with contextlib.aclosing(tiny.stream(PROMPT)) as first:  # type: ignore[type-var]
            await anext(first)
            with pytest.raises(Overloaded, match="'tiny'"):
                await anext(tiny.stream(PROMPT))
        assert tiny.admission.in_flight == 0  # left as the stream closed
        return [output async for output in tiny.stream(dataclasses.replace(PROMPT, max_tokens=2))]

    outputs = asyncio.run(scenario())
    assert outputs[-1].usage is not None and outputs[-1].usage.completion_tokens == 2


def test_a_template_that_refuses_the_messages_is_invalid_input(tiny_folder: Path) -> None:
    refusing = "{{ raise_exception('this model takes no system messages') }}"
    config = TransformersConfig(tiny_folder, context_length=64, parallel=1, threads=1,
                                max_queue=0, chat_template=refusing)  # fmt: skip
    strict = TransformersModel("strict", config)
    try:
        request = GenerationRequest("chat", messages=(Message("system", "Be brief."),))
        with pytest.raises(InvalidInput, match="no system messages") as refused:
            collect(strict, request)
        assert refused.value.message.startswith("The model's chat template refused the messages")
        assert strict.context_length == 64
    finally:
        strict.close()


def test_a_cancel_that_meets_a_ready_output_is_not_lost() -> None:
    """A client that goes away just as a token is handed over still cancels its sequence.
    (asyncio.wait_for on Python 3.11 returned the token and dropped the cancellation.)"""

    async def cancelled_while_an_output_is_ready() -> object:
        outputs: asyncio.Queue[object] = asyncio.Queue()
        outputs.put_nowait("token")
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        return await model.next_output(outputs, alive=lambda: True, name="m")

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancelled_while_an_output_is_ready())


def test_an_output_is_returned_and_a_dead_engine_is_unavailable() -> None:
    async def scenario() -> object:
        outputs: asyncio.Queue[object] = asyncio.Queue()
        outputs.put_nowait("token")
        first = await model.next_output(outputs, alive=lambda: True, name="m")
        with pytest.raises(Unavailable, match="generation loop of 'm' stopped"):
            await model.next_output(outputs, alive=lambda: False, name="m", poll_seconds=0.01)
        return first

    assert asyncio.run(scenario()) == "token"
