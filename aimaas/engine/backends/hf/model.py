"""Hugging Face causal language models on PyTorch, with transformers' continuous batching.

A folder with ``config.json``, safetensors weights and tokenizer files is loaded once, and
``init_continuous_batching`` runs its generation loop on a background thread: every running
sequence advances in one batched forward pass per step over a paged KV cache, and new requests
join the running batch. Each request carries its own temperature, top-k and top-p (per-request
logits processors); ``temperature: 0`` is greedy (top-k 1).

At most ``parallel`` sequences are handed to the engine at once (the cache is sized for them);
the others wait here, in order. Text is detokenized incrementally, and stop strings are matched
across token boundaries before any text is sent, so a stop string never reaches the client.
Closing a stream cancels its sequence in the engine and frees its place at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimaas.cpu import this_cpu
from aimaas.engine.admission import Admission
from aimaas.engine.backends.hf.config import (
    MAX_BATCH_TOKENS,
    PAGE_SIZE,
    TransformersConfig,
    cache_blocks,
    kv_bytes_per_token,
    model_context,
    read_model_config,
    serving_dtype,
)
from aimaas.engine.backends.hf.requests import (
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_K,
    DEFAULT_TOP_P,
    chat_messages,
    completion_prompt,
    sampling_kwargs,
)
from aimaas.engine.backends.hf.text import TextStream
from aimaas.engine.context import check_prompt, room_for_output
from aimaas.engine.types import (
    ChoiceDelta,
    FinishReason,
    GenerationOutput,
    GenerationRequest,
    Usage,
)
from aimaas.errors import InvalidInput, Unavailable
from aimaas.process import torch_threads

_POLL_SECONDS = 1.0  # how often a waiting stream checks that the generation loop is alive


# --- The model --------------------------------------------------------------------------------


@dataclass
class _Sequence:
    """One request on its way through the engine."""

    request_id: str
    prompt_ids: list[int]
    max_new_tokens: int
    sampling: dict[str, Any]
    outputs: asyncio.Queue[Any]
    text: TextStream
    chat: bool
    started: float = 0.0  # when the engine scheduled it (perf_counter), 0 until then
    generated: int = 0
    finished: bool = False


class TransformersModel:
    def __init__(self, name: str, config: TransformersConfig) -> None:
        import torch

        self.name = name
        model_config = read_model_config(config.path)
        self.config = TransformersConfig(
            path=config.path,
            context_length=model_context(model_config, config.context_length),
            parallel=config.parallel,
            threads=config.threads,
            max_queue=config.max_queue,
            chat_template=config.chat_template,
        )
        self.dtype = serving_dtype(model_config, bf16_cpu=this_cpu().native_bf16)
        with torch_threads(config.threads):  # the model's own count (0: the process's)
            self.tokenizer, self.model = _load(config.path, getattr(torch, self.dtype))
        if config.chat_template:
            self.tokenizer.chat_template = config.chat_template
        self.vocab_size = int(self.model.config.get_text_config().vocab_size)
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        self.admission = Admission(max_running=config.parallel, max_waiting=config.max_queue)
        self._slots = asyncio.Semaphore(config.parallel)
        # One thread renders and tokenizes prompts: a fast tokenizer is not safe to share
        # between threads that encode at the same time.
        self._tokenize = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tok-{name}")
        with torch_threads(config.threads):  # and on the engine thread transformers starts
            self._engine = self._start_engine()
        weights = sum(p.numel() * p.element_size() for p in self.model.parameters())
        itemsize = 2 if self.dtype == "bfloat16" else 4
        cache_tokens = cache_blocks(self.config.context_length, config.parallel) * PAGE_SIZE
        self.memory_bytes = weights + cache_tokens * kv_bytes_per_token(model_config, itemsize)

    def _start_engine(self) -> Any:
        import torch
        from transformers import GenerationConfig
        from transformers.generation.configuration_utils import ContinuousBatchingConfig

        generation = GenerationConfig(  # type: ignore[no-untyped-call]
            do_sample=True,  # sampling processors exist; each request sets its own values
            temperature=DEFAULT_TEMPERATURE,
            top_k=DEFAULT_TOP_K,
            top_p=DEFAULT_TOP_P,
            eos_token_id=sorted(self.eos_ids) or None,
            pad_token_id=self.tokenizer.pad_token_id,
            max_new_tokens=self.config.context_length,
        )
        batching = ContinuousBatchingConfig(
            page_size=PAGE_SIZE,
            num_blocks=cache_blocks(self.config.context_length, self.config.parallel),
            max_batch_tokens=max(
                self.config.parallel, min(self.config.context_length, MAX_BATCH_TOKENS)
            ),
            max_requests_per_batch=self.config.parallel,
            per_request_processors=True,
        )
        engine = self.model.init_continuous_batching(
            generation_config=generation, continuous_batching_config=batching
        )
        _break_greedy_ties(engine)
        with torch.inference_mode():
            engine.start()
        _wait_started(engine, self.name)
        return engine

    @property
    def context_length(self) -> int:
        return self.config.context_length

    @property
    def features(self) -> frozenset[str]:
        return frozenset({"stop"})

    @property
    def busy(self) -> bool:
        return self.admission.in_flight > 0

    def _encode(self, request: GenerationRequest) -> list[int]:
        """The prompt's token ids (chat: through the model's chat template)."""
        from jinja2 import TemplateError

        try:
            if request.endpoint == "chat":
                text = self.tokenizer.apply_chat_template(
                    chat_messages(request), tokenize=False, add_generation_prompt=True
                )
                ids = self.tokenizer(str(text), add_special_tokens=False)["input_ids"]
            else:
                ids = self.tokenizer(completion_prompt(request))["input_ids"]
        except TemplateError as exc:
            raise InvalidInput(f"The model's chat template refused the messages: {exc}") from exc
        if not ids:
            raise InvalidInput("The prompt is empty.")
        return [int(i) for i in ids]

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationOutput]:
        """``TextGenerator.stream``. Raises Overloaded when the model's queue is full.
        Closing the iterator early cancels the sequence and frees its place at once."""
        self.admission.enter(self.name)
        try:
            loop = asyncio.get_running_loop()
            prompt_ids = await loop.run_in_executor(self._tokenize, self._encode, request)
            check_prompt(request, len(prompt_ids), self.context_length)
            async with self._slots:
                sequence = self._sequence(request, prompt_ids)
                try:
                    async with contextlib.aclosing(self._generate(sequence)) as outputs:
                        async for output in outputs:
                            yield output
                finally:
                    if not sequence.finished:
                        self._cancel(sequence.request_id)
        finally:
            self.admission.leave()

    def _sequence(self, request: GenerationRequest, prompt_ids: list[int]) -> _Sequence:
        return _Sequence(
            request_id=f"{self.name}-{uuid.uuid4().hex}",
            prompt_ids=prompt_ids,
            max_new_tokens=room_for_output(request, len(prompt_ids), self.context_length),
            sampling=sampling_kwargs(request.sampling, self.vocab_size),
            outputs=asyncio.Queue(),
            text=TextStream(self._decode, [s for s in request.sampling.stop if s]),
            chat=request.endpoint == "chat",
        )

    async def _generate(self, seq: _Sequence) -> AsyncGenerator[GenerationOutput, None]:
        self._engine.register_result_handler(seq.request_id, seq.outputs.put_nowait)
        submitted = self._engine.add_request(
            seq.prompt_ids,
            request_id=seq.request_id,
            max_new_tokens=seq.max_new_tokens,
            streaming=True,
            **seq.sampling,
        )
        if submitted is None:
            raise Unavailable(f"The generation loop of '{self.name}' is not running.")
        first = True
        while True:
            output = await next_output(seq.outputs, alive=self._engine.is_running, name=self.name)
            if output.error is not None or output.status.name == "FAILED":
                seq.finished = True
                raise Unavailable(f"The model failed: {output.error}")
            if first and seq.chat:  # the stream opens as soon as the engine runs it
                yield GenerationOutput(choices=(ChoiceDelta(index=0),))
            first = False
            for out in self._advance(seq, output):
                yield out
            if seq.finished or seq.text.stopped:
                return

    def _advance(self, seq: _Sequence, output: Any) -> list[GenerationOutput]:
        """What one engine output adds: new text, and the end if it ended."""
        if output.lifespan[0] > 0:
            seq.started = float(output.lifespan[0])
        tokens = [int(t) for t in output.generated_tokens]
        new, seq.generated = tokens[seq.generated :], len(tokens)
        seq.finished = bool(output.is_finished())
        delta = seq.text.push(new)
        if not (seq.finished or seq.text.stopped):
            return [_text(delta)] if delta else []
        reason: FinishReason
        if seq.text.stopped:
            reason = "stop"
        else:
            delta += seq.text.finish()
            reason = "stop" if seq.text.stopped or _ends_with(tokens, self.eos_ids) else "length"
        busy = time.perf_counter() - seq.started if seq.started else 0.0
        return [
            *([_text(delta)] if delta else []),
            GenerationOutput(
                choices=(ChoiceDelta(index=0, finish_reason=reason),), busy_seconds=busy
            ),
            GenerationOutput(usage=Usage(len(seq.prompt_ids), seq.generated)),
        ]

    def _cancel(self, request_id: str) -> None:
        """Drop a sequence from the engine, and its result handler (the engine only drops
        handlers of sequences that finish)."""
        self._engine.cancel_request(request_id)
        router = self._engine.output_router
        with router._lock:
            router.result_handlers.pop(request_id, None)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._engine.stop(block=True, timeout=30, hard_stop=True)
        self._engine = None
        self.model = None
        self._tokenize.shutdown(wait=True, cancel_futures=True)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)


def _text(delta: str) -> GenerationOutput:
    return GenerationOutput(choices=(ChoiceDelta(index=0, text=delta),))


def _break_greedy_ties(engine: Any) -> None:
    """Make top-k 1 (greedy) keep one token: the engine's top-k keeps every token tied for the
    highest score and then samples among them, which in bfloat16, where ties are common, made
    greedy outputs vary from run to run. The first of the tied tokens is kept, as argmax does."""
    import torch
    from transformers.generation.continuous_batching.cb_logits_processors import (
        ContinuousBatchingTopKLogitsWarper,
    )
    from transformers.generation.logits_process import TopKLogitsWarper

    class FirstOfTies(ContinuousBatchingTopKLogitsWarper):
        def __call__(self, scores: torch.Tensor, tensor_arg: torch.Tensor) -> torch.Tensor:
            scores = super().__call__(scores, tensor_arg)
            greedy = (tensor_arg[: scores.size(0)] == 1).unsqueeze(-1)
            first = torch.zeros_like(scores, dtype=torch.bool)
            first.scatter_(-1, scores.argmax(dim=-1, keepdim=True), True)
            return scores.masked_fill(greedy & ~first, self.filter_value)

    processors = engine.logit_processor.logits_processor
    for index, processor in enumerate(processors):
        if type(processor) is ContinuousBatchingTopKLogitsWarper:
            warper = TopKLogitsWarper(
                top_k=processor.top_k,
                filter_value=processor.filter_value,
                min_tokens_to_keep=processor.min_tokens_to_keep,
            )
            processors[index] = FirstOfTies(warper)


def _wait_started(engine: Any, name: str, timeout: float = 120) -> None:
    """Block until the generation loop has built its KV cache, so a loop that cannot start
    fails the load instead of every request."""
    deadline = time.monotonic() + timeout
    while engine.batch_processor is None and time.monotonic() < deadline:
        error = engine.background_thread_status.fatal_error
        if error is not None or not engine.is_running():
            with contextlib.suppress(Exception):
                engine.stop(block=True, timeout=10, hard_stop=True)
            raise Unavailable(f"The generation loop of '{name}' did not start: {error}")
        time.sleep(0.01)
    if engine.batch_processor is None:
        raise Unavailable(f"The generation loop of '{name}' did not start in {timeout:.0f}s.")


def _ends_with(tokens: list[int], eos_ids: frozenset[int]) -> bool:
    return bool(tokens) and tokens[-1] in eos_ids


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(int(v) for v in value)
    return frozenset(ids)


def _load(path: Path, dtype: Any) -> tuple[Any, Any]:
    """Tokenizer and model from local files only; weights only from safetensors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False)
    options: dict[str, Any] = {"dtype": dtype, "use_safetensors": True, "trust_remote_code": False}
    try:
        model = AutoModelForCausalLM.from_pretrained(
            path, local_files_only=True, attn_implementation="sdpa", **options
        )
    except ValueError:  # an architecture without SDPA: the engine pages eager attention
        model = AutoModelForCausalLM.from_pretrained(
            path, local_files_only=True, attn_implementation="eager", **options
        )
    return tokenizer, model.eval()  # type: ignore[no-untyped-call]


async def next_output(
    outputs: asyncio.Queue[Any],
    *,
    alive: Callable[[], bool],
    name: str,
    poll_seconds: float = _POLL_SECONDS,
) -> Any:
    """The engine's next output for a sequence, checking every ``poll_seconds`` that its
    generation loop still runs (Unavailable if not)."""
    while True:
        try:
            # Not asyncio.wait_for: on Python 3.11 it loses a cancellation (a client that went
            # away) that comes as the queue hands over an output (cpython#86296), and the
            # sequence then runs to its end.
            async with asyncio.timeout(poll_seconds):
                return await outputs.get()
        except TimeoutError:
            if not alive():
                raise Unavailable(
                    f"The generation loop of '{name}' stopped; retry shortly."
                ) from None
