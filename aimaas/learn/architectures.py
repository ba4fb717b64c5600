"""Which network each algorithm builds, and rebuilding one from a saved spec.

A spec's ``config`` is data, never code: it is checked field by field against the config
dataclass (exact keys, exact types), and the network is first built on the ``meta`` device
so a spec claiming a billion-row embedding costs nothing before the tensor shapes have been
compared with the weights that actually came with it.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import torch
from torch import Tensor, nn

from aimaas.learn.encoding import Encoding
from aimaas.learn.examples import Examples
from aimaas.learn.models.attention import Transformer, TransformerConfig
from aimaas.learn.models.cnn import CNN, CNNConfig
from aimaas.learn.models.linear import LinearConfig, LinearRegression
from aimaas.learn.models.logistic import LogisticConfig, LogisticRegression
from aimaas.learn.models.mlp import MLP, MLPConfig
from aimaas.learn.models.rnn import RNN, RNNConfig
from aimaas.learn.models.word2vec import SkipGram, Word2VecConfig
from aimaas.learn.servable import Task

ModelConfig = (
    LinearConfig
    | LogisticConfig
    | MLPConfig
    | CNNConfig
    | RNNConfig
    | TransformerConfig
    | Word2VecConfig
)

NETWORKS: dict[str, tuple[type[Any], type[nn.Module]]] = {
    "linear_regression": (LinearConfig, LinearRegression),
    "logistic_regression": (LogisticConfig, LogisticRegression),
    "mlp": (MLPConfig, MLP),
    "cnn": (CNNConfig, CNN),
    "rnn": (RNNConfig, RNN),
    "transformer": (TransformerConfig, Transformer),
    "word2vec": (Word2VecConfig, SkipGram),
}

MAX_DIM = 100_000_000  # no single size in a config above this


def build(algorithm: str, config: ModelConfig) -> nn.Module:
    config_type, network = NETWORKS[algorithm]
    if not isinstance(config, config_type):
        raise TypeError(f"{algorithm} needs a {config_type.__name__}")
    return network(config)


def config_to_json(config: ModelConfig) -> dict[str, Any]:
    return {
        f.name: list(value) if isinstance(value, tuple) else value
        for f in dataclasses.fields(config)
        for value in [getattr(config, f.name)]
    }


def config_from_json(algorithm: str, data: Any) -> ModelConfig:
    """The config dataclass for ``algorithm`` from a spec's ``config``; ValueError if any
    key is missing or extra, or any value has the wrong type."""
    config_type, _ = NETWORKS[algorithm]
    hints = typing.get_type_hints(config_type)
    names = {f.name for f in dataclasses.fields(config_type)}
    if not isinstance(data, dict) or set(data) != names:
        raise ValueError(f"model spec: config must have exactly the fields {sorted(names)}")
    values = {name: _checked(name, hints[name], data[name]) for name in names}
    config: ModelConfig = config_type(**values)
    return config


def load_network(algorithm: str, config: ModelConfig, weights: dict[str, Tensor]) -> nn.Module:
    """The network with ``weights`` in it, in eval mode; ValueError unless the tensor names,
    shapes and dtypes are exactly the ones the config implies."""
    try:
        with torch.device("meta"):
            network = build(algorithm, config)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ValueError(f"model spec: config does not build a {algorithm}: {exc}") from None
    expected = network.state_dict()
    if set(expected) != set(weights):
        missing = sorted(set(expected) - set(weights))[:5]
        extra = sorted(set(weights) - set(expected))[:5]
        raise ValueError(f"weights do not match the spec: missing {missing}, unexpected {extra}")
    for name, tensor in expected.items():
        given = weights[name]
        if given.shape != tensor.shape or given.dtype != tensor.dtype:
            raise ValueError(
                f"weights do not match the spec: {name} is {given.dtype}{list(given.shape)}, "
                f"expected {tensor.dtype}{list(tensor.shape)}"
            )
    network.load_state_dict(weights, assign=True)
    return network.eval()


def _checked(name: str, hint: Any, value: Any) -> Any:
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DIM
    elif hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1
    elif hint is str:
        ok = isinstance(value, str) and len(value) <= 64
    else:  # tuple[int, ...]
        ok = isinstance(value, list) and all(_checked(name, int, v) is not None for v in value)
        value = tuple(value) if ok else value
    if not ok:
        raise ValueError(f"model spec: config.{name} has an invalid value")
    return float(value) if hint is float else value


def network_config(
    algorithm: str, params: Any, encoding: Encoding, task: Task, examples: Examples
) -> ModelConfig:
    """The network config for ``algorithm`` with ``params`` on data encoded as ``examples``."""
    labels = encoding.labels
    outputs = len(labels.classes) if labels is not None else 1
    vocab = 0 if encoding.tokenizer is None else len(encoding.tokenizer.vocabulary)
    shape = () if examples.features is None else tuple(examples.features.shape[1:])
    if algorithm == "linear_regression":
        return LinearConfig(n_features=shape[0])
    if algorithm == "logistic_regression":
        return LogisticConfig(n_features=shape[0], n_classes=outputs)
    if algorithm == "mlp":
        return MLPConfig(shape[0], tuple(params.hidden_sizes), outputs, params.dropout)
    if algorithm == "cnn":
        c, h, w = shape  # (C, H, W)
        return CNNConfig(
            c,
            h,
            w,
            tuple(params.channels),
            params.kernel_size,
            params.hidden_size,
            outputs,
            params.dropout,
        )
    features = 0 if vocab else shape[-1]  # (T, F) sequences
    if algorithm == "rnn":
        return RNNConfig(
            params.cell,
            vocab,
            features,
            params.embedding_dim,
            params.hidden_size,
            params.num_layers,
            params.bidirectional,
            params.dropout,
            outputs,
        )
    if algorithm == "transformer":
        return TransformerConfig(
            vocab,
            features,
            params.d_model,
            params.num_heads,
            params.num_layers,
            params.dim_feedforward,
            params.dropout,
            params.max_length if vocab else shape[0],
            params.positional_encoding,
            outputs,
        )
    return Word2VecConfig(vocab_size=vocab, embedding_dim=params.embedding_dim)


def output_size(config: ModelConfig) -> int:
    """Classes, 1 for a regressor, or the embedding width."""
    if isinstance(config, Word2VecConfig):
        return config.embedding_dim
    if isinstance(config, LogisticConfig):
        return config.n_classes
    if isinstance(config, LinearConfig):
        return 1
    return config.n_outputs
