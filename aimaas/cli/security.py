"""``aimaas security``: the master key of encryption at rest.

- ``new-master-key [--out FILE]``: 32 random bytes as base64, into a new 0600 file.
- ``rotate-master-key --new-key-file FILE``: re-wrap every data key under the new key in
  one transaction, without re-encrypting any artifact (run it with the server stopped,
  then start it with the new key).
- ``status``: which master key the data keys are wrapped by.

They act on the local data directory and the configured (current) master key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import func, select

from aimaas.cli.backend import CliError
from aimaas.config import Settings, load_settings
from aimaas.crypto import MasterKey, MasterKeyError, load_master_key, new_key_text
from aimaas.registry.db import Database
from aimaas.registry.store import rewrap_data_keys
from aimaas.registry.tables import DataKey

security_app = typer.Typer(
    no_args_is_help=True, help="Encryption at rest: make and rotate the master key."
)
out = Console()

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (AIMAAS_DATA_DIR).")
]


def _settings(data_dir: Path | None) -> Settings:
    return load_settings(**({"data_dir": data_dir} if data_dir is not None else {}))


def _database(settings: Settings) -> Database:
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    db.migrate()
    return db


def _current_key(settings: Settings) -> MasterKey | None:
    try:
        return load_master_key(settings.security)
    except MasterKeyError as exc:
        raise CliError(str(exc)) from None


@security_app.command("new-master-key")
def new_master_key(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write it to this new file (mode 0600) instead of stdout."),
    ] = None,
) -> None:
    """Make a master key: 32 random bytes, base64."""
    text = new_key_text()
    if out_file is None:
        print(text)
        return
    try:
        fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CliError(f"{out_file} exists; a key file is never overwritten.") from None
    with os.fdopen(fd, "w") as stream:
        stream.write(text + "\n")
    key = MasterKey.from_base64(text)
    out.print(
        f"Master key {key.id} written to {out_file}; start aimaas with "
        f"AIMAAS_SECURITY__MASTER_KEY_FILE={out_file} and keep a copy somewhere safe: "
        "without it the encrypted artifacts cannot be read."
    )


@security_app.command("rotate-master-key")
def rotate_master_key(
    new_key_file: Annotated[
        Path, typer.Option("--new-key-file", help="The new master key (base64 of 32 bytes).")
    ],
    data_dir: DataDirOpt = None,
) -> None:
    """Re-wrap every data key under a new master key, in one transaction, without
    re-encrypting data. Stop the server first; start it again with the new key."""
    settings = _settings(data_dir)
    old = _current_key(settings)
    if old is None:
        raise CliError(
            "No current master key: set AIMAAS_SECURITY__MASTER_KEY_FILE (or "
            "AIMAAS_SECURITY__MASTER_KEY) to the key the data directory is encrypted under."
        )
    try:
        new = MasterKey.from_file(new_key_file)
    except MasterKeyError as exc:
        raise CliError(str(exc)) from None
    if new.id == old.id:
        raise CliError(f"The new key is the current one ({old.id}); make one with "
                       "`aimaas security new-master-key --out FILE`.")  # fmt: skip
    db = _database(settings)
    try:
        count = rewrap_data_keys(db, old, new)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    finally:
        db.dispose()
    out.print(
        f"Re-wrapped {count} data keys under master key {new.id} (was {old.id}); no artifact "
        f"was re-encrypted. Start aimaas with AIMAAS_SECURITY__MASTER_KEY_FILE={new_key_file}: "
        "the old key opens nothing any more."
    )


@security_app.command("status")
def status(data_dir: DataDirOpt = None) -> None:
    """The configured master key and the keys the data keys are wrapped by."""
    settings = _settings(data_dir)
    key = _current_key(settings)
    db = _database(settings)
    try:
        with db.session() as session:
            counts = dict(
                session.execute(
                    select(DataKey.master_key_id, func.count()).group_by(DataKey.master_key_id)
                ).all()
            )
    finally:
        db.dispose()
    out.print(f"configured master key: {key.id if key else 'none (artifacts stored in plaintext)'}")
    for key_id, count in sorted(counts.items()):
        mark = " (configured)" if key is not None and key_id == key.id else ""
        out.print(f"data keys wrapped by {key_id}{mark}: {count}")
    if not counts:
        out.print("no encrypted artifacts")
