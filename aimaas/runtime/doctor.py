"""What runs here, tried for real: the CPU's features, whether the native llama-server
passes its check, and each default model loaded on the backend aimaas would pick and asked
to answer. ``aimaas doctor`` prints it; anything broken is named."""

from __future__ import annotations

import time
from dataclasses import dataclass

from aimaas.config import Settings
from aimaas.cpu import Cpu, this_cpu
from aimaas.engine.backends.llama_server import LlamaServerModel
from aimaas.engine.backends.llamacpp import LlamaCppModel
from aimaas.engine.generated_text import generated_text
from aimaas.engine.native import NativeEngine
from aimaas.engine.types import GenerationRequest, Message, SamplingParams, TextGenerator
from aimaas.errors import AimaasError
from aimaas.registry.repository import SharedModel
from aimaas.runtime.defaults import DEFAULT_MODELS, check_model
from aimaas.runtime.embeddings import Embedder, SentenceEmbedder
from aimaas.runtime.manager import ModelManager
from aimaas.runtime.sources import source_available
from aimaas.runtime.specs import FORMAT_RUNTIMES, ModelSpec

QUESTION = "What is the capital of France? Answer with one word."


@dataclass(frozen=True)
class ModelCheck:
    name: str
    backend: str  # llama-server, xllamacpp, sentence-transformers, ...
    why: str
    ok: bool
    answer: str  # what it generated, or the error
    seconds: float


@dataclass(frozen=True)
class Diagnosis:
    cpu: Cpu
    llama_server: str  # path and state
    llama_server_ok: bool  # False only for a binary that exists and failed
    models: tuple[ModelCheck, ...]

    @property
    def broken(self) -> list[str]:
        names = [] if self.llama_server_ok else ["llama-server"]
        return names + [m.name for m in self.models if not m.ok]


def _spec(model: SharedModel) -> ModelSpec:
    return ModelSpec(
        version_id=f"doctor-{model.name}",
        name=model.name,
        runtime=FORMAT_RUNTIMES[model.format],
        capabilities=frozenset(model.details["capabilities"]),
        source=model.details["source"],
    )


async def diagnose(settings: Settings, *, only: list[str] | None = None) -> Diagnosis:
    native = NativeEngine(
        settings.llama_server_path,
        check_model=check_model(),
        required=settings.engine.gguf_backend == "llama-server",
    )
    native.start_check()
    await native.binary()  # the check's verdict, before any model
    native_ok = native.state != "broken"
    where = str(native.path) if native.path else "-"
    summary = f"{where}: {native.reason}"
    checks = []
    manager = ModelManager(settings.engine, settings.storage.data_dir, native=native)
    try:
        for model in DEFAULT_MODELS:
            if only and model.name not in only:
                continue
            checks.append(await _check_model(manager, model))
    finally:
        await manager.close()
    return Diagnosis(this_cpu(), summary, native_ok, tuple(checks))


async def _check_model(manager: ModelManager, model: SharedModel) -> ModelCheck:
    spec = _spec(model)
    started = time.perf_counter()
    if not source_available(spec.source):
        return ModelCheck(spec.name, "-", "its package is not installed", False, "", 0.0)
    backend: str = spec.runtime
    why = "its format"
    try:
        async with manager.use(spec) as loaded:
            if isinstance(loaded, LlamaServerModel):
                backend, why = "llama-server", manager.native.reason
            elif isinstance(loaded, LlamaCppModel):
                backend, why = "xllamacpp", f"llama-server {manager.native.reason}"
            elif isinstance(loaded, SentenceEmbedder):
                backend, why = loaded.backend, loaded.why
            answer = await _try(spec, loaded)
        ok = bool(answer.strip())
    except AimaasError as exc:
        answer, ok = exc.message, False
    await manager.close()  # one model in memory at a time
    return ModelCheck(spec.name, backend, why, ok, answer, time.perf_counter() - started)


async def _try(spec: ModelSpec, model: object) -> str:
    if isinstance(model, TextGenerator):
        greedy = SamplingParams(temperature=0)
        if "chat" in spec.capabilities:
            request = GenerationRequest(
                "chat", messages=(Message("user", QUESTION),), sampling=greedy, max_tokens=8
            )
        else:
            prompts = ("The capital of France is",)
            request = GenerationRequest(
                "completions", prompts=prompts, sampling=greedy, max_tokens=8
            )
        return (await generated_text(model, request)).strip()
    if isinstance(model, Embedder):
        vectors, _ = await model.embed(["The capital of France is Paris."])
        return f"{len(vectors[0])} dimensions"
    return "loaded"
