"""Generated tokens -> text deltas (stop strings matched across token boundaries) and the
chunks llama.cpp's server streams, so every backend answers alike."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from aimaas.engine.types import Chunk, Endpoint

# --- Turning tokens into text -----------------------------------------------------------------


class TextStream:
    """Generated tokens -> text deltas, with stop strings matched across token boundaries.

    Decoding follows the usual incremental scheme: only the tokens since a recent offset are
    decoded, and text that ends in an incomplete UTF-8 sequence waits for the next token. Text
    that could be the start of a stop string is held back until it is known not to be one.
    """

    def __init__(self, decode: Callable[[list[int]], str], stops: list[str]) -> None:
        self._decode = decode
        self._stops = stops
        self.ids: list[int] = []
        self.text = ""
        self._prefix_offset = 0
        self._read_offset = 0
        self._sent = 0
        self.stopped = False

    def push(self, ids: list[int]) -> str:
        """Add new tokens; the text that may be sent now."""
        self.ids.extend(ids)
        self._read(final=False)
        return self._release(final=False)

    def finish(self) -> str:
        """The generation ended: whatever text is left (short of a stop string)."""
        self._read(final=True)
        return self._release(final=True)

    def _read(self, *, final: bool) -> None:
        prefix = self._decode(self.ids[self._prefix_offset : self._read_offset])
        full = self._decode(self.ids[self._prefix_offset :])
        if len(full) > len(prefix) and (final or not full.endswith("\ufffd")):
            self.text += full[len(prefix) :]
            self._prefix_offset = self._read_offset
            self._read_offset = len(self.ids)

    def _release(self, *, final: bool) -> str:
        if self.stopped:
            return ""
        end = self._stop_at()
        if end is not None:
            self.stopped = True
        elif final:
            end = len(self.text)
        else:
            end = max(self._sent, len(self.text) - self._partial_stop())
        delta = self.text[self._sent : end]
        self._sent = end
        return delta

    def _stop_at(self) -> int | None:
        found = [
            index
            for stop in self._stops
            if (index := self.text.find(stop, max(0, self._sent - len(stop) + 1))) >= 0
        ]
        return min(found) if found else None

    def _partial_stop(self) -> int:
        """Length of the longest end of the text that begins some stop string."""
        longest = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(self.text)), longest, -1):
                if self.text.endswith(stop[:size]):
                    longest = size
                    break
        return longest


# --- The chunks llama.cpp's server streams ----------------------------------------------------


class ChunkWriter:
    """OpenAI stream chunks for one request, in llama.cpp's layout."""

    def __init__(self, endpoint: Endpoint, model: str) -> None:
        self.endpoint = endpoint
        self.model = model
        chat = endpoint == "chat"
        self.id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        self.object = "chat.completion.chunk" if chat else "text_completion"
        self.created = int(time.time())

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> Chunk:
        return {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": choices,
            **extra,
        }

    def _choice(self, text: str | None, finish: str | None, *, role: bool = False) -> Chunk:
        if self.endpoint == "completions":
            return {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}
        delta: dict[str, Any] = {"role": "assistant", "content": text} if role else {}
        if text and not role:
            delta["content"] = text
        return {"index": 0, "delta": delta, "finish_reason": finish}

    def head(self) -> list[Chunk]:
        """What opens the stream: the assistant's role, for chat."""
        if self.endpoint == "chat":
            return [self._chunk([self._choice(None, None, role=True)])]
        return []

    def text(self, delta: str) -> list[Chunk]:
        return [self._chunk([self._choice(delta, None)])] if delta else []

    def finish(self, reason: str, busy_seconds: float) -> Chunk:
        timings = {"prompt_ms": 0.0, "predicted_ms": busy_seconds * 1000}
        return self._chunk([self._choice(None, reason)], timings=timings)

    def usage(self, prompt_tokens: int, completion_tokens: int) -> Chunk:
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        return self._chunk([], usage=usage)
