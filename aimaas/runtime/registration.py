"""Registering model files that are already on the server's disk."""

from __future__ import annotations

from pathlib import Path

from aimaas.engine.gguf import read_gguf
from aimaas.errors import InvalidInput
from aimaas.protocol.admin import ModelRegister, ModelRegistered
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.runtime.specs import ServingOptions


def _gguf_details(path: Path) -> tuple[str, list[str]]:
    info = read_gguf(path)
    capabilities = ["completions"] + (["chat"] if info.chat_template else [])
    return "gguf", capabilities


def _hf_details(path: Path) -> tuple[str, list[str]]:
    if (path / "modules.json").is_file() or (path / "config_sentence_transformers.json").is_file():
        return "sentence-transformers", ["embeddings"]
    raise InvalidInput(
        "Only sentence-transformers folders (with modules.json) are served from --hf-dir so "
        "far; convert a causal language model to GGUF and register it with --gguf.",
        param="hf_dir",
    )


def register_local_model(db: Database, request: ModelRegister) -> ModelRegistered:
    if (request.gguf is None) == (request.hf_dir is None):
        raise InvalidInput("Give exactly one of 'gguf' or 'hf_dir'.", param="gguf")
    param = "gguf" if request.gguf else "hf_dir"
    path = Path(str(request.gguf or request.hf_dir)).expanduser().resolve()
    if request.gguf and not path.is_file():
        raise InvalidInput(f"No file at {request.gguf!r} on the server.", param=param)
    if request.hf_dir and not path.is_dir():
        raise InvalidInput(f"No folder at {request.hf_dir!r} on the server.", param=param)
    format_, capabilities = _gguf_details(path) if request.gguf else _hf_details(path)
    options = ServingOptions(
        context_length=request.context_length,
        parallel=request.parallel,
        threads=request.threads,
        max_queue=request.max_queue,
        keep_alive_seconds=request.keep_alive_seconds,
    )
    details = {
        "capabilities": capabilities,
        "source": {"path": str(path)},
        "options": options.as_dict(),
    }
    with db.session() as session:
        tenant = repository.find_tenant(session, ref=request.tenant) if request.tenant else None
        model, version = repository.register_model(
            session,
            tenant_id=tenant.id if tenant else None,
            name=request.name,
            task="chat" if "chat" in capabilities else capabilities[0],
            format=format_,
            details=details,
        )
        return ModelRegistered(
            id=model.id,
            name=model.name,
            version=version.version,
            owner=tenant.name if tenant else "aimaas",
            format=format_,
            capabilities=capabilities,
        )
