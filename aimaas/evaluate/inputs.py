"""What an evaluation scores and on what: shared by the API (checks at submit time, so a
wrong model, file or target is a 400/404 at once) and by the worker that runs it."""

from __future__ import annotations

from aimaas.errors import InvalidInput
from aimaas.evaluate.dataset_predictions import model_inputs
from aimaas.evaluate.job_spec import Method
from aimaas.learn import artifacts
from aimaas.learn.inputs import read_file
from aimaas.learn.preprocessing import numeric_targets
from aimaas.learn.servable import Predictor
from aimaas.registry.db import Database
from aimaas.registry.formats import GGUF, TENSOR_FORMATS, TRANSFORMERS
from aimaas.registry.store import ArtifactStore, Owner
from aimaas.registry.tables import File, Model, ModelVersion
from aimaas.registry.version_details import VersionDetails
from aimaas.uploads.dataset import Dataset


def method_for(model: Model, version: ModelVersion) -> Method:
    """How this version is evaluated; InvalidInput(param="model") when it cannot be."""
    if version.format in TENSOR_FORMATS:  # trained here, or optimized from one
        if model.task not in ("classification", "regression"):
            raise InvalidInput(
                f"Model {model.name!r} is a {model.task} model; evaluations score "
                "classifiers, regressors and language models.",
                param="model",
            )
        return "metrics"
    if version.format == TRANSFORMERS:
        return "perplexity"
    if version.format == GGUF:
        raise InvalidInput(
            f"Model {model.name!r} is a GGUF model: perplexity needs a Hugging Face-format "
            "model (register its folder with `aimaas models add --hf-dir`).",
            param="model",
        )
    raise InvalidInput(
        f"Model {model.name!r} ({version.format}) cannot be evaluated; evaluations score "
        "trained classifiers and regressors, and language models in Hugging Face format.",
        param="model",
    )


def load_predictor(store: ArtifactStore, details: VersionDetails, owner: Owner) -> Predictor:
    """A trained (or optimized: ONNX, quantized, pruned) version's predictor."""
    files = details.stored_files
    weights = store.read(files[details.weights_name], owner)
    return artifacts.load_predictor(weights, store.read(files["model.json"], owner))


def version_owner(model: Model, version: ModelVersion) -> Owner:
    return Owner.model(model.tenant_id, model.name, version.id, version.version)


def labelled_data(
    db: Database, store: ArtifactStore, *, tenant_id: str, file_id: str, target: str | None,
    predictor: Predictor,
) -> Dataset:  # fmt: skip
    """The file as a labelled dataset that fits the model's input."""
    dataset = read_file(db, store, tenant_id=tenant_id, file_id=file_id, target=target,
                        param="file")  # fmt: skip
    if dataset.targets is None:
        raise InvalidInput(
            "The file has no labels or targets (an NPZ file needs 'y', JSON lines need "
            "'label') to score the model's answers against.",
            param="file",
        )
    if predictor.task == "regression" and numeric_targets(dataset.targets) is None:
        raise InvalidInput(
            "The target column holds text; a regressor is scored on numbers.", param="target"
        )
    model_inputs(predictor, dataset)  # the kind, columns and shape must fit
    return dataset


def corpus(db: Database, store: ArtifactStore, *, tenant_id: str, file_id: str) -> list[str]:
    """The texts of a JSON lines file ``{"text": ...}`` for perplexity."""
    with db.session() as session:
        row = session.get(File, file_id)
        format_ = None if row is None or row.tenant_id != tenant_id else row.details.get("format")
    if format_ is not None and format_ != "jsonl":
        raise InvalidInput(
            f"Perplexity is measured on text, and this file is {format_}: upload JSON lines, "
            'one {"text": "..."} per line.',
            param="file",
        )
    dataset = read_file(db, store, tenant_id=tenant_id, file_id=file_id, target=None,
                        param="file")  # fmt: skip
    assert dataset.texts is not None
    return dataset.texts
