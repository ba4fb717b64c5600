"""``aimaas keys limits KEY_ID``, ``aimaas tenants limits NAME`` and ``aimaas usage``: show and
set rate limits and quotas, and print usage as a Rich table."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from aimaas.cli.backend import Backend, CliError
from aimaas.cli.options import (
    JsonOpt,
    show,
    through_backend,
)
from aimaas.protocol.limits import LimitsOut, UsageList, UsageQuery
from aimaas.security.limits import KEY_LIMITS, TENANT_LIMITS

ClearOpt = Annotated[
    bool, typer.Option("--clear", help="Start from no limits (then apply the options given).")
]


def _limit_option(name: str, what: str) -> Any:
    return typer.Option(f"--{name.replace('_', '-')}", help=f"{what}; 'none' removes it.")


RpmOpt = Annotated[str | None, _limit_option("requests_per_minute", "Requests per minute")]
TpmOpt = Annotated[str | None, _limit_option("tokens_per_minute", "Tokens per minute")]
TpdOpt = Annotated[str | None, _limit_option("tokens_per_day", "Tokens per UTC day")]
TpMonthOpt = Annotated[str | None, _limit_option("tokens_per_month", "Tokens per UTC month")]
JobsOpt = Annotated[str | None, _limit_option("jobs_per_day", "Job submissions per UTC day")]
BytesOpt = Annotated[
    str | None, _limit_option("upload_bytes_per_day", "Uploaded bytes per UTC day")
]


def parse_limit(name: str, value: str) -> int | None:
    """'none' (or 'off', '-') for no limit, else a whole number (underscores allowed)."""
    text = value.strip().lower()
    if text in ("none", "off", "-", ""):
        return None
    try:
        return int(text.replace("_", ""))
    except ValueError:
        raise CliError(
            f"--{name.replace('_', '-')}: {value!r} is not a number or 'none'."
        ) from None


def limits_table(limits: LimitsOut) -> Table:
    label = f"{limits.subject} {limits.name or limits.id}"
    table = Table(title=f"Limits of {label}")
    for column in ("limit", "value", "used", "remaining"):
        table.add_column(column, justify="left" if column == "limit" else "right")
    for name, value in limits.limits.items():
        remaining = limits.remaining.get(name)
        table.add_row(
            name,
            "-" if value is None else f"{value:,}",
            f"{limits.used.get(name, 0):,}",
            "-" if remaining is None else f"{remaining:,}",
        )
    return table


def _apply(
    backend: Backend,
    kind: Literal["key", "tenant"],
    ref: str,
    given: dict[str, str | None],
    clear: bool,
) -> LimitsOut:
    changes = {name: parse_limit(name, value) for name, value in given.items() if value is not None}
    if not changes and not clear:
        return backend.get_limits(kind, ref)
    names = KEY_LIMITS if kind == "key" else TENANT_LIMITS
    current = dict.fromkeys(names) if clear else dict(backend.get_limits(kind, ref).limits)
    return backend.set_limits(kind, ref, {**current, **changes})


@through_backend
def key_limits(
    backend: Backend,
    key_id: Annotated[str, typer.Argument(help="The key's id (`aimaas keys list`).")],
    requests_per_minute: RpmOpt = None,
    tokens_per_minute: TpmOpt = None,
    tokens_per_day: TpdOpt = None,
    tokens_per_month: TpMonthOpt = None,
    clear: ClearOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a key's limits, or change those given (the others stay)."""
    limits = _apply(
        backend,
        "key",
        key_id,
        {
            "requests_per_minute": requests_per_minute,
            "tokens_per_minute": tokens_per_minute,
            "tokens_per_day": tokens_per_day,
            "tokens_per_month": tokens_per_month,
        },
        clear,
    )
    show(limits, as_json, limits_table(limits))


@through_backend
def tenant_limits(
    backend: Backend,
    tenant: Annotated[str, typer.Argument(help="The tenant's name or id.")],
    requests_per_minute: RpmOpt = None,
    tokens_per_minute: TpmOpt = None,
    tokens_per_day: TpdOpt = None,
    tokens_per_month: TpMonthOpt = None,
    jobs_per_day: JobsOpt = None,
    upload_bytes_per_day: BytesOpt = None,
    clear: ClearOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a tenant's limits (all its keys together), or change those given."""
    limits = _apply(
        backend,
        "tenant",
        tenant,
        {
            "requests_per_minute": requests_per_minute,
            "tokens_per_minute": tokens_per_minute,
            "tokens_per_day": tokens_per_day,
            "tokens_per_month": tokens_per_month,
            "jobs_per_day": jobs_per_day,
            "upload_bytes_per_day": upload_bytes_per_day,
        },
        clear,
    )
    show(limits, as_json, limits_table(limits))


def usage_tables(report: UsageList) -> list[Table]:
    table = Table(title=f"Usage {report.start} to {report.end}")
    for column in ("date", "model", "key", "requests", "prompt tokens", "completion tokens"):
        table.add_column(
            column, justify="right" if "tokens" in column or column == "requests" else "left"
        )
    for row in report.data:
        table.add_row(
            row.date,
            row.model,
            row.key_id or "-",
            f"{row.requests:,}",
            f"{row.prompt_tokens:,}",
            f"{row.completion_tokens:,}",
        )
    if report.data:
        table.add_section()
        table.add_row(
            "total",
            "",
            "",
            f"{sum(r.requests for r in report.data):,}",
            f"{sum(r.prompt_tokens for r in report.data):,}",
            f"{sum(r.completion_tokens for r in report.data):,}",
        )
    limited = [
        limits
        for limits in report.limits.values()
        if any(value is not None for value in limits.limits.values())
    ]
    return [table, *(limits_table(limits) for limits in limited)]


@through_backend
def usage(
    backend: Backend,
    tenant: Annotated[
        bool, typer.Option("--tenant", help="The whole tenant of the key, not just the key.")
    ] = False,
    of_tenant: Annotated[
        str | None, typer.Option("--of-tenant", help="Admins: this tenant (name or id).")
    ] = None,
    of_key: Annotated[str | None, typer.Option("--of-key", help="Admins: this key's id.")] = None,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (UTC).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD (UTC).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Usage by day, model and key (the key's own with --url; locally, every tenant's),
    with the limits that bind it."""
    query = UsageQuery(
        scope="tenant" if tenant else "key",
        tenant=of_tenant,
        key=of_key,
        start=_day(start, "start"),
        end=_day(end, "end"),
    )
    report = backend.usage(query)
    show(report, as_json, *usage_tables(report))


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"--{name}: {value!r} is not a date (YYYY-MM-DD).") from None
