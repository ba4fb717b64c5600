"""The promotion gate: may an alias move to a candidate version, judged by the newest
succeeded evaluations recorded on the versions (a Conflict with both numbers when not)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from aimaas.errors import Conflict, InvalidInput
from aimaas.evaluate.names import ALL_METRICS, LOWER_IS_BETTER, better
from aimaas.protocol.aliases import Requirement
from aimaas.registry import aliases
from aimaas.registry.tables import Model, ModelVersion
from aimaas.registry.version_details import RecordedEvaluation, VersionDetails


def newest_evaluation(version: ModelVersion, *, file: str | None) -> RecordedEvaluation | None:
    """The newest succeeded evaluation recorded on ``version`` (on ``file`` if given)."""
    for entry in reversed(VersionDetails.of(version).evaluations):
        if file is None or entry.file == file:
            return entry
    return None


def gate(
    session: Session, model: Model, alias: str, candidate: ModelVersion, require: Requirement
) -> dict[str, Any]:
    """Check ``require`` for moving ``alias`` to ``candidate``; Conflict (409) with both
    numbers when the candidate is worse. Returns what was compared."""
    metric = require.metric
    if metric not in ALL_METRICS:
        raise InvalidInput(
            f"Unknown metric {metric!r}; choose from {', '.join(ALL_METRICS)}.",
            param="require.metric",
        )
    if require.min is None and not require.at_least_current:
        raise InvalidInput(
            "'require' needs 'min', 'at_least_current': true, or both.", param="require"
        )
    where = f" on file {require.file!r}" if require.file else ""
    label = f"{model.name}:{candidate.version}"
    evaluation = newest_evaluation(candidate, file=require.file)
    if evaluation is None:
        raise Conflict(
            f"{label} has no succeeded evaluation{where}; run one first: POST /v1/evaluations "
            f'{{"model": "{label}", "file": "..."}}.',
            param="require",
        )
    value = _metric(evaluation, metric, label)
    lower = metric in LOWER_IS_BETTER
    check: dict[str, Any] = {
        "metric": metric,
        "lower_is_better": lower,
        "candidate": {"version": candidate.version, "value": value, "evaluation": evaluation.id},
    }
    if require.min is not None:
        if not better(metric, value, require.min):
            bound = "at most" if lower else "at least"
            raise Conflict(
                f"{label} has {metric} {value:.6g}{where} (evaluation {evaluation.id}); "
                f"the gate requires {bound} {require.min:.6g}"
                + (f" (lower is better for {metric})." if lower else "."),
                param="require.min",
            )
        check["min"] = require.min
    if require.at_least_current:
        holder = aliases.current(session, model=model, alias=alias)
        if holder is not None and holder.id != candidate.id:
            reference_label = f"{model.name}:{holder.version}"
            reference = newest_evaluation(holder, file=evaluation.file)
            if reference is None:
                raise Conflict(
                    f"{reference_label}, which {model.name}@{alias} names now, has no "
                    f"succeeded evaluation on file {evaluation.file!r} to compare with; "
                    f"evaluate it on that file first.",
                    param="require.at_least_current",
                )
            held = _metric(reference, metric, reference_label)
            if not better(metric, value, held):
                direction = "lower" if lower else "higher"
                raise Conflict(
                    f"{label} has {metric} {value:.6g} but {reference_label} "
                    f"({model.name}@{alias} now) has {held:.6g} on file "
                    f"{evaluation.file!r}; {direction} is better, so {alias} stays on "
                    f"version {holder.version}.",
                    param="require.at_least_current",
                )
            check["current"] = {
                "version": holder.version,
                "value": held,
                "evaluation": reference.id,
            }
    return check


def _metric(evaluation: RecordedEvaluation, metric: str, label: str) -> float:
    metrics = evaluation.metrics
    if metric not in metrics:
        raise InvalidInput(
            f"The evaluation {evaluation.id} of {label} has no {metric!r}; it has "
            f"{', '.join(sorted(metrics))}.",
            param="require.metric",
        )
    return float(metrics[metric])
