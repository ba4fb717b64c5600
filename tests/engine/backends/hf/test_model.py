"""The transformers backend's wait for its engine's next output."""

from __future__ import annotations

import asyncio

import pytest

from aimaas.engine.backends.hf import model
from aimaas.errors import Unavailable


def test_a_cancel_that_meets_a_ready_output_is_not_lost() -> None:
    """A client that goes away just as a token is handed over still cancels its sequence.
    (asyncio.wait_for on Python 3.11 returned the token and dropped the cancellation.)"""

    async def cancelled_while_an_output_is_ready() -> object:
        outputs: asyncio.Queue[object] = asyncio.Queue()
        outputs.put_nowait("token")
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        return await model.next_output(outputs, alive=lambda: True, name="m")

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancelled_while_an_output_is_ready())


def test_an_output_is_returned_and_a_dead_engine_is_unavailable() -> None:
    async def scenario() -> object:
        outputs: asyncio.Queue[object] = asyncio.Queue()
        outputs.put_nowait("token")
        first = await model.next_output(outputs, alive=lambda: True, name="m")
        with pytest.raises(Unavailable, match="generation loop of 'm' stopped"):
            await model.next_output(outputs, alive=lambda: False, name="m", poll_seconds=0.01)
        return first

    assert asyncio.run(scenario()) == "token"
