"""architectures.py: each algorithm's network and config, configs read from JSON with
exact keys and types, networks loaded only with exactly the tensors their config implies,
and the config derived from hyperparameters and encoded data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from aimaas.learn import architectures, encoding
from aimaas.learn import hyperparameters as hp
from aimaas.learn.architectures import (
    MAX_DIM,
    NETWORKS,
    build,
    config_from_json,
    config_to_json,
    load_network,
    network_config,
    output_size,
)
from aimaas.learn.models.attention import TransformerConfig
from aimaas.learn.models.cnn import CNN, CNNConfig
from aimaas.learn.models.linear import LinearConfig
from aimaas.learn.models.logistic import LogisticConfig
from aimaas.learn.models.mlp import MLPConfig
from aimaas.learn.models.rnn import RNNConfig
from aimaas.learn.models.word2vec import Word2VecConfig
from aimaas.uploads.dataset import Dataset

MLP = MLPConfig(n_features=3, hidden_sizes=(4, 2), n_outputs=2, dropout=0.1)


def test_every_algorithm_has_a_config_and_a_network() -> None:
    assert sorted(NETWORKS) == sorted(hp.MODELS)
    assert isinstance(build("cnn", CNNConfig(1, 4, 4, (2,), 3, 4, 2, 0.0)), CNN)
    with pytest.raises(TypeError, match="mlp needs a MLPConfig"):
        build("mlp", LinearConfig(3))


def test_a_config_round_trips_through_json_with_lists_for_tuples() -> None:
    data = config_to_json(MLP)
    assert data == {"n_features": 3, "hidden_sizes": [4, 2], "n_outputs": 2, "dropout": 0.1}
    assert config_from_json("mlp", data) == MLP
    integral = config_from_json("mlp", data | {"dropout": 0})
    assert isinstance(integral, MLPConfig) and type(integral.dropout) is float


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"extra": 1}, "config must have exactly the fields"),
        ({"n_features": "3"}, "config.n_features"),
        ({"n_features": True}, "config.n_features"),
        ({"n_features": -1}, "config.n_features"),
        ({"n_features": MAX_DIM + 1}, "config.n_features"),
        ({"hidden_sizes": [4, "2"]}, "config.hidden_sizes"),
        ({"hidden_sizes": 4}, "config.hidden_sizes"),
        ({"dropout": 1.0}, "config.dropout"),
        ({"dropout": False}, "config.dropout"),
    ],
)
def test_a_bad_config_value_is_refused(change: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        config_from_json("mlp", config_to_json(MLP) | change)


def test_strings_and_booleans_are_checked_too() -> None:
    rnn = config_to_json(RNNConfig("gru", 0, 2, 4, 4, 1, False, 0.0, 2))
    assert config_from_json("rnn", rnn) == RNNConfig("gru", 0, 2, 4, 4, 1, False, 0.0, 2)
    for change in ({"bidirectional": 1}, {"cell": 3}, {"cell": "x" * 65}):
        with pytest.raises(ValueError, match="has an invalid value"):
            config_from_json("rnn", rnn | change)
    with pytest.raises(ValueError, match="exactly the fields"):
        config_from_json("rnn", ["gru"])


def weights() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {k: v.clone() for k, v in build("mlp", MLP).state_dict().items()}


def test_a_network_loads_exactly_its_own_tensors_in_eval_mode() -> None:
    tensors = weights()
    network = load_network("mlp", MLP, tensors)
    assert not network.training
    assert all(torch.equal(network.state_dict()[k], tensors[k]) for k in tensors)
    assert network(torch.ones(1, 3)).shape == (1, 2)


def test_tensors_that_do_not_fit_are_named() -> None:
    tensors = weights()
    missing = {k: v for k, v in tensors.items() if k != "head.bias"}
    with pytest.raises(ValueError, match=r"missing \['head.bias'\], unexpected \[\]"):
        load_network("mlp", MLP, missing)
    with pytest.raises(ValueError, match=r"missing \[\], unexpected \['x'\]"):
        load_network("mlp", MLP, tensors | {"x": torch.zeros(1)})
    with pytest.raises(ValueError, match=r"head.bias is torch.float32\[3\], expected"):
        load_network("mlp", MLP, tensors | {"head.bias": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"head.bias is torch.float64\[2\]"):
        load_network("mlp", MLP, tensors | {"head.bias": torch.zeros(2, dtype=torch.float64)})


def test_a_huge_config_costs_nothing_before_the_weights_are_compared() -> None:
    huge = Word2VecConfig(vocab_size=MAX_DIM, embedding_dim=1024)  # 400 GB of floats
    with pytest.raises(ValueError, match="weights do not match the spec"):
        load_network("word2vec", huge, {"center.weight": torch.zeros(2, 2)})


def test_a_config_that_does_not_build_is_refused() -> None:
    config = architectures.config_from_json(
        "transformer",
        {"vocab_size": 5, "n_features": 0, "d_model": 6, "num_heads": 4, "num_layers": 1,
         "dim_feedforward": 8, "dropout": 0.0, "max_length": 4,
         "positional_encoding": "sinusoidal", "n_outputs": 2},
    )  # fmt: skip
    with pytest.raises(ValueError, match="config does not build a transformer"):
        load_network("transformer", config, {})


def test_network_configs_follow_the_data_and_hyperparameters() -> None:
    table = Dataset("table", features=np.zeros((4, 3)), targets=np.array(["a", "b", "c", "a"]))
    coding = encoding.fit(table, layout="flat", task="classification")
    examples = coding.examples(table, "classification", param="training_file")
    logistic = network_config(
        "logistic_regression", hp.parse("logistic_regression", {}), coding, "classification",
        examples,
    )  # fmt: skip
    assert logistic == LogisticConfig(n_features=3, n_classes=3) and output_size(logistic) == 3
    mlp = network_config(
        "mlp", hp.parse("mlp", {"hidden_sizes": [5]}), coding, "classification", examples
    )
    assert mlp == MLPConfig(3, (5,), 3, 0.1)
    texts = Dataset("text", texts=["a b", "b c"], targets=np.array([0, 1]))
    tokens = encoding.fit(texts, layout="tokens", task="classification", max_vocab=10)
    rnn = network_config(
        "rnn", hp.parse("rnn", {}), tokens, "classification",
        tokens.examples(texts, "classification", param="training_file"),
    )  # fmt: skip
    assert isinstance(rnn, RNNConfig) and (rnn.vocab_size, rnn.n_features) == (5, 0)
    grids = Dataset("tensor", features=np.zeros((2, 5, 7)), targets=np.array([0, 1]))
    grid = encoding.fit(grids, layout="grid", task="classification")
    cnn = network_config(
        "cnn", hp.parse("cnn", {}), grid, "classification",
        grid.examples(grids, "classification", param="training_file"),
    )  # fmt: skip
    assert isinstance(cnn, CNNConfig) and (cnn.in_channels, cnn.height, cnn.width) == (1, 5, 7)
    steps = encoding.fit(grids, layout="sequence", task="classification")
    transformer = network_config(
        "transformer", hp.parse("transformer", {}), steps, "classification",
        steps.examples(grids, "classification", param="training_file"),
    )  # fmt: skip
    assert output_size(transformer) == 2 and isinstance(transformer, TransformerConfig)
    assert (transformer.max_length, transformer.n_features) == (5, 7)
    assert output_size(LinearConfig(3)) == 1
    assert output_size(Word2VecConfig(10, 24)) == 24
