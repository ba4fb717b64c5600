"""Perplexity of a Hugging Face-format causal language model on a text corpus.

exp(mean negative log-likelihood per predicted token), with a plain causal-LM forward pass
in float32. Each text is tokenized on its own (with the tokenizer's special tokens) and
scored in windows of the model's context length that overlap by one token, so every token
after a text's first is predicted exactly once, from at most one window of context. Files
are read from the model's folder only (``local_files_only``, no hub, no remote code,
safetensors weights only).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from aimaas.errors import InvalidInput
from aimaas.evaluate.metrics import Evaluation

DEFAULT_WINDOW = 1024


def load_causal_lm(path: Path) -> tuple[Any, Any]:
    """(tokenizer, model in eval mode, float32) from local files only."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(
        path,
        local_files_only=True,
        trust_remote_code=False,
        use_safetensors=True,
        dtype=torch.float32,
    )
    return tokenizer, model.eval()  # type: ignore[no-untyped-call]


def context_length(model: Any) -> int:
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 1:
            return value
    return DEFAULT_WINDOW


def text_nll(model: Any, ids: list[int], window: int) -> tuple[float, int]:
    """(summed negative log-likelihood in nats, tokens predicted) of one token sequence."""
    total, count = 0.0, 0
    start = 0
    while start < len(ids) - 1:
        chunk = torch.tensor([ids[start : start + window]], dtype=torch.long)  # (1, T)
        with torch.inference_mode():
            logits = model(input_ids=chunk).logits[0, :-1].float()  # (T-1, V)
        total += float(F.cross_entropy(logits, chunk[0, 1:], reduction="sum"))
        count += chunk.shape[1] - 1
        start += window - 1
    return total, count


def perplexity(
    path: Path,
    texts: list[str],
    *,
    window: int | None = None,
    check_stop: Callable[[], None] = lambda: None,
) -> Evaluation:
    """The model in ``path`` scored on ``texts``; InvalidInput when nothing can be scored."""
    tokenizer, model = load_causal_lm(path)
    size = min(window or context_length(model), context_length(model))
    if size < 2:
        raise ValueError("the window must hold at least two tokens")
    total, tokens, scored = 0.0, 0, 0
    for text in texts:
        check_stop()
        ids = list(tokenizer(text)["input_ids"])
        nll, count = text_nll(model, ids, size)
        total, tokens = total + nll, tokens + count
        scored += count > 0
    if tokens == 0:
        raise InvalidInput(
            "No text in the file is long enough to score (two tokens or more).", param="file"
        )
    mean = total / tokens
    notes = [] if scored == len(texts) else [f"{len(texts) - scored} text(s) too short to score."]
    return Evaluation(
        task="language_model",
        rows=len(texts),
        metrics={"perplexity": math.exp(mean), "nll_mean": mean, "tokens": float(tokens)},
        notes=notes,
    )
