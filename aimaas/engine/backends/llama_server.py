"""GGUF models on a natively built ``llama-server`` child process.

The same llama.cpp server loop as the in-process backend (continuous batching over slots,
prompt caching, templates, grammars), compiled for this CPU by
``scripts/build-llama-server.sh``. It listens on a Unix socket in a private folder, not on a
TCP port, and also demands a random key that never leaves this object. The child is started
from the event loop's thread with a parent-death signal, so it cannot outlive aimaas even
after ``kill -9``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aimaas.engine.admission import Admission
from aimaas.engine.backends.child import StderrTail, describe_exit
from aimaas.engine.backends.llama_json import error_of, output_of, request_body
from aimaas.engine.backends.llamacpp import GgufModel, LlamaCppConfig
from aimaas.engine.backends.uds_http import UnixHTTPClient
from aimaas.engine.gguf import GgufInfo, read_gguf
from aimaas.engine.types import Endpoint, GenerationOutput, GenerationRequest
from aimaas.errors import EngineDied, Unavailable
from aimaas.subprocesses import die_with_parent

_PATHS: dict[Endpoint, str] = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}


class LlamaServerModel(GgufModel):
    def __init__(
        self,
        name: str,
        config: LlamaCppConfig,
        process: subprocess.Popen[bytes],
        socket: Path,
        key: str,
        info: GgufInfo,
        stderr: StderrTail,
    ) -> None:
        self.name = name
        self.config = config
        self.info = info
        self.admission = Admission(max_running=config.parallel, max_waiting=config.max_queue)
        self.memory_bytes = config.memory_bytes(info)
        self._process = process
        self._socket = socket
        self._key = key
        self._stderr = stderr
        self._client: UnixHTTPClient | None = None

    @classmethod
    async def start(
        cls,
        name: str,
        config: LlamaCppConfig,
        *,
        binary: Path,
        log: bool = False,
        timeout: float = 300,
    ) -> LlamaServerModel:
        """Start the child (from the calling event loop's thread) and wait until it serves."""
        info = await asyncio.to_thread(read_gguf, config.path)  # off the event loop
        folder = Path(tempfile.mkdtemp(prefix="aimaas-llama-"))  # mode 0700
        try:
            socket = folder / "llama.sock"
            key = secrets.token_urlsafe(32)
            threads = config.threads or os.cpu_count() or 1
            argv = [
                str(binary), "--model", str(config.path), "--alias", name, "--host", str(socket),
                "--parallel", str(config.parallel),
                "--ctx-size", str(config.context_length * config.parallel),
                "--batch-size", str(max(512, config.context_length)),
                "--threads", str(threads), "--threads-batch", str(threads),
                "--api-key-file", str(_write_private(folder, "key", key + "\n")),
                "--jinja", "--no-webui",
                # The host-memory prompt cache, bounded (by default it grows to 8 GiB) and
                # counted in the model's memory_bytes.
                "--cache-ram", str(config.prompt_cache_mb),
                # Sliding-window layers (Gemma 2/3, ...) keep every position, so a cached prompt
                # is reused whole instead of recomputed from the window's start; that memory is
                # already in memory_bytes, which counts every layer at the full context.
                "--swa-full",
            ]  # fmt: skip
            if config.chat_template:
                argv += [
                    "--chat-template-file",
                    str(_write_private(folder, "template.jinja", config.chat_template)),
                ]
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=None if log else subprocess.DEVNULL,
                stderr=subprocess.PIPE,  # always read: its last lines say how a child died
                preexec_fn=die_with_parent,
                pass_fds=config.fds,  # a memory-backed GGUF: the same /proc/self/fd/N in the child
            )
        except BaseException:  # the child never started: its key goes with its folder
            shutil.rmtree(folder, ignore_errors=True)
            raise
        assert process.stderr is not None
        stderr = StderrTail(process.stderr, echo=log)
        # No await between the child's start and this try: a cancelled start (a server that
        # stops while a model loads) still stops its child.
        model = cls(name, config, process, socket, key, info, stderr)
        try:
            await model._wait_ready(timeout)
        except BaseException:
            model.close()
            raise
        return model

    def _http(self) -> UnixHTTPClient:
        if self._client is None:
            self._client = UnixHTTPClient(
                str(self._socket),
                headers={"Authorization": f"Bearer {self._key}"},
                max_idle=self.admission.capacity,
            )
        return self._client

    async def _wait_ready(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self._process.poll() is not None:
                raise await self.death("while starting")
            try:
                async with self._http().request("GET", "/health") as response:
                    await response.read()
                    if response.status == 200:
                        return
            except (OSError, ValueError, asyncio.IncompleteReadError):
                pass
            await asyncio.sleep(0.1)
        raise Unavailable(f"llama-server for '{self.name}' did not start in {timeout:.0f}s.")

    async def death(self, when: str) -> EngineDied:
        """The error for a child that has ended, once its last stderr lines are read."""
        await asyncio.to_thread(self._stderr.wait_closed)
        how = describe_exit(self._process.returncode)
        return EngineDied(
            f"llama-server for '{self.name}' died {when} ({how}).",
            how=how,
            stderr=self._stderr.text(),
        )

    @property
    def exited(self) -> bool:
        """Whether the child has ended (a model whose child died is never used again)."""
        return self._process.poll() is not None

    @property
    def busy(self) -> bool:
        return self.admission.in_flight > 0

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationOutput]:
        """``TextGenerator.stream``; closing it early closes the connection, which makes
        llama-server abort the sequence."""
        self.admission.enter(self.name)
        body = request_body(request)
        try:
            path = _PATHS[request.endpoint]
            async with self._http().request("POST", path, body) as response:
                if response.status >= 400:
                    raise error_of(_error(await response.read(), response.status), request)
                async for line in response.lines():
                    if not line.startswith(b"data: "):
                        continue
                    if line == b"data: [DONE]":
                        continue  # read on to the end, so the connection can be reused
                    yield output_of(json.loads(line[6:]), request)
        except (OSError, asyncio.IncompleteReadError) as exc:
            if await asyncio.to_thread(self._ended_within, 1.0):
                raise await self.death("while serving") from exc
            raise Unavailable(f"llama-server for '{self.name}' is not answering.") from exc
        finally:
            self.admission.leave()

    def _ended_within(self, seconds: float) -> bool:
        try:
            self._process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        if self._client is not None:
            self._client.drop()  # idle connections; aclose() has already closed them
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        shutil.rmtree(self._socket.parent, ignore_errors=True)  # socket, key, template


def _write_private(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return path


def _error(raw: bytes, status: int) -> dict[str, Any]:
    try:
        error: Any = json.loads(raw).get("error")
    except (ValueError, AttributeError):
        error = None
    if not isinstance(error, dict):
        return {"code": status, "message": raw.decode(errors="replace")[:300]}
    return dict(error)
