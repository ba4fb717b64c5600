"""``aimaas files``: upload, list and delete data files, locally (for the admin tenant) or on
a running server with ``--url`` (for the key's tenant)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from aimaas.cli.backend import Backend, open_backend
from aimaas.config import load_settings
from aimaas.protocol.files import FileObject

files_app = typer.Typer(no_args_is_help=True, help="Upload, list and delete data files.")
out = Console()

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (AIMAAS_DATA_DIR).")
]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Act on a running server (AIMAAS_URL).")]
KeyOpt = Annotated[str | None, typer.Option("--api-key", help="Key for --url (AIMAAS_API_KEY).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _backend(data_dir: Path | None, url: str | None, api_key: str | None) -> Backend:
    overrides: dict[str, object] = {}
    for name, value in (("data_dir", data_dir), ("url", url), ("api_key", api_key)):
        if value is not None:
            overrides[name] = value
    return open_backend(load_settings(**overrides))


def _summary(file: FileObject) -> str:
    details = file.details or {}
    parts = [str(details.get("format", "?"))]
    if "rows" in details:
        parts.append(f"{details['rows']} rows")
    if "classes" in details:
        parts.append(f"{len(details['classes'])} classes")
    return ", ".join(parts)


@files_app.command("upload")
def upload(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The file.")
    ],
    purpose: Annotated[str, typer.Option(help="training|evaluation|fine-tune|model")] = "training",
    data_dir: DataDirOpt = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload a CSV, NPZ, JSONL or zip of image folders; it is checked before it is kept."""
    file = _backend(data_dir, url, api_key).upload_file(path, purpose)
    if as_json:
        out.print_json(file.model_dump_json())
    else:
        out.print(f"Uploaded {file.filename} as {file.id} ({file.bytes} bytes; {_summary(file)}).")


@files_app.command("list")
def list_files(
    data_dir: DataDirOpt = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List uploaded files, newest first."""
    listing = _backend(data_dir, url, api_key).list_files()
    if as_json:
        out.print_json(listing.model_dump_json())
        return
    table = Table(title="Files")
    table.add_column("id", no_wrap=True)  # whole, to be copied into other commands
    for column in ("filename", "purpose", "bytes", "content", "created"):
        table.add_column(column)
    for file in listing.data:
        created = datetime.fromtimestamp(file.created_at, UTC).isoformat(timespec="seconds")
        table.add_row(
            file.id, file.filename, file.purpose, str(file.bytes), _summary(file), created
        )
    out.print(table)


@files_app.command("delete")
def delete(
    file_id: str,
    data_dir: DataDirOpt = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
) -> None:
    """Delete an uploaded file."""
    deleted = _backend(data_dir, url, api_key).delete_file(file_id)
    out.print(f"Deleted file {deleted.id}.")
