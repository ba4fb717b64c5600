"""``aimaas files``: upload, list and delete data files, locally (for the admin tenant) or on
a running server with ``--url`` (for the key's tenant)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aimaas.cli.backend import Backend
from aimaas.cli.options import (
    JsonOpt,
    out,
    print_json,
    show,
    through_backend,
)
from aimaas.protocol.files import FileObject

files_app = typer.Typer(no_args_is_help=True, help="Upload, list and delete data files.")


def _summary(file: FileObject) -> str:
    details = file.details or {}
    parts = [str(details.get("format", "?"))]
    if "rows" in details:
        parts.append(f"{details['rows']} rows")
    if "classes" in details:
        parts.append(f"{len(details['classes'])} classes")
    return ", ".join(parts)


@files_app.command("upload")
@through_backend
def upload(
    backend: Backend,
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The file.")
    ],
    purpose: Annotated[str, typer.Option(help="training|evaluation|fine-tune|model")] = "training",
    as_json: JsonOpt = False,
) -> None:
    """Upload a CSV, NPZ, JSONL or zip of image folders; it is checked before it is kept."""
    file = backend.upload_file(path, purpose)
    show(
        file,
        as_json,
        f"Uploaded {file.filename} as {file.id} ({file.bytes} bytes; {_summary(file)}).",
    )


@files_app.command("list")
@through_backend
def list_files(
    backend: Backend,
    as_json: JsonOpt = False,
) -> None:
    """List uploaded files, newest first."""
    listing = backend.list_files()
    if as_json:
        print_json(listing)
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
@through_backend
def delete(
    backend: Backend,
    file_id: str,
) -> None:
    """Delete an uploaded file."""
    deleted = backend.delete_file(file_id)
    out.print(f"Deleted file {deleted.id}.")
