"""inputs.py: a job's file ids read from a real registry and store as the datasets it
trains and validates on: the target column, a validation file or a seeded split, and the
refusals that name the file parameter."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimaas.errors import InvalidInput, NotFound
from aimaas.learn import hyperparameters as hp
from aimaas.learn.inputs import load_training_data, read_file
from aimaas.learn.job_spec import TrainingJobSpec
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore, PlainStore
from aimaas.runtime import files


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    store = PlainStore(tmp_path / "artifacts")
    store.prepare()
    return store


def tenant(db: Database, name: str = "acme") -> str:
    with db.session() as session:
        return repository.create_tenant(session, name=name).id


def upload(db: Database, store: ArtifactStore, tenant_id: str, path: Path, text: str) -> str:
    path.write_text(text)
    details = files.inspect_file(path, path.name, "training")
    stored = files.store_upload(
        db, store, tenant_id=tenant_id, source=path, filename=path.name, purpose="training",
        details=details,
    )  # fmt: skip
    return stored.id


ROWS = "x,z,label\n" + "".join(f"{i},{i % 3},{'ab'[i % 2]}\n" for i in range(20))


def spec(training: str, *, validation: str | None = None, split: float = 0.0) -> TrainingJobSpec:
    return TrainingJobSpec(
        model="m", algorithm="logistic_regression", training_file=training,
        validation_file=validation, validation_split=split, target="label",
        hyperparameters=hp.parse("logistic_regression", {}), seed=5,
    )  # fmt: skip


def test_a_file_is_read_with_its_target_column(
    db: Database, store: ArtifactStore, tmp_path: Path
) -> None:
    owner = tenant(db)
    file_id = upload(db, store, owner, tmp_path / "rows.csv", ROWS)
    dataset = read_file(
        db, store, tenant_id=owner, file_id=file_id, target="label", param="training_file"
    )
    assert dataset.kind == "table" and len(dataset) == 20
    assert dataset.feature_names == ["x", "z"]
    assert dataset.targets is not None and sorted(set(dataset.targets.tolist())) == ["a", "b"]


def test_another_tenants_file_or_an_unknown_id_is_not_found(
    db: Database, store: ArtifactStore, tmp_path: Path
) -> None:
    owner, other = tenant(db, "acme"), tenant(db, "globex")
    file_id = upload(db, store, owner, tmp_path / "rows.csv", ROWS)
    for who, which in ((other, file_id), (owner, "file-missing")):
        with pytest.raises(NotFound) as caught:
            read_file(db, store, tenant_id=who, file_id=which, target="label", param="p")
        assert caught.value.param == "p"
        assert caught.value.message == (f"No file {which!r}; upload one with POST /v1/files.")


def test_a_missing_target_column_names_the_file_parameter(
    db: Database, store: ArtifactStore, tmp_path: Path
) -> None:
    owner = tenant(db)
    file_id = upload(db, store, owner, tmp_path / "rows.csv", ROWS)
    with pytest.raises(InvalidInput) as caught:
        read_file(
            db, store, tenant_id=owner, file_id=file_id, target="price", param="validation_file"
        )
    assert caught.value.message.startswith("validation_file: ")
    assert "price" in caught.value.message


def test_a_validation_file_is_read_and_both_ids_are_kept(
    db: Database, store: ArtifactStore, tmp_path: Path
) -> None:
    owner = tenant(db)
    train = upload(db, store, owner, tmp_path / "train.csv", ROWS)
    held = upload(db, store, owner, tmp_path / "held.csv", "x,z,label\n1,1,a\n2,2,b\n")
    data = load_training_data(db, store, tenant_id=owner, spec=spec(train, validation=held))
    assert data.file_ids == [train, held]
    assert len(data.train) == 20
    assert data.validation is not None and len(data.validation) == 2


def test_without_a_validation_file_a_seeded_fraction_is_held_out(
    db: Database, store: ArtifactStore, tmp_path: Path
) -> None:
    owner = tenant(db)
    train = upload(db, store, owner, tmp_path / "train.csv", ROWS)
    data = load_training_data(db, store, tenant_id=owner, spec=spec(train, split=0.25))
    again = load_training_data(db, store, tenant_id=owner, spec=spec(train, split=0.25))
    assert data.file_ids == [train]
    assert data.validation is not None and (len(data.train), len(data.validation)) == (15, 5)
    assert again.validation is not None and again.validation.features is not None
    assert data.validation.features is not None
    assert data.validation.features.tolist() == again.validation.features.tolist()
    whole = load_training_data(db, store, tenant_id=owner, spec=spec(train))
    assert whole.validation is None and len(whole.train) == 20


def test_with_check_each_file_is_checked_against_the_algorithm(
    db: Database, store: ArtifactStore, tmp_path: Path
) -> None:
    owner = tenant(db)
    train = upload(db, store, owner, tmp_path / "train.csv", ROWS)
    one_class = upload(db, store, owner, tmp_path / "one.csv", "x,z,label\n1,1,a\n2,2,a\n")
    with pytest.raises(InvalidInput) as caught:
        load_training_data(db, store, tenant_id=owner, spec=spec(one_class), check=True)
    assert caught.value.param == "training_file"
    assert "at least 2 different" in caught.value.message
    # one class is enough to validate on
    checked = load_training_data(
        db, store, tenant_id=owner, spec=spec(train, validation=one_class), check=True
    )
    assert checked.validation is not None and len(checked.validation) == 2
    unchecked = load_training_data(db, store, tenant_id=owner, spec=spec(one_class))
    assert len(unchecked.train) == 2
