"""``aimaas train``: upload data if needed, start a training job on a running server, and
follow it with a live progress bar until it ends."""

from __future__ import annotations

import json
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aimaas.cli.backend import CliError
from aimaas.cli.http import checked, file_id, server_client, unreachable
from aimaas.config import Settings

_METRICS = ("loss", "val_loss", "val_accuracy", "val_r2")


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``["epochs=10", "channels=[8,16]", "cell=gru"]`` -> typed hyperparameters."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--set takes KEY=VALUE, not {pair!r}.")
        try:
            parsed[key.strip()] = json.loads(raw)
        except ValueError:
            parsed[key.strip()] = raw
    return parsed


def _describe(data: dict[str, Any]) -> str:
    shown = [f"{k} {data[k]:.4g}" for k in _METRICS if isinstance(data.get(k), int | float)]
    return "  ".join(shown)


def follow(client: httpx.Client, job: dict[str, Any], console: Console) -> dict[str, Any]:
    """Show the job's progress until it ends; the job as it ended."""
    epochs = int(job["hyperparameters"].get("epochs") or 1)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[metrics]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"{job['algorithm']} {job['id']}", total=epochs, metrics="")
        headers = {"Accept": "text/event-stream"}
        path = f"/v1/training/jobs/{job['id']}/events"
        with client.stream("GET", path, headers=headers, timeout=None) as response:
            checked(response) if response.is_error else None
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                data = event.get("data", {})
                if event.get("type") == "epoch":
                    progress.update(
                        task,
                        completed=data.get("epoch", 0),
                        total=data.get("epochs", epochs),
                        metrics=_describe(data),
                    )
                elif event.get("type") == "early_stop":
                    progress.update(task, total=data.get("epoch"), completed=data.get("epoch"))
    ended: dict[str, Any] = checked(client.get(f"/v1/training/jobs/{job['id']}"))
    return ended


def run_training(
    settings: Settings,
    *,
    algorithm: str,
    file: str,
    model: str,
    target: str | None,
    validation_file: str | None,
    hyperparameters: dict[str, Any],
    seed: int | None,
    wait: bool,
    console: Console,
) -> dict[str, Any]:
    with server_client(settings) as client:
        try:
            body: dict[str, Any] = {
                "model": model,
                "algorithm": algorithm,
                "training_file": file_id(client, file, purpose="training"),
                "hyperparameters": hyperparameters,
            }
            if validation_file:
                body["validation_file"] = file_id(client, validation_file, purpose="training")
            if target:
                body["target"] = target
            if seed is not None:
                body["seed"] = seed
            job = checked(client.post("/v1/training/jobs", json=body))
            return follow(client, job, console) if wait else job
        except httpx.HTTPError as exc:
            raise unreachable(client.base_url, exc) from exc
