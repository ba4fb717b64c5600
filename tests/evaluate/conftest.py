"""Registry fixtures for the evaluation job tests: a real SQLite registry and artifact
store, a tenant and the job service (those of tests/jobs), an iris classifier trained in
process, a labelled evaluation file, and a tiny Hugging Face causal LM registered as a
model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from aimaas.config import Settings
from aimaas.jobs.service import JobService
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.formats import TRANSFORMERS
from aimaas.registry.store import ArtifactStore
from tests.evaluate import tiny_causal_lm
from tests.jobs.conftest import service, sigterm_restored, store, tenant, woken
from tests.jobs.trained import iris_csv, train, upload

__all__ = ["service", "sigterm_restored", "store", "tenant", "woken"]


@dataclass(frozen=True)
class Trained:
    training_file: str
    training_job: str
    evaluation_file: str  # 50 labelled iris rows


@pytest.fixture
def iris(
    settings: Settings, db: Database, store: ArtifactStore, service: JobService, tenant: str,
    tmp_path: Path, sigterm_restored: None,
) -> Trained:  # fmt: skip
    """The classifier "iris" version 1, trained on iris.csv (target "label")."""
    training = upload(db, store, tenant, tmp_path / "up", "iris.csv", iris_csv())
    job = train(settings, db, store, service, tenant, model="iris", file_id=training)
    evaluation = upload(db, store, tenant, tmp_path / "ev", "eval.csv",
                        iris_csv(slice(0, 150, 3)), purpose="evaluation")  # fmt: skip
    return Trained(training, job, evaluation)


@pytest.fixture
def language_model(db: Database, tenant: str, tmp_path: Path) -> str:
    """A tiny random Llama registered as "tiny-lm" (Hugging Face format, local folder)."""
    folder = tiny_causal_lm(tmp_path / "tiny-lm")
    with db.session() as session:
        repository.register_model(
            session, tenant_id=tenant, name="tiny-lm", task="chat", format=TRANSFORMERS,
            details={"source": {"path": str(folder)}},
        )  # fmt: skip
    return "tiny-lm"
