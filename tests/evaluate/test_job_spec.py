"""An evaluation job's spec and result as stored: JSON round trips, the two methods only,
a frozen spec, and a result whose optional parts default to nothing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aimaas.evaluate.job_spec import EvaluationJobResult, EvaluationJobSpec, EvaluationReports

SPEC = {
    "model": "iris", "ref": "iris@prod", "version": 2, "version_id": "mv-1",
    "method": "metrics", "file": "file-1", "target": "label",
}  # fmt: skip


def test_the_spec_round_trips_through_json_and_is_frozen() -> None:
    spec = EvaluationJobSpec.model_validate(SPEC)
    assert spec.model_dump(mode="json") == SPEC
    assert EvaluationJobSpec.model_validate_json(spec.model_dump_json()) == spec
    with pytest.raises(ValidationError, match="frozen"):
        spec.version = 3  # type: ignore[misc]
    perplexity = EvaluationJobSpec.model_validate({**SPEC, "method": "perplexity", "target": None})
    assert perplexity.method == "perplexity" and perplexity.target is None


@pytest.mark.parametrize("change", [{"method": "bleu"}, {"version": "two"}, {"file": None}])
def test_a_spec_outside_its_types_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EvaluationJobSpec.model_validate({**SPEC, **change})


def test_a_result_defaults_its_optional_parts_and_keeps_its_reports() -> None:
    first = EvaluationJobResult(task="regression", rows=3, metrics={"mse": 1.5}, model="m",
                                version=1, file="file-1", target="y")  # fmt: skip
    assert first.per_class is None and first.confusion_matrix is None and first.labels is None
    assert first.unseen_labels is None and first.reports is None and first.notes == []
    first.notes.append("a note")
    second = EvaluationJobResult(task="regression", rows=3, metrics={}, model="m", version=1,
                                 file="file-1", target=None)  # fmt: skip
    assert second.notes == []  # not shared between results
    first.reports = EvaluationReports(html="sha256-a", plots={"ROC curves": "sha256-b"})
    again = EvaluationJobResult.model_validate_json(first.model_dump_json())
    assert again == first and again.reports is not None
    assert again.reports.plots == {"ROC curves": "sha256-b"}
