"""The one shape of a refused upload: a 400 naming the ``file`` parameter."""

from __future__ import annotations

from aimaas.errors import InvalidInput


def refused(message: str) -> InvalidInput:
    """``raise refused(...)``: ``message`` says what is wrong and what to send instead."""
    return InvalidInput(message, param="file")
