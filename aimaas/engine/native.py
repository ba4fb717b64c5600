"""Whether GGUF models run on the native llama-server here: proven before it is trusted.

A binary compiled for one CPU can die on another (ggml's AMX kernels did, with SIGSEGV while
loading any model). So the binary is checked once per process start, off the request path:
it loads a small shipped GGUF and generates a few tokens. The first GGUF model to load waits
for that check. If the check fails, or a llama-server child later dies while starting or
serving, the binary is set aside for the rest of the process and GGUF models run on the
in-process xllamacpp backend, which works on every x86-64 CPU.

``python -m aimaas.engine.native BINARY [GGUF]`` runs the same check: the build script uses
it to install only a binary that passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aimaas.engine.backends.llama_server import LlamaServerModel
from aimaas.engine.backends.llamacpp import LlamaCppConfig
from aimaas.engine.generated_text import generated_text
from aimaas.engine.types import GenerationRequest, SamplingParams
from aimaas.errors import AimaasError, EngineDied

log = logging.getLogger("aimaas.engine")

CHECK_TOKENS = 4
CHECK_TIMEOUT = 120.0
CHECK_PROMPT = "The capital of France is"

State = Literal["absent", "checking", "ok", "broken", "unchecked"]
# Why GGUF models run on the fallback: the label of aimaas_engine_fallbacks_total.
FallbackCause = Literal["check_failed", "died_starting", "died_serving"]


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str  # 'generated 4 tokens in 0.31 s' or how it died, with its last stderr lines
    seconds: float


async def check_binary(binary: Path, gguf: Path, *, timeout: float = CHECK_TIMEOUT) -> CheckResult:
    """Start ``binary`` on ``gguf``, generate a few tokens, stop it."""
    started = time.perf_counter()
    config = LlamaCppConfig(path=gguf, context_length=256, parallel=1, threads=0, max_queue=0)
    try:
        model = await LlamaServerModel.start("native-check", config, binary=binary, timeout=timeout)
    except EngineDied as died:
        return CheckResult(False, f"{died.message} Last stderr: {died.stderr}", _since(started))
    except (AimaasError, OSError) as exc:
        return CheckResult(False, str(exc), _since(started))
    try:
        request = GenerationRequest(
            "completions",
            prompts=(CHECK_PROMPT,),
            sampling=SamplingParams(temperature=0),
            max_tokens=CHECK_TOKENS,
        )
        text = await generated_text(model, request)
    except EngineDied as died:
        return CheckResult(False, f"{died.message} Last stderr: {died.stderr}", _since(started))
    except AimaasError as exc:
        return CheckResult(False, exc.message, _since(started))
    finally:
        await model.aclose()
    if not text:
        return CheckResult(False, "it generated no text", _since(started))
    seconds = _since(started)
    return CheckResult(True, f"loaded and generated {text!r} in {seconds:.2f} s", seconds)


def _since(started: float) -> float:
    return time.perf_counter() - started


class NativeEngine:
    """The llama-server binary GGUF models may run on, and whether it has proven itself.

    ``required`` (AIMAAS_ENGINE__GGUF_BACKEND=llama-server): no fallback, a failure is the
    answer. Otherwise (``auto``) a failing binary is set aside and models use xllamacpp."""

    def __init__(
        self, binary: Path | None, *, check_model: Path | None, required: bool = False
    ) -> None:
        self.path = binary
        self.required = required
        self._check_model = check_model
        self.state: State = "absent" if binary is None else "unchecked"
        self.reason = "no llama-server binary is built" if binary is None else "not checked"
        self.fallback_cause: FallbackCause | None = None
        self._check: asyncio.Task[None] | None = None

    def start_check(self) -> None:
        """Begin the check in the background (call from the event loop, at start-up)."""
        if self.path is None or self._check_model is None or self._check is not None:
            return
        self.state = "checking"
        self._check = asyncio.create_task(self._run_check(self.path, self._check_model))

    async def _run_check(self, binary: Path, gguf: Path) -> None:
        result = await check_binary(binary, gguf)
        if result.ok:
            self.state, self.reason = "ok", f"passed its check: {result.detail}"
            log.info("llama-server %s %s", binary, self.reason)
        else:
            self._set_aside(f"failed its check: {result.detail}", "check_failed")

    async def binary(self) -> Path | None:
        """The binary to start a model on, once its check is done; None: use xllamacpp."""
        if self._check is not None:
            await asyncio.shield(self._check)
        if self.required or self.state in ("ok", "unchecked"):
            return self.path
        return None

    def died(self, model: str, died: EngineDied, *, when: FallbackCause) -> None:
        """A child died: say how, and use the fallback for the rest of this process."""
        log.error(
            "llama-server for %r died (%s); its last stderr lines: %s",
            model,
            died.how,
            died.stderr,
        )
        self._set_aside(f"had a child die with {died.how} (model {model!r})", when)

    def _set_aside(self, reason: str, cause: FallbackCause) -> None:
        self.state, self.reason = "broken", reason
        if not self.required:
            self.fallback_cause = cause
        if self.required:
            log.error(
                "llama-server %s %s; AIMAAS_ENGINE__GGUF_BACKEND requires it", self.path, reason
            )
        else:
            log.error(
                "llama-server %s %s; GGUF models run on xllamacpp for the rest of this process",
                self.path,
                reason,
            )

    async def aclose(self) -> None:
        """Stop a check still running, and wait until its child and connections are closed."""
        if self._check is not None and not self._check.done():
            self._check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._check
