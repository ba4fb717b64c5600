"""models/rnn.py: LSTM and GRU reach their bars on held-out digit rows and topic texts,
answering with the users' labels; packing keeps padding out of a row's final state."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from aimaas.learn.models.rnn import RNN, RNNConfig
from tests.learn import accuracy, one_thread, served, trained


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.mark.parametrize(
    ("name", "bar"),
    [("lstm-digits", 0.95), ("gru-digits", 0.95), ("lstm-topics", 0.90), ("gru-topics", 0.90)],
)
def test_held_out_accuracy_reaches_the_bar(name: str, bar: float) -> None:
    predictor, test = served(name)
    measured = accuracy(predictor, test)
    print(f"{name}: {measured:.4f} (bar {bar})")
    assert measured >= bar
    model, _ = trained(name)
    assert measured == pytest.approx(model.metrics["val_accuracy"], abs=1e-9)


def test_text_classifiers_answer_with_the_users_labels() -> None:
    predictor, _ = served("lstm-topics")
    assert predictor.labels == ["food", "sports", "tech"]
    assert [o.datatype for o in predictor.signature.outputs] == ["FP32", "BYTES"]
    [output] = predictor.run(predictor.prepare_instances(["The coach and the team won the match"]))
    assert predictor.describe(output)["label"] == "sports"
    assert output["label"].item() == "sports"


def config(
    cell: str, *, vocab: int = 0, features: int = 0, bidirectional: bool = False
) -> RNNConfig:
    return RNNConfig(
        cell=cell,
        vocab_size=vocab,
        n_features=features,
        embedding_dim=6,
        hidden_size=5,
        num_layers=2,
        bidirectional=bidirectional,
        dropout=0.0,
        n_outputs=3,
    )


def test_an_unknown_cell_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown cell 'rnn'"):
        RNN(config("rnn", features=2))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_reaches_a_rows_final_state(cell: str, bidirectional: bool) -> None:
    torch.manual_seed(0)
    model = RNN(config(cell, vocab=10, bidirectional=bidirectional)).eval()
    assert model.head.in_features == (10 if bidirectional else 5)
    alone = model(torch.tensor([[4, 2, 7]]), torch.tensor([3]))
    padded = model(torch.tensor([[4, 2, 7, 0, 0], [1, 2, 3, 4, 5]]), torch.tensor([3, 5]))
    assert padded.shape == (2, 3)
    assert torch.allclose(padded[0], alone[0], atol=1e-5)


def test_feature_sequences_are_read_without_an_embedding() -> None:
    model = RNN(config("gru", features=4)).eval()
    assert model.embedding is None and model.rnn.input_size == 4
    x = torch.randn(3, 7, 4)
    out = model(x)
    assert out.shape == (3, 3)
    assert np.allclose(model(x, torch.tensor([7, 7, 7])).detach(), out.detach(), atol=1e-5)
