"""What an evaluation scores and on what, on a real registry: how each kind of version is
evaluated (or why not), its predictor from the store, a labelled file that fits it, and
the texts perplexity is measured on; each refusal names its field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aimaas.config import Settings
from aimaas.errors import InvalidInput, NotFound
from aimaas.evaluate import inputs
from aimaas.jobs.service import JobService
from aimaas.learn.servable import Predictor
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.formats import GGUF, ONNX_FORMAT, TORCH_FORMAT, TRANSFORMERS
from aimaas.registry.store import ArtifactStore, Owner
from aimaas.registry.tables import Model, ModelVersion
from aimaas.registry.version_details import VersionDetails
from tests.evaluate.conftest import Trained
from tests.jobs.trained import IRIS_COLUMNS, diabetes_csv, iris_csv, train, upload


@pytest.mark.parametrize(
    ("task", "format_", "method"),
    [
        ("classification", TORCH_FORMAT, "metrics"),
        ("regression", ONNX_FORMAT, "metrics"),
        ("chat", TRANSFORMERS, "perplexity"),
    ],
)
def test_each_kind_of_version_has_its_method(task: str, format_: str, method: str) -> None:
    model, version = Model(name="m", task=task), ModelVersion(format=format_)
    assert inputs.method_for(model, version) == method


@pytest.mark.parametrize(
    ("task", "format_", "says"),
    [
        ("embedding", TORCH_FORMAT, "is a embedding model"),
        ("chat", GGUF, "is a GGUF model"),
        ("embedding", "sentence-transformers", "cannot be evaluated"),
    ],
)
def test_a_version_that_cannot_be_scored_is_refused(task: str, format_: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as refused:
        inputs.method_for(Model(name="m", task=task), ModelVersion(format=format_))
    assert refused.value.param == "model"


def predictor(db: Database, store: ArtifactStore, tenant: str, name: str = "iris") -> Predictor:
    with db.session() as session:
        model, version = repository.resolve_version(session, tenant_id=tenant, ref=name)
        details, owner = VersionDetails.of(version), inputs.version_owner(model, version)
        assert owner == Owner.model(tenant, name, version.id, version.version)
    return inputs.load_predictor(store, details, owner)


def test_the_predictor_comes_from_the_versions_files(
    db: Database, store: ArtifactStore, tenant: str, iris: Trained
) -> None:
    model = predictor(db, store, tenant)
    assert model.task == "classification" and model.labels == ["setosa", "versicolor",
                                                                "virginica"]  # fmt: skip
    dataset = inputs.labelled_data(db, store, tenant_id=tenant, file_id=iris.evaluation_file,
                                   target="label", predictor=model)  # fmt: skip
    assert len(dataset) == 50 and dataset.feature_names == IRIS_COLUMNS
    assert dataset.targets is not None and set(dataset.targets.tolist()) == set(model.labels)


def test_a_file_that_does_not_fit_is_refused_naming_the_field(
    db: Database, store: ArtifactStore, tenant: str, iris: Trained, tmp_path: Path
) -> None:
    model = predictor(db, store, tenant)
    unlabelled = upload(db, store, tenant, tmp_path / "a", "x.csv", iris_csv(labels=False),
                        purpose="evaluation")  # fmt: skip
    other = upload(db, store, tenant, tmp_path / "b", "d.csv", diabetes_csv(),
                   purpose="evaluation")  # fmt: skip
    texts = upload(db, store, tenant, tmp_path / "c", "t.jsonl", b'{"text": "a b"}\n',
                   purpose="evaluation")  # fmt: skip
    for file_id, target, error, param, says in (
        (texts, None, InvalidInput, "file", "no labels or targets"),
        (unlabelled, None, InvalidInput, "target", "needs 'target'"),
        (unlabelled, "label", InvalidInput, "target", "label"),
        (other, "y", InvalidInput, "file", "lacks the column"),
        ("file-nope", "label", NotFound, "file", "No file"),
    ):
        with pytest.raises(error, match=says) as refused:
            inputs.labelled_data(db, store, tenant_id=tenant, file_id=file_id, target=target,
                                 predictor=model)  # fmt: skip
        assert refused.value.param == param, (file_id, target)


def test_a_regressor_is_scored_on_numbers_only(
    db: Database, store: ArtifactStore, tenant: str, tmp_path: Path, settings: Settings,
    service: JobService, sigterm_restored: None,
) -> None:  # fmt: skip
    csv = diabetes_csv()
    file_id = upload(db, store, tenant, tmp_path / "a", "d.csv", csv)
    train(settings, db, store, service, tenant, model="diabetes", file_id=file_id,
          algorithm="linear_regression", target="y", hyperparameters={"epochs": 5})  # fmt: skip
    lines = csv.decode().splitlines()
    texts = [lines[0]] + [f"{line.rsplit(',', 1)[0]},big" for line in lines[1:20]]
    worded = upload(db, store, tenant, tmp_path / "b", "w.csv", ("\n".join(texts) + "\n").encode(),
                    purpose="evaluation")  # fmt: skip
    model = predictor(db, store, tenant, "diabetes")
    assert model.task == "regression"
    scored = inputs.labelled_data(db, store, tenant_id=tenant, file_id=file_id, target="y",
                                  predictor=model)  # fmt: skip
    assert scored.targets is not None and np.issubdtype(scored.targets.dtype, np.number)
    with pytest.raises(InvalidInput, match="holds text") as refused:
        inputs.labelled_data(db, store, tenant_id=tenant, file_id=worded, target="y",
                             predictor=model)  # fmt: skip
    assert refused.value.param == "target"


def test_perplexity_reads_the_texts_of_a_json_lines_file(
    db: Database, store: ArtifactStore, tenant: str, tmp_path: Path
) -> None:
    texts = ["the cat sat", "a dog ran far"]
    jsonl = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
    file_id = upload(db, store, tenant, tmp_path / "a", "t.jsonl", jsonl, purpose="evaluation")
    assert inputs.corpus(db, store, tenant_id=tenant, file_id=file_id) == texts
    table = upload(db, store, tenant, tmp_path / "b", "x.csv", iris_csv(), purpose="evaluation")
    with pytest.raises(InvalidInput, match="this file is csv") as refused:
        inputs.corpus(db, store, tenant_id=tenant, file_id=table)
    assert refused.value.param == "file"
    with db.session() as session:
        other = repository.create_tenant(session, name="other").id
    with pytest.raises(NotFound) as missing:  # another tenant's file is no file
        inputs.corpus(db, store, tenant_id=other, file_id=file_id)
    assert missing.value.param == "file"
