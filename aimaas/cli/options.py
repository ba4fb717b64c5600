"""What every admin command shares: where it acts (the local data directory, or a running
server with ``--url`` and ``--api-key``), ``--json``, and how it prints."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console, RenderableType
from rich.table import Table

from aimaas.cli.backend import Backend, open_backend
from aimaas.config import Settings, load_settings

out = Console()

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (AIMAAS_DATA_DIR).")
]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Act on a running server (AIMAAS_URL).")]
KeyOpt = Annotated[str | None, typer.Option("--api-key", help="Key for --url (AIMAAS_API_KEY).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def settings_for(
    data_dir: Path | None, url: str | None = None, api_key: str | None = None
) -> Settings:
    """The settings, with the options given on the command line in place of the others."""
    given = {"data_dir": data_dir, "url": url, "api_key": api_key}
    return load_settings(**{name: value for name, value in given.items() if value is not None})


def backend_for(data_dir: Path | None, url: str | None, api_key: str | None) -> Backend:
    return open_backend(settings_for(data_dir, url, api_key))


def through_backend(command: Callable[..., None]) -> Callable[..., None]:
    """A command that acts through a ``Backend``: it takes ``backend``, and its command line
    gets ``--data-dir``, ``--url`` and ``--api-key`` in that parameter's place (the local data
    directory, or a running server), so that every admin command says where it acts alike."""
    signature = inspect.signature(command, eval_str=True)
    own = [param for param in signature.parameters.values() if param.name != "backend"]
    where = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=option, default=None)
        for name, option in (("data_dir", DataDirOpt), ("url", UrlOpt), ("api_key", KeyOpt))
    ]

    @functools.wraps(command)
    def run(
        *args: Any,
        data_dir: Path | None = None,
        url: str | None = None,
        api_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        command(*args, backend=backend_for(data_dir, url, api_key), **kwargs)

    parameters = own + where
    run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {param.name: param.annotation for param in parameters}
    return run


def print_json(model: BaseModel) -> None:
    out.print_json(model.model_dump_json())


def show(value: BaseModel, as_json: bool, *text: RenderableType) -> None:
    """``value`` as JSON with ``--json``, else ``text``: lines or tables, one after another."""
    if as_json:
        print_json(value)
        return
    for part in text:
        out.print(part)


def table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    shown = Table(title=title)
    for column in columns:
        shown.add_column(column)
    for row in rows:
        shown.add_row(*row)
    return shown
