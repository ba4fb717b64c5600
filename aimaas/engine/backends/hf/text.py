"""Generated tokens -> text deltas, with stop strings matched across token boundaries."""

from __future__ import annotations

from collections.abc import Callable


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
