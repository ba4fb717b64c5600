"""``aimaas security``: the master key of encryption at rest.

- ``new-master-key [--out FILE]``: 32 random bytes as base64, into a new 0600 file.
- ``rotate-master-key --new-key-file FILE``: re-wrap every data key under the new key in
  one transaction, without re-encrypting any artifact (run it with the server stopped,
  then start it with the new key).
- ``seal-existing``: seal, in place, the artifacts stored before the master key was set;
  each plaintext object is removed once its sealed copies are verified (resumable).
- ``status [--json]``: which master key the data keys are wrapped by, and how many
  artifacts (and bytes) are sealed and how many still plaintext.

They act on the local data directory and the configured (current) master key.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from aimaas.cli.backend import CliError
from aimaas.cli.options import DataDirOpt, out, settings_for
from aimaas.config import Settings
from aimaas.crypto import MasterKey, MasterKeyError, load_master_key, new_key_text
from aimaas.registry.db import Database
from aimaas.registry.store import SealedStore
from aimaas.registry.store.references import Reference
from aimaas.registry.store.rotation import rewrap_data_keys
from aimaas.registry.store.sealing import Amount, StoreCensus, census, seal_existing

security_app = typer.Typer(
    no_args_is_help=True,
    help="Encryption at rest: make and rotate the master key, seal what was stored before it.",
)


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
    settings = settings_for(data_dir)
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


@security_app.command("seal-existing")
def seal_existing_command(data_dir: DataDirOpt = None) -> None:
    """Seal the artifacts stored before the master key was set, in place: each plaintext
    object is removed once its sealed copies decrypt to the same sha256. Stop the server
    first; safe to interrupt and run again."""
    settings = settings_for(data_dir)
    key = _current_key(settings)
    if key is None:
        raise CliError(
            "seal-existing needs the master key to seal with: set "
            "AIMAAS_SECURITY__MASTER_KEY_FILE (or AIMAAS_SECURITY__MASTER_KEY); "
            "`aimaas security new-master-key --out FILE` makes one."
        )
    db = _database(settings)
    try:
        store = SealedStore(settings.storage.artifacts_dir, db=db, master_key=key)
        try:
            store.prepare()
        except ValueError as exc:
            raise CliError(str(exc)) from None

        def sealed(ref: Reference) -> None:
            out.print(
                f"sealed {ref.owner.label} ({ref.digest[:12]})", highlight=False, markup=False
            )

        outcome = seal_existing(store, db, on_sealed=sealed)
        left = census(settings.storage.artifacts_dir, db, key.id)
    finally:
        db.dispose()
    out.print(
        f"Sealed {outcome.sealed.count} artifacts ({_bytes(outcome.sealed)}) under master key "
        f"{key.id}; {outcome.already_sealed} were sealed already; removed "
        f"{outcome.plaintext_removed.count} plaintext objects "
        f"({_bytes(outcome.plaintext_removed)}).",
        highlight=False,
        markup=False,
    )
    if outcome.missing:
        out.print(
            f"{len(outcome.missing)} artifacts named in the registry are not stored at all: "
            f"{_some(outcome.missing)}.",
            highlight=False,
            markup=False,
        )
    if left.unreferenced_plaintext.count:
        out.print(
            f"{left.unreferenced_plaintext.count} plaintext objects "
            f"({_bytes(left.unreferenced_plaintext)}) under {settings.storage.artifacts_dir}"
            "/sha256 are named by no model version, file or report; they were left as they are.",
            highlight=False,
            markup=False,
        )
    if outcome.damaged:
        raise CliError(
            f"{len(outcome.damaged)} plaintext artifacts do not hash to their digest and stay "
            f"as they are: {_some(outcome.damaged)}; restore them from a backup or register "
            "them again, then run `aimaas security seal-existing` again."
        )


def _bytes(amount: Amount) -> str:
    return f"{amount.bytes:,} bytes"


def _some(labels: list[str], shown: int = 5) -> str:
    more = f" and {len(labels) - shown} more" if len(labels) > shown else ""
    return ", ".join(labels[:shown]) + more


@security_app.command("status")
def status(
    data_dir: DataDirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The configured master key, the keys the data keys are wrapped by, and how many
    artifacts are sealed and how many still plaintext."""
    settings = settings_for(data_dir)
    key = _current_key(settings)
    db = _database(settings)
    try:
        found = census(settings.storage.artifacts_dir, db, key.id if key else None)
    finally:
        db.dispose()
    if as_json:
        print(json.dumps(asdict(found), indent=2))
        return
    _print_census(found)


def _print_census(found: StoreCensus) -> None:
    say = out.print
    key = found.master_key_id
    say(
        f"configured master key: {key or 'none (artifacts stored in plaintext)'}",
        highlight=False,
        markup=False,
    )
    for key_id, count in sorted(found.data_keys.items()):
        mark = " (configured)" if key_id == key else ""
        say(f"data keys wrapped by {key_id}{mark}: {count}", highlight=False, markup=False)
    if not found.data_keys:
        say("no encrypted artifacts")
    say(
        f"sealed artifacts: {found.sealed.count} ({_bytes(found.sealed)})",
        highlight=False,
        markup=False,
    )
    hint = (
        "`aimaas security seal-existing` seals them"
        if key
        else "set a master key, then `aimaas security seal-existing` seals them"
    )
    plain = f"plaintext artifacts: {found.plaintext.count} ({_bytes(found.plaintext)})"
    say(plain + (f"; {hint}" if found.plaintext.count else ""), highlight=False, markup=False)
    if found.plaintext_of_sealed.count:
        say(
            f"plaintext objects of sealed artifacts: {found.plaintext_of_sealed.count} "
            f"({_bytes(found.plaintext_of_sealed)}); `aimaas security seal-existing` "
            "removes them",
            highlight=False,
            markup=False,
        )
    if found.unreferenced_plaintext.count:
        say(
            f"plaintext objects no row names: {found.unreferenced_plaintext.count} "
            f"({_bytes(found.unreferenced_plaintext)})",
            highlight=False,
            markup=False,
        )
    if found.missing:
        say(
            f"artifacts named in the registry but not stored: {found.missing}",
            highlight=False,
            markup=False,
        )
