"""Registering model files that are already on the server's disk."""

from __future__ import annotations

import json
from pathlib import Path

from aimaas.engine.chat_templates import check_chat_template
from aimaas.engine.gguf import read_gguf
from aimaas.errors import InvalidInput
from aimaas.protocol.admin import ModelRegister, ModelRegistered
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import Model, ModelVersion
from aimaas.runtime.specs import ServingOptions


def _gguf_details(path: Path, chat_template: str | None) -> tuple[str, list[str]]:
    info = read_gguf(path)
    capabilities = ["completions"] + (["chat"] if chat_template or info.chat_template else [])
    return "gguf", capabilities


def _read_json(path: Path) -> dict[str, object]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _has_chat_template(path: Path) -> bool:
    """Whether the tokenizer files carry a chat template (read without loading them)."""
    if (path / "chat_template.jinja").is_file() or (path / "chat_template.json").is_file():
        return True
    return bool(_read_json(path / "tokenizer_config.json").get("chat_template"))


def _causal_lm_details(path: Path, chat_template: str | None) -> tuple[str, list[str]]:
    if not any(path.glob("*.safetensors")):
        raise InvalidInput(
            "The folder has no *.safetensors weights, and only safetensors are loaded: convert "
            "the weights (transformers' save_pretrained writes safetensors).",
            param="hf_dir",
        )
    tokenizer_files = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
    if not any((path / name).is_file() for name in tokenizer_files):
        raise InvalidInput("The folder has no tokenizer files.", param="hf_dir")
    chat = chat_template is not None or _has_chat_template(path)
    return "transformers", ["completions"] + (["chat"] if chat else [])


def _architectures(path: Path) -> list[str]:
    value = _read_json(path / "config.json").get("architectures")
    return [str(a) for a in value] if isinstance(value, list) else []


def _hf_details(path: Path, chat_template: str | None) -> tuple[str, list[str]]:
    if (path / "modules.json").is_file() or (path / "config_sentence_transformers.json").is_file():
        if chat_template is not None:
            raise InvalidInput("An embedding model takes no chat template.", param="chat_template")
        return "sentence-transformers", ["embeddings"]
    if any(a.endswith("ForCausalLM") for a in _architectures(path)):
        return _causal_lm_details(path, chat_template)
    raise InvalidInput(
        "--hf-dir takes a sentence-transformers folder (with modules.json) or a causal language "
        "model (config.json with a *ForCausalLM architecture, safetensors weights, tokenizer).",
        param="hf_dir",
    )


def registered(
    model: Model, version: ModelVersion, owner: str, capabilities: list[str]
) -> ModelRegistered:
    """What a registration answers: the version it made, whose it is, what it serves."""
    return ModelRegistered(
        id=model.id,
        name=model.name,
        version=version.version,
        owner=owner,
        format=version.format,
        capabilities=capabilities,
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
    check_chat_template(request.chat_template)
    template = request.chat_template
    format_, capabilities = (
        _gguf_details(path, template) if request.gguf else _hf_details(path, template)
    )
    options = ServingOptions(
        context_length=request.context_length,
        parallel=request.parallel,
        threads=request.threads,
        max_queue=request.max_queue,
        keep_alive_seconds=request.keep_alive_seconds,
        chat_template=template,
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
        return registered(model, version, tenant.name if tenant else "aimaas", capabilities)
