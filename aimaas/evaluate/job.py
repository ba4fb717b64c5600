"""The evaluation job's handler: score a model version on a file, draw the plots, write the
HTML report into the artifact store, and record the metrics on the version when the job is
recorded as succeeded (same transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from aimaas.errors import InvalidInput
from aimaas.evaluate import inputs, reports
from aimaas.evaluate.job_spec import EvaluationJobResult, EvaluationJobSpec, EvaluationReports
from aimaas.evaluate.metrics import Evaluation, evaluate_predictor
from aimaas.evaluate.perplexity import perplexity
from aimaas.jobs.context import Finalize, JobContext
from aimaas.registry import jobs
from aimaas.registry.store import Owner
from aimaas.registry.tables import Model, ModelVersion, utcnow
from aimaas.registry.version_details import RecordedEvaluation, VersionDetails

KEEP_ON_VERSION = 100  # the newest evaluations kept in a version's details


def run_evaluation(context: JobContext[EvaluationJobSpec]) -> Finalize[EvaluationJobResult]:
    spec = context.spec
    with context.db.session() as session:
        version = session.get(ModelVersion, spec.version_id)
        model = None if version is None else session.get(Model, version.model_id)
        if version is None or model is None:
            raise InvalidInput(
                f"Model {spec.model}:{spec.version} no longer exists.", param="model"
            )
        details = VersionDetails.of(version)
        owner = inputs.version_owner(model, version)
        owned = model.tenant_id == context.tenant_id
        training_job = details.training_job_id
        training_events = (
            [dict(e.data) for e in jobs.list_events(session, job_id=training_job)]
            if training_job
            else []
        )
    context.check_stop()
    if spec.method == "perplexity":
        texts = inputs.corpus(
            context.db, context.store, tenant_id=context.tenant_id, file_id=spec.file
        )
        evaluation = perplexity(details.model_folder, texts, check_stop=context.check_stop)
    else:
        predictor = inputs.load_predictor(context.store, details, owner)
        dataset = inputs.labelled_data(
            context.db, context.store, tenant_id=context.tenant_id, file_id=spec.file,
            target=spec.target, predictor=predictor,
        )  # fmt: skip
        context.check_stop()
        evaluation = evaluate_predictor(predictor, dataset)
    context.check_stop()
    result = summary(evaluation, spec)
    plots = draw(evaluation, training_events)
    page = reports.render_html(
        {
            **result.model_dump(),
            "id": context.job_id,
            "evaluated_at": utcnow().isoformat(timespec="seconds"),
        },
        plots,
    )
    report = Owner.report(context.tenant_id, context.job_id)
    result.reports = EvaluationReports(
        html=context.store.put(page, report),
        plots={name: context.store.put(png, report) for name, png in plots.items()},
    )
    context.event({"type": "evaluated", "metrics": evaluation.metrics})

    def record(session: Session) -> EvaluationJobResult:
        if owned:  # never on a shared model: other tenants would see this tenant's file
            row = session.get(ModelVersion, spec.version_id)
            if row is not None:
                current = VersionDetails.of(row)
                kept = current.evaluations[-(KEEP_ON_VERSION - 1) :]
                kept.append(
                    RecordedEvaluation(
                        id=context.job_id,
                        file=spec.file,
                        target=spec.target,
                        metrics=evaluation.metrics,
                        finished_at=utcnow().isoformat(timespec="seconds"),
                    )
                )
                row.details = current.model_copy(update={"evaluations": kept}).dump()
        return result

    return record


def summary(evaluation: Evaluation, spec: EvaluationJobSpec) -> EvaluationJobResult:
    """The job's result: the evaluation without its curve points, plus what was scored."""
    data: dict[str, Any] = evaluation.to_json()
    data.pop("roc_curves", None)
    return EvaluationJobResult(
        **data, model=spec.model, version=spec.version, file=spec.file, target=spec.target
    )


def draw(evaluation: Evaluation, training_events: list[dict[str, Any]]) -> dict[str, bytes]:
    """Title -> PNG for each plot that applies."""
    plots: dict[str, bytes] = {}
    if evaluation.labels and evaluation.confusion_matrix:
        png = reports.confusion_matrix_png(evaluation.labels, evaluation.confusion_matrix)
        if png is not None:
            plots["Confusion matrix"] = png
    if evaluation.roc_curves:
        png = reports.roc_png(evaluation.roc_curves)
        if png is not None:
            plots["ROC curves"] = png
    curves = reports.training_curves_png(training_events)
    if curves is not None:
        plots["Training curves"] = curves
    return plots
