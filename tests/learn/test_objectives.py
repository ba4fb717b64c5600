"""objectives.py: the training loss per task, the held-out metrics in the targets' own
units, and the run fingerprint that decides which checkpoint may resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import mean_squared_error, r2_score  # type: ignore[import-untyped]
from torch import Tensor, nn

from aimaas.learn import encoding
from aimaas.learn import hyperparameters as hp
from aimaas.learn.architectures import output_size
from aimaas.learn.examples import Batch, Examples
from aimaas.learn.models.linear import LinearConfig, LinearRegression
from aimaas.learn.models.word2vec import SkipGram, Word2VecConfig
from aimaas.learn.objectives import evaluate, fingerprint, objective
from aimaas.learn.specs import ModelDescription
from aimaas.uploads.dataset import Dataset


class Fixed(nn.Module):
    """Answers the outputs it was given, row by row, whatever the input."""

    def __init__(self, outputs: Tensor) -> None:
        super().__init__()
        self.outputs = outputs

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.outputs[x[:, 0].long()]


def rows(n: int) -> Tensor:
    return torch.arange(n, dtype=torch.float32)[:, None]  # row i's input is i


def test_classification_minimises_cross_entropy_and_regression_mse() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    generator = torch.Generator()
    batch = Batch(inputs=rows(3), lengths=None, targets=labels)
    loss = objective(Fixed(logits), batch, "classification", generator)
    assert float(loss) == pytest.approx(float(F.cross_entropy(logits, labels)), rel=1e-6)
    values = torch.tensor([[0.5], [2.0], [-1.0]])
    targets = torch.tensor([0.0, 2.0, 1.0])
    batch = Batch(inputs=rows(3), lengths=None, targets=targets)
    assert float(objective(Fixed(values), batch, "regression", generator)) == pytest.approx(
        (0.25 + 0.0 + 4.0) / 3, rel=1e-6
    )


@torch.no_grad()
def test_word2vec_draws_its_negatives_from_the_noise_with_the_generator() -> None:
    torch.manual_seed(0)
    network = SkipGram(Word2VecConfig(vocab_size=6, embedding_dim=4))
    nn.init.normal_(network.context.weight)
    pairs = Batch(inputs=torch.tensor([[2, 3], [4, 5]]), lengths=None, targets=None)
    noise = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 1.0])  # only word 5 can be a negative
    loss = objective(network, pairs, "embedding", torch.Generator(), noise=noise, k=3)
    expected = network.loss(torch.tensor([2, 4]), torch.tensor([3, 5]), torch.full((2, 3), 5))
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    spread = torch.full((6,), 1 / 6)
    first = objective(
        network, pairs, "embedding", torch.Generator().manual_seed(1), noise=spread, k=3
    )
    again = objective(
        network, pairs, "embedding", torch.Generator().manual_seed(1), noise=spread, k=3
    )
    assert torch.equal(first, again)


def description(
    dataset: Dataset, task: str, algorithm: str = "linear_regression"
) -> ModelDescription:
    coding = encoding.fit(dataset, layout="flat", task=task)  # type: ignore[arg-type]
    config = LinearConfig(n_features=1)
    return ModelDescription(algorithm, task, config, coding, output_size(config))  # type: ignore[arg-type]


def test_classifiers_report_loss_and_accuracy() -> None:
    dataset = Dataset("table", features=np.zeros((4, 1)), targets=np.array(["a", "b", "a", "b"]))
    spec = description(dataset, "classification", "logistic_regression")
    logits = torch.tensor([[3.0, 0.0], [0.0, 3.0], [0.0, 3.0], [0.0, 3.0]])  # row 2 wrong
    labels = torch.tensor([0, 1, 0, 1])
    network = Fixed(logits).train()
    found = evaluate(network, Examples(features=rows(4), targets=labels), spec, seed=0)
    assert not network.training  # switched to eval mode
    assert found["accuracy"] == 0.75
    assert found["loss"] == pytest.approx(float(F.cross_entropy(logits, labels)), rel=1e-6)


def test_regressors_report_r2_and_mse_in_the_targets_units() -> None:
    truth = np.array([10.0, 20.0, 30.0, 40.0])
    dataset = Dataset("table", features=np.zeros((4, 1)), targets=truth)
    spec = description(dataset, "regression")
    assert spec.encoding.target is not None
    scaled = torch.from_numpy(spec.encoding.target.transform(truth))
    answers = scaled + torch.tensor([0.1, -0.1, 0.0, 0.2])
    found = evaluate(
        Fixed(answers[:, None]), Examples(features=rows(4), targets=scaled), spec, seed=0
    )
    predicted = spec.encoding.target.restore(answers.numpy())
    assert found["r2"] == pytest.approx(r2_score(truth, predicted), rel=1e-5)
    assert found["mse"] == pytest.approx(mean_squared_error(truth, predicted), rel=1e-5)
    assert found["loss"] == pytest.approx(float(F.mse_loss(answers, scaled)), rel=1e-5)
    assert found["mse"] > found["loss"]  # the targets' units are 11 times wider


def test_more_rows_than_one_evaluation_batch_are_all_scored() -> None:
    n = 2500  # three batches of EVAL_BATCH = 1024
    network = LinearRegression(LinearConfig(n_features=1))
    dataset = Dataset("table", features=np.zeros((n, 1)), targets=np.arange(n, dtype=np.float64))
    spec = description(dataset, "regression")
    targets = torch.linspace(-1, 1, n)
    with torch.no_grad():
        network.linear.weight.fill_(1.0)
        network.linear.bias.zero_()
    found = evaluate(network, Examples(features=targets[:, None], targets=targets), spec, seed=0)
    assert found["loss"] == pytest.approx(0.0, abs=1e-12)
    assert found["r2"] == pytest.approx(1.0, abs=1e-9)


@torch.no_grad()
def test_word2vec_evaluation_is_the_same_every_time() -> None:
    torch.manual_seed(0)
    network = SkipGram(Word2VecConfig(vocab_size=8, embedding_dim=4))
    nn.init.normal_(network.context.weight)
    dataset = Dataset("text", texts=["a b"])
    coding = encoding.fit(dataset, layout="tokens", task="embedding", max_length=4)
    spec = ModelDescription("word2vec", "embedding", Word2VecConfig(8, 4), coding, 4)
    examples = Examples(features=torch.randint(0, 8, (50, 2), generator=torch.Generator()))
    noise = torch.full((8,), 1 / 8)
    first = evaluate(network, examples, spec, seed=3, noise=noise, k=4)
    assert set(first) == {"loss"} and first["loss"] > 0
    assert evaluate(network, examples, spec, seed=3, noise=noise, k=4) == first
    assert evaluate(network, examples, spec, seed=4, noise=noise, k=4) != first


def table(targets: list[object], features: float = 0.0) -> Dataset:
    return Dataset(
        "table",
        features=np.full((len(targets), 2), features),
        targets=np.asarray(targets, dtype=object),
    )


def test_the_fingerprint_changes_with_anything_that_decides_the_run() -> None:
    params = hp.parse("mlp", {})
    base = fingerprint("mlp", params, 0, table([1, 2]), None)
    assert base == fingerprint("mlp", hp.parse("mlp", {}), 0, table([1, 2]), None)
    assert len(base) == 64
    others = [
        fingerprint("logistic_regression", params, 0, table([1, 2]), None),
        fingerprint("mlp", hp.parse("mlp", {"epochs": 3}), 0, table([1, 2]), None),
        fingerprint("mlp", params, 1, table([1, 2]), None),
        fingerprint("mlp", params, 0, table([1, 3]), None),
        fingerprint("mlp", params, 0, table([1, 2], features=1.0), None),
        fingerprint("mlp", params, 0, table([1, 2]), table([1])),
        fingerprint("mlp", params, 0, Dataset("text", texts=["a", "b"]), None),
    ]
    assert len({base, *others}) == 1 + len(others)
    features = np.zeros((2, 2))
    as_float32 = Dataset("table", features=features.astype(np.float32), targets=np.array([1, 2]))
    as_float64 = Dataset("table", features=features, targets=np.array([1, 2]))
    assert fingerprint("mlp", params, 0, as_float32, None) != fingerprint(
        "mlp", params, 0, as_float64, None
    )


def test_the_fingerprint_reads_any_target_type() -> None:
    params = hp.parse("mlp", {})
    odd = table([np.datetime64("2024-01-01"), None, 1.5, "x"])
    assert fingerprint("mlp", params, 0, odd, None) == fingerprint("mlp", params, 0, odd, None)
