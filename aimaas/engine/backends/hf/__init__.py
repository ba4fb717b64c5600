"""Hugging Face causal language models on PyTorch with transformers' continuous batching."""

from aimaas.engine.backends.hf.config import TransformersConfig, estimate_memory_bytes
from aimaas.engine.backends.hf.model import TransformersModel

__all__ = ["TransformersConfig", "TransformersModel", "estimate_memory_bytes"]
