"""Hyperparameters are refused with the field named and the allowed range stated."""

from __future__ import annotations

from typing import Any

import pytest

from aimaas.errors import InvalidInput
from aimaas.learn import hyperparameters
from aimaas.learn.algorithms import ALGORITHMS


@pytest.mark.parametrize(
    ("algorithm", "raw", "param", "says"),
    [
        ("mlp", {"epochs": 10**9}, "hyperparameters.epochs", "1..10000"),
        ("rnn", {"learning_rate": float("nan")}, "hyperparameters.learning_rate", "finite"),
        ("cnn", {"learning_rate": 0}, "hyperparameters.learning_rate", "(0, 10]"),
        ("mlp", {"batch_size": 0}, "hyperparameters.batch_size", "1..65536"),
        ("mlp", {"hidden_sizes": [10**7]}, "hyperparameters.hidden_sizes", "1..4096"),
        ("rnn", {"hidden_size": 10**7}, "hyperparameters.hidden_size", "1..4096"),
        ("mlp", {"hidden_sizes": []}, "hyperparameters.hidden_sizes", "1 to 16"),
        ("mlp", {"epochs": "5"}, "hyperparameters.epochs", "integer"),
        ("mlp", {"epochs": True}, "hyperparameters.epochs", "integer"),
        ("mlp", {"dropout": 1.5}, "hyperparameters.dropout", "[0, 0.9]"),
        ("cnn", {"kernel_size": 4}, "hyperparameters.kernel_size", "odd"),
        ("transformer", {"d_model": 30, "num_heads": 4}, "hyperparameters.num_heads", "divide"),
        ("rnn", {"cell": "elman"}, "hyperparameters.cell", "'lstm' or 'gru'"),
        ("logistic_regression", {"l2": -1.0}, "hyperparameters.l2", "[0, 1000000]"),
        ("word2vec", {"window": 0}, "hyperparameters.window", "1..20"),
    ],
)
def test_out_of_range_values_name_the_field_and_the_range(
    algorithm: str, raw: dict[str, Any], param: str, says: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        hyperparameters.parse(algorithm, raw)
    assert caught.value.param == param
    assert param in caught.value.message and says in caught.value.message


def test_an_unknown_key_is_refused_and_the_known_ones_listed() -> None:
    with pytest.raises(InvalidInput) as caught:
        hyperparameters.parse("mlp", {"epochs": 3, "hiden_sizes": [8]})
    assert caught.value.param == "hyperparameters.hiden_sizes"
    assert "hidden_sizes" in caught.value.message


def test_an_unknown_algorithm_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        hyperparameters.parse("svm", {})
    assert caught.value.param == "algorithm"
    assert all(name in caught.value.message for name in ALGORITHMS)


def test_defaults_fill_in_and_values_are_kept() -> None:
    parsed = hyperparameters.parse("mlp", {"epochs": 7, "hidden_sizes": [16]})
    assert isinstance(parsed, hyperparameters.MLPHyperparameters)
    assert (parsed.epochs, parsed.hidden_sizes, parsed.learning_rate) == (7, [16], 1e-3)
    assert parsed.task == "auto" and parsed.patience is None


def test_every_algorithm_has_its_model_and_valid_defaults() -> None:
    for name, algorithm in ALGORITHMS.items():
        assert algorithm.hyperparameters is hyperparameters.MODELS[name]
        assert isinstance(hyperparameters.parse(name, {}), algorithm.hyperparameters)
