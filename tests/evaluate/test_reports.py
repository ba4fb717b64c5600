"""Plots are PNGs, the HTML page is self-contained and escapes everything a user named,
and a model that cannot be evaluated is refused with the reason."""

from __future__ import annotations

import pytest

from aimaas.errors import InvalidInput
from aimaas.evaluate import inputs, reports
from aimaas.evaluate.metrics import RocCurve
from aimaas.registry.tables import Model, ModelVersion

PNG = b"\x89PNG\r\n\x1a\n"
HOSTILE = '<script>alert("x")</script>'


def test_plots_are_pngs() -> None:
    labels = ["a", HOSTILE, "c"]
    matrix = [[5, 1, 0], [0, 4, 2], [1, 0, 6]]
    assert (reports.confusion_matrix_png(labels, matrix) or b"").startswith(PNG)
    assert reports.confusion_matrix_png(list(range(50)), [[0] * 50] * 50) is None
    curve = RocCurve(label="b", fpr=[0.0, 0.2, 1.0], tpr=[0.0, 0.8, 1.0], auc=0.8)
    assert (reports.roc_png([curve]) or b"").startswith(PNG)
    assert reports.roc_png([]) is None
    events = [
        {"type": "status", "status": "running"},
        {"type": "step", "epoch": 1, "loss": 1.2},
        {"type": "epoch", "epoch": 1, "loss": 1.0, "val_loss": 1.1, "val_accuracy": 0.5},
        {"type": "epoch", "epoch": 2, "loss": 0.5, "val_loss": float("nan"), "val_accuracy": 0.8},
    ]
    assert (reports.training_curves_png(events) or b"").startswith(PNG)
    assert reports.training_curves_png(events[:2]) is None


def test_the_page_escapes_what_users_named() -> None:
    evaluation = {
        "id": "job-1",
        "model": HOSTILE,
        "version": 2,
        "file": "file-1",
        "target": HOSTILE,
        "metrics": {"accuracy": 0.875, "f1_macro": 0.8123456789},
        "per_class": {HOSTILE: {"precision": 1.0, "recall": 0.5, "f1": 0.66, "support": 2.0}},
        "labels": [HOSTILE, "b"],
        "confusion_matrix": [[1, 1], [0, 2]],
        "notes": [HOSTILE],
    }
    page = reports.render_html(evaluation, {HOSTILE: PNG + b"data"}).decode()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "0.875" in page and "0.812346" in page
    assert page.count('<img alt="') == 1 and 'src="data:image/png;base64,' in page
    assert "http" not in page  # nothing to fetch: the page stands alone


def test_only_classifiers_regressors_and_hf_language_models_are_evaluated() -> None:
    def subject(fmt: str, task: str) -> tuple[Model, ModelVersion]:
        return Model(name="m", task=task), ModelVersion(format=fmt, version=1)

    assert inputs.method_for(*subject("aimaas-torch", "classification")) == "metrics"
    assert inputs.method_for(*subject("aimaas-torch", "regression")) == "metrics"
    assert inputs.method_for(*subject("aimaas-onnx", "classification")) == "metrics"
    assert inputs.method_for(*subject("transformers", "chat")) == "perplexity"
    for fmt, task, reason in (
        ("gguf", "chat", "perplexity needs a Hugging Face-format model"),
        ("aimaas-torch", "embedding", "embedding model"),
        ("sentence-transformers", "embedding", "cannot be evaluated"),
    ):
        with pytest.raises(InvalidInput, match=reason) as info:
            inputs.method_for(*subject(fmt, task))
        assert info.value.param == "model"
