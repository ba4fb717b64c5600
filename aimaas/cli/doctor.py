"""``aimaas doctor``: what runs on this machine, tried for real (see runtime/doctor.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from aimaas.config import load_settings
from aimaas.cpu import FEATURES
from aimaas.process import configure_process
from aimaas.runtime.doctor import diagnose


def doctor_command(
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="Check only this default model (repeatable)."),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory (AIMAAS_DATA_DIR).")
    ] = None,
) -> None:
    """Print the CPU's features, whether llama-server passes its check, and the backend each
    default model runs on and why; load each and generate. Exits 1 naming what is broken."""
    settings = load_settings(**({"data_dir": data_dir} if data_dir else {}))
    configure_process(threads=settings.engine.threads)
    out = Console(highlight=False)
    result = asyncio.run(diagnose(settings, only=model))
    missing = [f for f in FEATURES if f not in result.cpu.features]
    out.print(f"CPU: {result.cpu.model}")
    out.print(f"  has: {' '.join(result.cpu.features) or '-'}")
    out.print(f"  lacks: {' '.join(missing) or '-'}")
    out.print(f"llama-server: {result.llama_server}", markup=False)
    table = Table("model", "backend", "why", "answer", "seconds", "ok", title="Default models")
    for check in result.models:
        table.add_row(
            check.name,
            check.backend,
            check.why[:80],
            check.answer[:60],
            f"{check.seconds:.1f}",
            "ok" if check.ok else "BROKEN",
        )
    out.print(table)
    if result.broken:
        out.print(f"broken: {', '.join(result.broken)}", markup=False)
        raise typer.Exit(1)
    out.print("everything works here")
