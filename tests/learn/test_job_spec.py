"""A training job's spec: its hyperparameters stored as JSON and read back as the
algorithm's own model, with nothing parsed from the request again."""

from __future__ import annotations

from aimaas.learn import hyperparameters as hp
from aimaas.learn.job_spec import TrainingJobSpec


def spec(algorithm: str, raw: dict[str, object]) -> TrainingJobSpec:
    return TrainingJobSpec(
        model="m", algorithm=algorithm, training_file="file-1", validation_file=None,
        validation_split=0.1, target="y", hyperparameters=hp.parse(algorithm, raw), seed=3,
    )  # fmt: skip


def test_hyperparameters_round_trip_as_the_algorithms_model() -> None:
    for algorithm, raw in [("mlp", {"hidden_sizes": [8]}), ("cnn", {"kernel_size": 5}),
                           ("logistic_regression", {"l2": 0.5})]:  # fmt: skip
        written = spec(algorithm, raw)
        stored = written.model_dump(mode="json")
        assert stored["hyperparameters"] == written.hyperparameters.model_dump(mode="json")
        read = TrainingJobSpec.model_validate(stored)
        assert type(read.hyperparameters) is hp.MODELS[algorithm]
        assert read == written
        assert TrainingJobSpec.model_validate_json(written.model_dump_json()) == written


def test_the_stored_keys_are_the_ones_jobs_have_always_had() -> None:
    assert list(spec("mlp", {}).model_dump(mode="json")) == [
        "model", "algorithm", "training_file", "validation_file", "validation_split",
        "target", "hyperparameters", "seed",
    ]  # fmt: skip
