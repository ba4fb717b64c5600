"""Plots (PNG, matplotlib) and one self-contained HTML page per evaluation.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot state, safe in
any thread). The HTML page embeds its plots as ``data:`` URIs and escapes every string that
came from a user (model names, labels, file names, notes) with ``html.escape``.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from aimaas.evaluate.metrics import RocCurve

MAX_MATRIX_LABELS = 40  # beyond this a confusion matrix plot is unreadable: table only


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def confusion_matrix_png(labels: Sequence[Any], matrix: Sequence[Sequence[int]]) -> bytes | None:
    """Rows are true labels, columns predicted ones; None when there are too many labels."""
    k = len(labels)
    if k == 0 or k > MAX_MATRIX_LABELS:
        return None
    size = min(12.0, 2.5 + 0.45 * k)
    figure = Figure(figsize=(size, size * 0.85), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=ax, shrink=0.8)
    names = [str(label)[:24] for label in labels]
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix")
    peak = max((max(row) for row in matrix), default=0)
    if k <= 20:
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                colour = "white" if peak and value > peak / 2 else "black"
                ax.text(j, i, str(value), ha="center", va="center", color=colour, fontsize=8)
    return _png(figure)


def roc_png(curves: Sequence[RocCurve]) -> bytes | None:
    """One ROC curve per positive class (one for a binary model, one-vs-rest otherwise)."""
    if not curves:
        return None
    figure = Figure(figsize=(6, 5), layout="constrained")
    ax = figure.subplots()
    for curve in curves[:MAX_MATRIX_LABELS]:
        ax.plot(curve.fpr, curve.tpr, label=f"{curve.label[:24]} (AUC {curve.auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve" if len(curves) == 1 else "ROC curves (one-vs-rest)")
    ax.legend(loc="lower right", fontsize=8)
    return _png(figure)


def training_curves_png(events: Iterable[Mapping[str, Any]]) -> bytes | None:
    """Training loss (per step and per epoch) and validation curves from a training job's
    events; None when the job left no epoch events."""
    epochs = [e for e in events if e.get("type") == "epoch" and _number(e.get("epoch"))]
    if not epochs:
        return None
    validation = sorted(
        {k for e in epochs for k, v in e.items() if k.startswith("val_") and _number(v)}
    )
    scores = [k for k in validation if k != "val_loss"]
    figure = Figure(figsize=(11 if scores else 6, 4), layout="constrained")
    axes = figure.subplots(1, 2 if scores else 1, squeeze=False)[0]
    x = [float(e["epoch"]) for e in epochs]
    _series(axes[0], x, [e.get("loss") for e in epochs], "training loss", marker="o")
    if "val_loss" in validation:
        _series(axes[0], x, [e.get("val_loss") for e in epochs], "validation loss", marker="s")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss")
    axes[0].set_title("Loss")
    axes[0].legend(fontsize=8)
    if scores:
        for name in scores:
            _series(axes[1], x, [e.get(name) for e in epochs], name, marker="o")
        axes[1].set_xlabel("epoch")
        axes[1].set_title("Validation metrics")
        axes[1].legend(fontsize=8)
    return _png(figure)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _series(ax: Any, x: list[float], values: list[Any], label: str, *, marker: str) -> None:
    points = [(a, float(b)) for a, b in zip(x, values, strict=True) if _number(b)]
    if points:
        ax.plot(
            [a for a, _ in points], [b for _, b in points], label=label, marker=marker,
            markersize=3,
        )  # fmt: skip


# --- HTML ----------------------------------------------------------------------------------

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222 }
table { border-collapse: collapse; margin: 0.5em 0 1.5em }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right }
th:first-child, td:first-child { text-align: left }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3em }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em }
.notes { background: #fff6dc; padding: 0.5em 1em; border-left: 4px solid #e0b000 }
.meta td { text-align: left }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render_html(evaluation: Mapping[str, Any], plots: Mapping[str, bytes]) -> bytes:
    """The report page of one evaluation (the job's result, plus ``id``, ``model``,
    ``version``, ``file``, ``target``, ``evaluated_at``), with ``plots`` (title -> PNG)."""
    title = f"Evaluation of {evaluation.get('model')}:{evaluation.get('version')}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        '<table class="meta">',
    ]
    for key in ("id", "model", "version", "task", "file", "target", "rows", "evaluated_at"):
        if evaluation.get(key) is not None:
            parts.append(f"<tr><td>{_e(key)}</td><td>{_e(evaluation[key])}</td></tr>")
    parts.append("</table>")
    notes = list(evaluation.get("notes") or [])
    if notes:
        items = "".join(f"<li>{_e(note)}</li>" for note in notes)
        parts.append(f'<div class="notes"><ul>{items}</ul></div>')
    metrics: Mapping[str, Any] = evaluation.get("metrics") or {}
    parts.append("<table><caption>Metrics</caption><tr><th>metric</th><th>value</th></tr>")
    for name, value in metrics.items():
        parts.append(f"<tr><td>{_e(name)}</td><td>{_e(_format(value))}</td></tr>")
    parts.append("</table>")
    per_class: Mapping[str, Mapping[str, Any]] | None = evaluation.get("per_class")
    if per_class:
        parts.append(
            "<table><caption>Per class</caption><tr><th>class</th><th>precision</th>"
            "<th>recall</th><th>f1</th><th>support</th></tr>"
        )
        for label, row in per_class.items():
            cells = "".join(
                f"<td>{_e(_format(row.get(k)))}</td>"
                for k in ("precision", "recall", "f1", "support")
            )
            parts.append(f"<tr><td>{_e(label)}</td>{cells}</tr>")
        parts.append("</table>")
    labels, matrix = evaluation.get("labels"), evaluation.get("confusion_matrix")
    if labels and matrix:
        header = "".join(f"<th>{_e(label)}</th>" for label in labels)
        parts.append(
            "<table><caption>Confusion matrix (rows: true, columns: predicted)</caption>"
            f"<tr><th></th>{header}</tr>"
        )
        for label, row in zip(labels, matrix, strict=True):
            cells = "".join(f"<td>{_e(v)}</td>" for v in row)
            parts.append(f"<tr><th>{_e(label)}</th>{cells}</tr>")
        parts.append("</table>")
    for name, png in plots.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>{_e(name)}</h2>")
        parts.append(f'<img alt="{_e(name)}" src="data:image/png;base64,{data}">')
    parts.append("</body></html>")
    return "\n".join(parts).encode("utf-8")
