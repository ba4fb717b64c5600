"""The ``aimaas`` command: ``serve``, ``tenants``, ``keys``, ``models``, ``doctor``, ``version``.

Admin commands act on the local data directory, or, with ``--url`` and ``--api-key`` (or
``AIMAAS_URL`` / ``AIMAAS_API_KEY``), on a running server.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from aimaas import __version__
from aimaas.cli.audit import audit_command
from aimaas.cli.backend import Backend, CliError
from aimaas.cli.doctor import doctor_command
from aimaas.cli.evaluate import eval_command
from aimaas.cli.files import files_app
from aimaas.cli.limits import key_limits, tenant_limits, usage
from aimaas.cli.optimize import optimize_command
from aimaas.cli.options import (
    DataDirOpt,
    JsonOpt,
    KeyOpt,
    UrlOpt,
    out,
    settings_for,
    show,
    table,
    through_backend,
)
from aimaas.cli.security import security_app
from aimaas.config import load_settings
from aimaas.errors import AimaasError
from aimaas.protocol.admin import ModelRegister
from aimaas.protocol.scopes import DEFAULT_SCOPES, Scope
from aimaas.runtime.defaults import DEFAULT_CHAT_MODEL

app = typer.Typer(no_args_is_help=True, help="aimaas: AI models as a service.")
tenants_app = typer.Typer(no_args_is_help=True, help="Create and list tenants.")
keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
models_app = typer.Typer(no_args_is_help=True, help="List and register models.")
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="keys")
app.add_typer(models_app, name="models")
app.add_typer(files_app, name="files")
app.command("eval")(eval_command)
app.command("optimize")(optimize_command)
app.command("audit")(audit_command)
app.command("doctor")(doctor_command)
app.command("usage")(usage)
app.add_typer(security_app, name="security")
keys_app.command("limits")(key_limits)
tenants_app.command("limits")(tenant_limits)

err = Console(stderr=True)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (AIMAAS_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (AIMAAS_PORT).")] = None,
    data_dir: DataDirOpt = None,
    log_format: Annotated[
        str | None, typer.Option(help="'text' or 'json' (AIMAAS_SERVER__LOG_FORMAT).")
    ] = None,
    ssl_certfile: Annotated[
        Path | None, typer.Option(help="PEM certificate for HTTPS (AIMAAS_SERVER__SSL_CERTFILE).")
    ] = None,
    ssl_keyfile: Annotated[
        Path | None, typer.Option(help="Its PEM private key (AIMAAS_SERVER__SSL_KEYFILE).")
    ] = None,
) -> None:
    """Start the server (creates the data directory and the first admin key if needed)."""
    from aimaas.cli.serve import run_server

    overrides: dict[str, object] = {}
    for name, value in (("host", host), ("port", port), ("data_dir", data_dir)):
        if value is not None:
            overrides[name] = value
    settings = load_settings(**overrides)
    if log_format is not None:
        settings.server.log_format = "json" if log_format == "json" else "text"
    settings.server.ssl_certfile = ssl_certfile or settings.server.ssl_certfile
    settings.server.ssl_keyfile = ssl_keyfile or settings.server.ssl_keyfile
    run_server(settings)


@app.command()
def version() -> None:
    """Print the aimaas version."""
    out.print(__version__)


@tenants_app.command("create")
@through_backend
def tenants_create(
    backend: Backend,
    name: str,
    as_json: JsonOpt = False,
) -> None:
    """Create a tenant."""
    tenant = backend.create_tenant(name)
    show(tenant, as_json, f"Created tenant {tenant.name} ({tenant.id}).")


@tenants_app.command("list")
@through_backend
def tenants_list(
    backend: Backend,
    as_json: JsonOpt = False,
) -> None:
    """List tenants."""
    tenants = backend.list_tenants()
    rows = [[t.id, t.name, _when(t.created_at)] for t in tenants.data]
    show(tenants, as_json, table("Tenants", ["id", "name", "created"], rows))


@keys_app.command("create")
@through_backend
def keys_create(
    backend: Backend,
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id or name.")],
    scope: Annotated[
        list[Scope] | None, typer.Option("--scope", help="Repeat for several scopes.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
    expires_at: Annotated[
        datetime | None, typer.Option(help="When the key stops working (ISO 8601, UTC).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; the key is printed once and never stored."""
    scopes = [s.value for s in (scope or list(DEFAULT_SCOPES))]
    created = backend.create_key(tenant, scopes, name, expires_at)
    show(
        created,
        as_json,
        f"Key {created.id} for tenant {created.tenant_name}, scopes {', '.join(created.scopes)}.",
        "Store it now; it is not shown again:",
    )
    if not as_json:
        print(created.key)  # plain, never wrapped or styled


@keys_app.command("list")
@through_backend
def keys_list(
    backend: Backend,
    as_json: JsonOpt = False,
) -> None:
    """List API keys (prefixes only)."""
    keys = backend.list_keys()
    columns = ["id", "tenant", "prefix", "scopes", "expires", "revoked"]
    rows = [
        [k.id, k.tenant_name, k.prefix + "...", ",".join(k.scopes), _when(k.expires_at),
         _when(k.revoked_at)]
        for k in keys.data
    ]  # fmt: skip
    show(keys, as_json, table("API keys", columns, rows))


@keys_app.command("revoke")
@through_backend
def keys_revoke(
    backend: Backend,
    key_id: str,
) -> None:
    """Revoke an API key; it stops working at once."""
    key = backend.revoke_key(key_id)
    out.print(f"Revoked key {key.id} of tenant {key.tenant_name}.")


@models_app.command("list")
@through_backend
def models_list(
    backend: Backend,
    as_json: JsonOpt = False,
) -> None:
    """List models (all tenants' locally; the key's visible models with --url)."""
    models = backend.list_models()
    rows = [[m.id, m.owned_by] for m in models.data]
    show(models, as_json, table("Models", ["id", "owned by"], rows))


@models_app.command("add")
@through_backend
def models_add(
    backend: Backend,
    name: str,
    gguf: Annotated[
        Path | None, typer.Option(help="A GGUF file (chat if it has a template).")
    ] = None,
    hf_dir: Annotated[
        Path | None,
        typer.Option(help="A Hugging Face folder: a causal LM, or sentence-transformers."),
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Owner; omit to share it.")] = None,
    context_length: Annotated[int | None, typer.Option(help="Tokens per sequence.")] = None,
    parallel: Annotated[int | None, typer.Option(help="Sequences decoded together.")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads.")] = None,
    max_queue: Annotated[int | None, typer.Option(help="Waiting requests before 429.")] = None,
    keep_alive: Annotated[
        float | None, typer.Option(help="Seconds idle before unloading; 0 = never.")
    ] = None,
    chat_template_file: Annotated[
        Path | None,
        typer.Option(
            help="A Jinja chat template to use instead of the model's own (e.g. one that "
            "renders tools: examples/chat_templates/chatml-tools.jinja).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a model file on this machine (a new version if the name exists)."""
    template = chat_template_file.read_text(encoding="utf-8") if chat_template_file else None
    request = ModelRegister(
        name=name,
        gguf=str(gguf.resolve()) if gguf else None,
        hf_dir=str(hf_dir.resolve()) if hf_dir else None,
        tenant=tenant,
        context_length=context_length,
        parallel=parallel,
        threads=threads,
        max_queue=max_queue,
        keep_alive_seconds=keep_alive,
        chat_template=template,
    )
    registered = backend.register_model(request)
    show(
        registered,
        as_json,
        f"Registered {registered.name} version {registered.version} ({registered.format}: "
        f"{', '.join(registered.capabilities)}), owned by {registered.owner}.",
    )


@app.command()
def train(
    algorithm: Annotated[
        str,
        typer.Argument(
            help="linear_regression, logistic_regression, mlp, cnn, rnn, transformer or word2vec."
        ),
    ],
    file: Annotated[str, typer.Option("--file", help="Training data: a path or a file id.")],
    model: Annotated[str, typer.Option("--model", help="Name to register the model under.")],
    target: Annotated[str | None, typer.Option(help="Target column (CSV).")] = None,
    validation_file: Annotated[
        str | None, typer.Option(help="Validation data: a path or a file id.")
    ] = None,
    hyperparameter: Annotated[
        list[str] | None,
        typer.Option("--set", help="A hyperparameter, KEY=VALUE (repeatable): --set epochs=20"),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (same seed, same weights).")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the job until it ends.")] = True,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train a model on a running server, with a live progress bar."""
    from aimaas.cli.train import parse_assignments, run_training

    job = run_training(
        settings_for(data_dir, url, api_key),
        algorithm=algorithm,
        file=file,
        model=model,
        target=target,
        validation_file=validation_file,
        hyperparameters=parse_assignments(hyperparameter or []),
        seed=seed,
        wait=wait,
        console=err,
    )
    if as_json:
        out.print_json(json.dumps(job))
    elif job["status"] == "succeeded":
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in (job.get("metrics") or {}).items())
        out.print(f"{job['result_model']}:{job['result_version']} trained ({metrics}).")
    else:
        out.print(f"Job {job['id']} is {job['status']}. {job.get('error') or ''}".strip())
    if job["status"] in ("failed", "cancelled"):
        raise typer.Exit(1)


@app.command()
def chat(
    model: Annotated[str, typer.Argument(help="Model to chat with.")] = DEFAULT_CHAT_MODEL,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    data_dir: DataDirOpt = None,
    max_tokens: Annotated[int, typer.Option(help="Most tokens per answer.")] = 512,
) -> None:
    """Chat with a model of a running server, streaming the answers. Ctrl-D ends."""
    from aimaas.cli.chat import run_chat

    run_chat(settings_for(data_dir, url, api_key), model=model, max_tokens=max_tokens)


def main() -> None:
    try:
        app()
    except (CliError, AimaasError) as exc:
        err.print(f"[red]error:[/red] {getattr(exc, 'message', str(exc))}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
