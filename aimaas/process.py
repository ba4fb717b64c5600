"""The process's set-up for the libraries it loads: done once, at start-up, from settings.

Each process entry calls ``configure_process`` before it loads a model: the server's
lifespan, ``aimaas doctor``, a job's worker process.

- Offline: models load from local folders only, and the Hugging Face libraries never reach
  for the Hub. huggingface_hub reads ``HF_HUB_OFFLINE`` once, when it is first imported, so
  this has to run before anything imports it (nothing in aimaas does at module level).
- Torch's intra-op threads: the count the settings give (``engine.threads`` to serve,
  ``training.threads`` in a job's worker); 0 leaves torch's default, every core.

Torch keeps its thread count per thread, and ``torch.set_num_threads`` also sets the count
every thread started afterwards begins with. Where one piece of work needs a count of its
own, it asks for it here and nowhere else: ``torch_threads`` for a block (a model's load, a
timed comparison), ``pin_torch_threads`` for the rest of one thread's life (a model's
worker thread); both leave every other thread's count as it was.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

OFFLINE = {"HF_HUB_OFFLINE": "1"}


def configure_process(*, threads: int) -> None:
    """Offline Hugging Face libraries, and ``threads`` torch threads (0: torch's default)."""
    for name, value in OFFLINE.items():
        os.environ.setdefault(name, value)  # an operator's explicit choice stands
    if threads:
        import torch

        torch.set_num_threads(threads)


def _new_thread_count() -> int:
    """The count a thread that has not run torch yet starts with."""
    import torch

    found: list[int] = []
    probe = threading.Thread(target=lambda: found.append(torch.get_num_threads()))
    probe.start()
    probe.join()
    return found[0]


def _set_new_thread_count(threads: int) -> None:
    """Set what new threads start with, from a thread of its own, leaving the caller's."""
    import torch

    setter = threading.Thread(target=torch.set_num_threads, args=(threads,))
    setter.start()
    setter.join()


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Torch ops on this thread, and on threads started inside the block, use ``threads``
    intra-op threads (0: no change); afterwards this thread and new ones are as before."""
    import torch

    if not threads:
        yield
        return
    here, new = torch.get_num_threads(), _new_thread_count()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(here)
        if new != here:
            _set_new_thread_count(new)


def pin_torch_threads(threads: int) -> None:
    """Torch ops on the calling thread use ``threads`` intra-op threads from now on (0: no
    change); threads started later begin with the count they would have anyway."""
    import torch

    if not threads or torch.get_num_threads() == threads:
        return
    new = _new_thread_count()
    torch.set_num_threads(threads)
    _set_new_thread_count(new)
