"""GGUF models on llama.cpp's own server loop, embedded in-process through xllamacpp.

llama.cpp does the scheduling: continuous batching over ``parallel`` slots (one batched
forward pass per step for all running sequences), chunked prefill, prompt caching, chat
templates and grammar-constrained sampling. Each request runs as a blocking call on a worker
thread and streams its chunks back through a callback; returning True from the callback
aborts the sequence and frees its slot, which is how disconnects are handled.

xllamacpp also opens llama.cpp's HTTP listener on a random loopback port. It is locked with a
random key that never leaves this object, so it exposes nothing.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimaas.engine.admission import Admission
from aimaas.engine.backends.llama_json import output_of, request_body
from aimaas.engine.chat_templates import renders_tools
from aimaas.engine.gguf import GgufInfo, read_gguf
from aimaas.engine.types import ALL_FEATURES, Endpoint, GenerationOutput, GenerationRequest


@dataclass(frozen=True)
class LlamaCppConfig:
    path: Path
    context_length: int  # per sequence
    parallel: int
    threads: int
    max_queue: int
    # Host memory for llama.cpp's prompt cache: the KV state of recent prompts, restored
    # when a new request starts with the same tokens (0: off).
    prompt_cache_mb: int = 0
    chat_template: str | None = None  # replaces the one in the GGUF file
    # File descriptors the model's file needs (a memory-backed GGUF decrypted from the
    # store, ``path`` being /proc/self/fd/N): a child process inherits them.
    fds: tuple[int, ...] = ()

    def memory_bytes(self, info: GgufInfo) -> int:
        """What the model takes when loaded: weights, every slot's KV cache, prompt cache."""
        total_context = self.context_length * self.parallel
        kv = estimate_memory_bytes(info, self.path.stat().st_size, total_context)
        return kv + self.prompt_cache_mb * 1024 * 1024


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_END = object()


def estimate_memory_bytes(info: GgufInfo, file_size: int, total_context: int) -> int:
    """Weights plus an f16 KV cache for every slot's context."""

    def number(key: str, default: int) -> int:
        value = info.metadata.get(f"{info.architecture}.{key}")
        return value if isinstance(value, int) and value > 0 else default

    heads = number("attention.head_count", 1)
    head_dim = number("attention.key_length", (info.embedding_length or 0) // heads)
    kv_heads = number("attention.head_count_kv", heads)
    kv_bytes = total_context * number("block_count", 0) * 2 * kv_heads * head_dim * 2
    return file_size + kv_bytes


def llama_features(info: GgufInfo, chat_template: str | None) -> frozenset[str]:
    """llama.cpp honours every optional feature; tools need a template that renders them."""
    tools = renders_tools(chat_template) if chat_template else info.supports_tools
    return ALL_FEATURES if tools else ALL_FEATURES - {"tools"}


class GgufModel:
    """What both llama.cpp backends say of a loaded model: from its config and header."""

    config: LlamaCppConfig
    info: GgufInfo

    @property
    def context_length(self) -> int:
        return self.config.context_length

    @property
    def features(self) -> frozenset[str]:
        return llama_features(self.info, self.config.chat_template)


class LlamaCppModel(GgufModel):
    def __init__(self, name: str, config: LlamaCppConfig, *, log: bool = False) -> None:
        import xllamacpp

        self.name = name
        self.config = config
        self.info = read_gguf(config.path)
        params = xllamacpp.CommonParams()
        params.model.path = str(config.path)
        params.n_parallel = config.parallel
        params.n_ctx = config.context_length * config.parallel
        params.n_batch = max(512, config.context_length)
        threads = config.threads or os.cpu_count() or 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.api_keys = [secrets.token_urlsafe(32)]
        params.hostnames = ["127.0.0.1"]
        params.ui = False
        # Bounded (llama.cpp's default grows to 8 GiB) and counted in memory_bytes.
        params.cache_ram_mib = config.prompt_cache_mb
        params.swa_full = True  # as for llama-server: cached prompts reused whole
        if config.chat_template:
            params.chat_template = config.chat_template
        params.verbosity = 3 if log else 0
        self._server = xllamacpp.Server(params)
        self.admission = Admission(max_running=config.parallel, max_waiting=config.max_queue)
        self._executor = ThreadPoolExecutor(
            max_workers=self.admission.capacity, thread_name_prefix=f"llama-{name}"
        )
        self.memory_bytes = config.memory_bytes(self.info)

    @property
    def busy(self) -> bool:
        return self.admission.in_flight > 0

    def _handler(self, endpoint: Endpoint) -> Callable[..., Any]:
        if endpoint == "chat":
            return self._server.handle_chat_completions  # type: ignore[no-any-return]
        return self._server.handle_completions  # type: ignore[no-any-return]

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationOutput]:
        """Run one request and yield its outputs (``TextGenerator.stream``).

        Raises Overloaded when the model's queue is full. Closing the iterator early aborts
        the sequence at its next token; the slot counts as busy until then.
        """
        body = request_body(request)
        self.admission.enter(self.name)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        aborted = threading.Event()

        def put(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone (shutdown): just stop
                aborted.set()

        def on_chunk(chunk: Any) -> bool:
            put(chunk)
            return aborted.is_set()

        def run() -> None:
            try:
                self._handler(request.endpoint)(body, on_chunk)
            except BaseException as exc:  # reported to the awaiting coroutine
                put(_Failed(exc))
            finally:
                # One callback: the slot is free before the stream ends, so a request sent
                # the moment it ends finds it free.
                try:
                    loop.call_soon_threadsafe(finish)
                except RuntimeError:  # the event loop is gone: nothing else counts slots now
                    self.admission.leave()

        def finish() -> None:
            self.admission.leave()
            queue.put_nowait(_END)

        try:
            loop.run_in_executor(self._executor, run)
        except BaseException:
            self.admission.leave()
            raise
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, _Failed):
                    raise item.error
                assert isinstance(item, dict)
                yield output_of(item, request)
        finally:
            aborted.set()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        del self._server

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)
