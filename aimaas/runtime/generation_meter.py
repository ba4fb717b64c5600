"""What one generation used and how fast it went, read off its outputs as they pass: time to
first token and between tokens, the time it queued, how it finished, and its tokens (the
engine's usage, or the outputs that carried tokens when it ended before reporting usage)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aimaas.engine.types import GenerationOutput, Usage


class Observer(Protocol):
    def observe(self, amount: float) -> None: ...


@dataclass
class GenerationMeter:
    started: float  # perf_counter seconds
    ttft: Observer
    itl: Observer
    finish: str = "aborted"  # until an output says how it finished
    usage: Usage | None = None
    token_outputs: int = 0
    queue_seconds: float | None = None
    _first_token: float | None = None
    _last_token: float = 0.0

    def observe(self, output: GenerationOutput, now: float) -> None:
        if any(choice.has_tokens for choice in output.choices):
            self.token_outputs += 1
            if self._first_token is None:
                self._first_token = now
                self.ttft.observe(now - self.started)
            else:
                self.itl.observe(now - self._last_token)
            self._last_token = now
        for choice in output.choices:
            self.finish = choice.finish_reason or self.finish
        if output.busy_seconds is not None:
            self.queue_seconds = max(0.0, now - self.started - output.busy_seconds)
        if output.usage is not None:
            self.usage = output.usage

    @property
    def prompt_tokens(self) -> int:
        return self.usage.prompt_tokens if self.usage else 0

    @property
    def completion_tokens(self) -> int:
        return self.usage.completion_tokens if self.usage else self.token_outputs

    @property
    def tokens_used(self) -> int:
        """What the generation's reservation is settled with."""
        return self.prompt_tokens + self.completion_tokens
