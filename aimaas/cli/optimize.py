"""``aimaas optimize``: start an optimization on a running server, wait for it, and show
parent against child (size, latency at batch 1 and 32, metrics) as a table."""

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
from aimaas.cli.train import parse_assignments
from aimaas.config import load_settings
from aimaas.protocol.jobs import TERMINAL

out = Console()
err = Console(stderr=True)


def run_optimization(
    client: httpx.Client,
    body: dict[str, Any],
    *,
    wait: bool,
    console: Console,
    poll_seconds: float = 0.5,
) -> dict[str, Any]:
    created: dict[str, Any] = checked(client.post("/v1/optimizations", json=body))
    if not wait:
        return created
    with console.status(f"{body['method']} of {body['model']} ({created['id']})"):
        while True:
            found: dict[str, Any] = checked(client.get(f"/v1/optimizations/{created['id']}"))
            if found["status"] in TERMINAL:
                return found
            time.sleep(poll_seconds)


def comparison_table(comparison: dict[str, Any]) -> Table:
    parent, child = comparison["parent"], comparison["child"]
    table = Table(title=f"{parent['model']}:{parent['version']} -> {child['version']}")
    for column in ("", f"parent (v{parent['version']})", f"child (v{child['version']})", "ratio"):
        table.add_column(column, justify="right" if column else "left")
    table.add_row(
        "size (bytes)", f"{parent['size_bytes']:,}", f"{child['size_bytes']:,}",
        f"{comparison['ratios']['size']:.2f}x",
    )  # fmt: skip
    for batch, values in parent["latency_ms_p50"].items():
        after = child["latency_ms_p50"][batch]
        table.add_row(
            f"p50 latency {batch.replace('_', ' ')} (ms)",
            f"{values:.3f}",
            f"{after:.3f}",
            f"{after / values:.2f}x",
        )
    for name, value in parent["metrics"].items():
        if name in child["metrics"]:
            delta = child["metrics"][name] - value
            table.add_row(name, f"{value:.4f}", f"{child['metrics'][name]:.4f}", f"{delta:+.4f}")
    return table


def optimize_command(
    model: Annotated[str, typer.Argument(help="The model: name, name:VERSION or name@ALIAS.")],
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="quantize_dynamic, quantize_static, prune, prune_structured or export_onnx.",
        ),
    ],
    option: Annotated[
        list[str] | None,
        typer.Option("--set", help="An option, KEY=VALUE (repeatable): --set sparsity=0.5"),
    ] = None,
    evaluation_file: Annotated[
        str | None, typer.Option(help="Data to compare on: a path or a file id.")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for it and show the comparison.")] = True,
    url: Annotated[str | None, typer.Option("--url", help="Server (AIMAAS_URL).")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", help="AIMAAS_API_KEY.")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory (AIMAAS_DATA_DIR).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Optimize a trained model on a running server: a new version, compared to its parent."""
    overrides = {k: v for k, v in (("url", url), ("api_key", api_key), ("data_dir", data_dir)) if v}
    settings = load_settings(**overrides)
    with server_client(settings) as client:
        try:
            body: dict[str, Any] = {
                "model": model,
                "method": method,
                "options": parse_assignments(option or []),
            }
            if evaluation_file:
                body["evaluation_file"] = file_id(client, evaluation_file, purpose="evaluation")
            found = run_optimization(client, body, wait=wait, console=err)
        except httpx.HTTPError as exc:
            raise unreachable(client.base_url, exc) from exc
    if as_json:
        out.print_json(json.dumps(found))
    elif found["status"] == "succeeded":
        out.print(comparison_table(found["comparison"]))
        out.print(f"{found['result_model']}:{found['result_version']} registered.")
    else:
        out.print(f"Optimization {found['id']} is {found['status']}. {found.get('error') or ''}")
    if found["status"] in ("failed", "cancelled"):
        raise typer.Exit(1)
