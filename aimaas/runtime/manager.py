"""Loads models on first use and unloads the least recently used ones to stay within the
memory budget, never while a request is using them; idle models go after keep-alive."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from starlette.concurrency import run_in_threadpool

from aimaas.config import EngineSettings
from aimaas.engine.backends import hf
from aimaas.engine.backends.llama_server import LlamaServerModel
from aimaas.engine.backends.llamacpp import LlamaCppConfig, LlamaCppModel
from aimaas.engine.gguf import read_gguf
from aimaas.engine.native import NativeEngine
from aimaas.errors import EngineDied, Overloaded, Unavailable
from aimaas.observability.metrics import EngineMetrics, PredictMetrics
from aimaas.registry.formats import weights_file
from aimaas.registry.store import ArtifactStore, LocalFile, Owner, PlainStore
from aimaas.runtime.embeddings import SentenceEmbedder
from aimaas.runtime.sources import resolve_source
from aimaas.runtime.specs import ModelSpec
from aimaas.runtime.tensor_models import TensorModel

log = logging.getLogger("aimaas.models")


class LoadedModel(Protocol):
    name: str
    memory_bytes: int

    @property
    def busy(self) -> bool: ...

    async def aclose(self) -> None: ...


@dataclass
class _Loaded:
    spec: ModelSpec
    model: LoadedModel
    local: LocalFile | None = None  # its artifact, held open while it is loaded
    leases: int = 0
    last_used: float = field(default_factory=time.monotonic)

    @property
    def idle(self) -> bool:
        return self.leases == 0 and not self.model.busy


class ModelManager:
    def __init__(
        self,
        settings: EngineSettings,
        data_dir: Path,
        *,
        store: ArtifactStore | None = None,
        native: NativeEngine | None = None,
        predict_metrics: PredictMetrics | None = None,
        engine_metrics: EngineMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.native = native or NativeEngine(None, check_model=None)
        self.engine_metrics = engine_metrics
        self.data_dir = data_dir
        self.store = store or PlainStore(data_dir / "artifacts")
        self.predict_metrics = predict_metrics
        self.budget_bytes = settings.model_memory_mb * 1024 * 1024
        self._loaded: dict[str, _Loaded] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._reaper: asyncio.Task[None] | None = None

    @property
    def loaded(self) -> dict[str, LoadedModel]:
        return {entry.spec.name: entry.model for entry in self._loaded.values()}

    def used_bytes(self) -> int:
        return sum(entry.model.memory_bytes for entry in self._loaded.values())

    @asynccontextmanager
    async def use(self, spec: ModelSpec) -> AsyncIterator[LoadedModel]:
        """The loaded model for ``spec``, kept loaded until the block ends."""
        entry = await self._ensure_loaded(spec)
        entry.leases += 1
        entry.last_used = time.monotonic()
        try:
            yield entry.model
        finally:
            entry.leases -= 1
            entry.last_used = time.monotonic()

    async def _ensure_loaded(self, spec: ModelSpec) -> _Loaded:
        entry = self._loaded.get(spec.version_id)
        if entry is not None and not _exited(entry.model):
            return entry
        lock = self._locks.setdefault(spec.version_id, asyncio.Lock())
        async with lock:
            entry = self._loaded.get(spec.version_id)
            if entry is not None and _exited(entry.model):
                await self._drop_dead(entry)
                entry = None
            if entry is None:
                local = await run_in_threadpool(self._open_artifact, spec)
                try:
                    estimate = await run_in_threadpool(self._estimate_bytes, spec, local)
                    await self._make_room(estimate, spec.name)
                    started = time.perf_counter()
                    model = await self._load(spec, local)
                except BaseException:
                    if local is not None:
                        local.close()
                    raise
                log.info("loaded %s in %.2fs", spec.name, time.perf_counter() - started)
                entry = _Loaded(spec, model, local)
                self._loaded[spec.version_id] = entry
                self._start_reaper()
            return entry

    @staticmethod
    def _owner(spec: ModelSpec) -> Owner:
        return Owner.model(spec.tenant_id, spec.name, spec.version_id, spec.version)

    def _open_artifact(self, spec: ModelSpec) -> LocalFile | None:
        """A model file kept in the artifact store (an uploaded GGUF), as a readable path:
        encrypted at rest, a memory-backed file, never decrypted to disk."""
        digest = spec.source.get("artifact")
        return None if digest is None else self.store.open(str(digest), self._owner(spec))

    def _path(self, spec: ModelSpec, local: LocalFile | None) -> Path:
        if local is not None:
            return local.path
        return resolve_source(spec.source, data_dir=self.data_dir)

    def _estimate_bytes(self, spec: ModelSpec, local: LocalFile | None = None) -> int:
        if spec.runtime == "torch":
            files = spec.source["files"]
            weights = files[weights_file(files)]
            return 2 * self.store.size(weights, self._owner(spec)) + 16 * 1024 * 1024
        path = self._path(spec, local)
        if spec.runtime == "llama.cpp":
            return self._llama_config(spec, path, local).memory_bytes(read_gguf(path))
        if spec.runtime == "transformers":
            config = self._transformers_config(spec, path)
            return hf.estimate_memory_bytes(path, config.context_length, config.parallel)
        return sum(f.stat().st_size for f in path.rglob("*.safetensors")) * 2

    def _llama_config(
        self, spec: ModelSpec, path: Path, local: LocalFile | None = None
    ) -> LlamaCppConfig:
        options, engine = spec.options, self.settings
        return LlamaCppConfig(
            path=path,
            fds=local.fds if local is not None else (),
            context_length=options.context_length or engine.context_length,
            parallel=options.parallel or engine.parallel,
            threads=options.threads or engine.threads,
            max_queue=engine.max_queue if options.max_queue is None else options.max_queue,
            prompt_cache_mb=engine.prompt_cache_mb,
            chat_template=options.chat_template,
        )

    def _transformers_config(self, spec: ModelSpec, path: Path) -> hf.TransformersConfig:
        llama = self._llama_config(spec, path)  # the same options, the same defaults
        return hf.TransformersConfig(
            path=path,
            context_length=llama.context_length,
            parallel=llama.parallel,
            threads=llama.threads,
            max_queue=llama.max_queue,
            chat_template=llama.chat_template,
        )

    async def _load(self, spec: ModelSpec, local: LocalFile | None = None) -> LoadedModel:
        if spec.runtime == "torch":
            return await run_in_threadpool(
                TensorModel.from_store,
                spec.name,
                self.store,
                spec.source["files"],
                self._owner(spec),
                max_batch=self.settings.predict_max_batch,
                max_delay=self.settings.predict_max_delay_ms / 1000,
                metrics=self.predict_metrics,
            )
        path = await run_in_threadpool(self._path, spec, local)
        if spec.runtime == "llama.cpp":
            return await self._load_gguf(spec, self._llama_config(spec, path, local))
        if spec.runtime == "transformers":
            options = self._transformers_config(spec, path)
            return await run_in_threadpool(hf.TransformersModel, spec.name, options)
        return await run_in_threadpool(
            SentenceEmbedder,
            spec.name,
            path,
            max_batch=self.settings.embedding_max_batch,
            max_delay=self.settings.embedding_max_delay_ms / 1000,
            threads=spec.options.threads or self.settings.threads,
            backends=(
                "auto"
                if self.settings.embedding_backend == "auto"
                else (self.settings.embedding_backend,)
            ),
        )

    async def _load_gguf(self, spec: ModelSpec, config: LlamaCppConfig) -> LoadedModel:
        """On llama-server where its binary has proven itself, else (or when its child dies
        while starting) on xllamacpp; a model that fails on both is a 503 naming why."""
        log_llama = self.settings.llama_log
        native_failure = None
        binary = await self.native.binary()
        if binary is not None:
            try:
                # Started from the event loop's thread: the child's parent-death signal
                # follows the thread that forked it, and this one lives as long as the server.
                return await LlamaServerModel.start(spec.name, config, binary=binary, log=log_llama)
            except EngineDied as died:
                self.native.died(spec.name, died, when="died_starting")
                if self.native.required:
                    raise
                native_failure = died.message
        if self.native.fallback_cause is not None and self.engine_metrics is not None:
            self.engine_metrics.fallbacks.labels(spec.name, self.native.fallback_cause).inc()
        try:
            return await run_in_threadpool(LlamaCppModel, spec.name, config, log=log_llama)
        except Exception as exc:
            log.exception("xllamacpp could not load %s", spec.name)
            before = f"{native_failure} " if native_failure else ""
            raise Unavailable(
                f"Model '{spec.name}' could not be loaded on any backend: {before}"
                f"xllamacpp failed ({type(exc).__name__}: {str(exc)[:200]})."
            ) from exc

    async def _drop_dead(self, entry: _Loaded) -> None:
        """A model whose engine child died while serving: unload it, and say how it died;
        the next load runs it on the fallback."""
        model = entry.model
        assert isinstance(model, LlamaServerModel)
        died = await model.death("while serving")
        self.native.died(entry.spec.name, died, when="died_serving")
        await self._unload(entry)

    async def _make_room(self, needed: int, name: str) -> None:
        while self.used_bytes() + needed > self.budget_bytes and self._loaded:
            idle = [e for e in self._loaded.values() if e.idle]
            if not idle:
                raise Overloaded(
                    f"Not enough model memory to load '{name}' while the loaded models are "
                    "busy; retry shortly, or raise AIMAAS_MODEL_MEMORY_MB.",
                    retry_after=5,
                )
            await self._unload(min(idle, key=lambda e: e.last_used))

    async def _unload(self, entry: _Loaded) -> None:
        self._loaded.pop(entry.spec.version_id, None)
        try:
            await entry.model.aclose()
        finally:
            if entry.local is not None:
                entry.local.close()
        log.info("unloaded %s", entry.spec.name)

    def _keep_alive(self, entry: _Loaded) -> float:
        value = entry.spec.options.keep_alive_seconds
        return self.settings.keep_alive_seconds if value is None else value

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap_idle())

    async def _reap_idle(self) -> None:
        while self._loaded:
            keeps = [k for k in map(self._keep_alive, self._loaded.values()) if k > 0]
            await asyncio.sleep(min([5.0, *(k / 2 for k in keeps)]))
            now = time.monotonic()
            for entry in list(self._loaded.values()):
                keep = self._keep_alive(entry)
                if keep > 0 and entry.idle and now - entry.last_used > keep:
                    await self._unload(entry)

    async def close(self) -> None:
        await self.native.aclose()
        if self._reaper is not None:
            self._reaper.cancel()
        for entry in list(self._loaded.values()):
            await self._unload(entry)


def _exited(model: LoadedModel) -> bool:
    """A model whose engine child process has ended (it died: closed ones are unloaded)."""
    return isinstance(model, LlamaServerModel) and model.exited
