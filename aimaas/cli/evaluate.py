"""``aimaas eval MODEL --file PATH_OR_ID``: upload the file if it is a path, start an
evaluation on a running server, wait for it, and print its metrics as a Rich table (and
one row per class for a classifier)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from aimaas.cli.http import checked, file_id, server_client, unreachable
from aimaas.config import load_settings
from aimaas.protocol.jobs import TERMINAL

out = Console()
err = Console(stderr=True)


def run_evaluation(
    client: httpx.Client, *, model: str, file: str, target: str | None, poll_seconds: float = 0.5
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "file": file_id(client, file, purpose="evaluation")}
    if target:
        body["target"] = target
    evaluation: dict[str, Any] = checked(client.post("/v1/evaluations", json=body))
    with err.status(f"Evaluating {evaluation['model']}:{evaluation['version']}..."):
        while evaluation["status"] not in TERMINAL:
            time.sleep(poll_seconds)
            evaluation = checked(client.get(f"/v1/evaluations/{evaluation['id']}"))
    return evaluation


def tables(evaluation: dict[str, Any]) -> list[Table]:
    """The metrics table, and the per-class table for a classifier."""
    title = f"{evaluation['model']}:{evaluation['version']} on {evaluation['file']}"
    metrics = Table(title=title)
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for name, value in (evaluation.get("metrics") or {}).items():
        metrics.add_row(name, f"{value:.6g}")
    found = [metrics]
    per_class = evaluation.get("per_class")
    if per_class:
        table = Table(title="per class")
        for column in ("class", "precision", "recall", "f1", "support"):
            table.add_column(column, justify="left" if column == "class" else "right")
        for label, row in per_class.items():
            table.add_row(
                label,
                *(f"{row[k]:.4g}" for k in ("precision", "recall", "f1")),
                str(int(row["support"])),
            )
        found.append(table)
    return found


def eval_command(
    model: Annotated[str, typer.Argument(help="'name', 'name:VERSION' or 'name@ALIAS'.")],
    file: Annotated[str, typer.Option("--file", help="Evaluation data: a path or a file id.")],
    target: Annotated[
        str | None, typer.Option(help="Target column (default: the one it was trained on).")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="The server (AIMAAS_URL).")] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="Key for --url (AIMAAS_API_KEY).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory (AIMAAS_DATA_DIR).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Evaluate a model on a running server and print its metrics."""
    overrides: dict[str, object] = {}
    for name, value in (("data_dir", data_dir), ("url", url), ("api_key", api_key)):
        if value is not None:
            overrides[name] = value
    with server_client(load_settings(**overrides)) as client:
        try:
            evaluation = run_evaluation(client, model=model, file=file, target=target)
        except httpx.HTTPError as exc:
            raise unreachable(client.base_url, exc) from exc
    if as_json:
        out.print_json(json.dumps(evaluation))
    elif evaluation["status"] == "succeeded":
        for table in tables(evaluation):
            out.print(table)
        for note in evaluation.get("notes") or []:
            out.print(f"note: {note}")
        out.print(f"Report: {evaluation['report_url']}")
    if evaluation["status"] != "succeeded":
        err.print(f"Evaluation {evaluation['id']} {evaluation['status']}: {evaluation['error']}")
        raise typer.Exit(1)
