"""process.py: the process's offline flags and torch threads, and the scoped thread counts."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

import pytest
import torch

from aimaas.process import configure_process, pin_torch_threads, torch_threads


def _on_new_thread(work: Callable[[], int]) -> int:
    found: list[int] = []
    thread = threading.Thread(target=lambda: found.append(work()))
    thread.start()
    thread.join()
    return found[0]


def _new_thread_count() -> int:
    return _on_new_thread(torch.get_num_threads)


@pytest.fixture(autouse=True)
def _counts_put_back() -> Iterator[None]:
    """Each test starts from 2 threads here and for new threads, and leaves them so."""
    here, new = torch.get_num_threads(), _new_thread_count()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(here)  # this thread, and (for now) new ones
    _on_new_thread(lambda: torch.set_num_threads(new) or 0)  # new ones as they were


def test_the_process_is_offline_unless_an_operator_said_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    configure_process(threads=0)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    configure_process(threads=0)
    assert os.environ["HF_HUB_OFFLINE"] == "0"


def test_the_settings_thread_count_holds_here_and_for_new_threads() -> None:
    configure_process(threads=1)
    assert torch.get_num_threads() == 1 and _new_thread_count() == 1
    configure_process(threads=0)  # 0: left as it is
    assert torch.get_num_threads() == 1


def test_a_block_has_its_count_and_threads_it_starts_keep_it() -> None:
    with torch_threads(1):
        assert torch.get_num_threads() == 1
        started: list[int] = []
        gate = threading.Event()

        def engine() -> None:
            started.append(torch.get_num_threads())
            gate.wait()
            started.append(torch.get_num_threads())

        worker = threading.Thread(target=engine)
        worker.start()
    assert torch.get_num_threads() == 2 and _new_thread_count() == 2  # both put back
    gate.set()
    worker.join()
    assert started == [1, 1]  # a thread started inside keeps the block's count


def test_a_pinned_thread_keeps_its_count_and_leaves_the_others_theirs() -> None:
    def pinned() -> int:
        pin_torch_threads(1)
        return torch.get_num_threads()

    assert _on_new_thread(pinned) == 1
    assert torch.get_num_threads() == 2 and _new_thread_count() == 2
    pin_torch_threads(0)  # 0: no change
    assert torch.get_num_threads() == 2
