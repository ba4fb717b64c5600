"""``aimaas audit``: the audit log, newest first, from the local data directory or (with
``--url``) a running server's ``GET /v1/admin/audit``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from aimaas.cli.http import checked, server_client, unreachable
from aimaas.config import load_settings
from aimaas.protocol.audit import AuditList
from aimaas.security.audit import MAX_LIMIT

out = Console()


def _fetch(
    data_dir: Path | None,
    url: str | None,
    api_key: str | None,
    params: dict[str, str | int],
) -> AuditList:
    overrides: dict[str, object] = {}
    for name, value in (("data_dir", data_dir), ("url", url), ("api_key", api_key)):
        if value is not None:
            overrides[name] = value
    settings = load_settings(**overrides)
    if settings.client.url:
        with server_client(settings, timeout=60) as client:
            try:
                response = client.get("/v1/admin/audit", params=params)
            except httpx.HTTPError as exc:
                raise unreachable(settings.client.url, exc) from exc
            return AuditList.model_validate(checked(response))
    from aimaas.registry.db import Database
    from aimaas.security.audit import audit_list

    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    try:
        db.migrate()
        since = params.get("since")
        return audit_list(
            db,
            tenant=str(params["tenant"]) if "tenant" in params else None,
            action=str(params["action"]) if "action" in params else None,
            since=datetime.fromisoformat(str(since)) if since else None,
            limit=int(params["limit"]),
        )
    finally:
        db.dispose()


def audit_command(
    tenant: Annotated[str | None, typer.Option(help="A tenant's id or name.")] = None,
    action: Annotated[
        str | None, typer.Option(help="An action (key.create), or a prefix ending in '.' (key.).")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Only from this time on (ISO 8601, UTC).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="Most rows shown.")] = 100,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory (AIMAAS_DATA_DIR).")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="A running server (AIMAAS_URL).")] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="An admin key for --url (AIMAAS_API_KEY).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show the audit log: who did what to which tenant's things, when and from where."""
    params: dict[str, str | int] = {"limit": limit}
    if tenant is not None:
        params["tenant"] = tenant
    if action is not None:
        params["action"] = action
    if since is not None:
        params["since"] = since.isoformat()
    events = _fetch(data_dir, url, api_key, params)
    if as_json:
        out.print_json(events.model_dump_json())
        return
    table = Table(title="Audit log")
    for column in ("when", "action", "tenant", "target", "key", "client", "request"):
        table.add_column(column)
    for event in events.data:
        table.add_row(
            event.created_at.isoformat(timespec="seconds"),
            event.action,
            event.tenant_name or event.tenant or "-",
            event.target or "-",
            event.key_id or "local",
            event.client or "-",
            event.request_id or "-",
        )
    out.print(table)
