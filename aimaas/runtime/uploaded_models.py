"""A model version from uploaded files (``purpose: "model"``, already checked by
``aimaas.runtime.model_uploads`` when they were uploaded).

- GGUF alone: served by llama.cpp like ``aimaas models add --gguf``; the file stays in the
  artifact store (encrypted at rest: served from memory, never decrypted to disk).
- safetensors + ``model.json``: ``aimaas-torch``, like a model trained here.
- ONNX + ``model.json``: ``aimaas-onnx``, like an exported one; a description without an
  ``optimization`` section gets one (``export_onnx``) so that onnxruntime serves it.

Before a version is recorded, the weights and the description are loaded together once,
the way serving will load them, so that a pair that does not fit is a 400 now rather than
an error at the first request. Nothing is unpickled on the way. The version gets its own
copy of the files' bytes (encrypted at rest: sealed for the version, so deleting the files
later leaves it whole).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aimaas.engine.chat_templates import check_chat_template
from aimaas.engine.gguf import read_gguf
from aimaas.errors import Conflict, InvalidInput, NotFound
from aimaas.protocol.admin import ModelRegistered
from aimaas.protocol.uploads import UploadedModelRegister
from aimaas.registry import files, repository
from aimaas.registry.db import Database
from aimaas.registry.formats import ONNX_FORMAT, TORCH_FORMAT
from aimaas.registry.store import ArtifactStore, Owner
from aimaas.registry.tables import Model
from aimaas.runtime.registration import registered
from aimaas.runtime.specs import ServingOptions

WEIGHTS_NAMES = {"safetensors": "model.safetensors", "onnx": "model.onnx"}
_ONNX_SECTION = {"method": "export_onnx", "options": {}, "graph_optimization": "all"}


@dataclass(frozen=True)
class _Upload:
    id: str
    digest: str
    format: str
    details: dict[str, Any]
    owner: Owner


def _model_file(session: Session, *, tenant_id: str, file_id: str, param: str) -> _Upload:
    try:
        row = files.get_file(session, tenant_id=tenant_id, file_id=file_id)
    except NotFound as exc:
        raise NotFound(exc.message, param=param) from None
    if row.purpose != "model":
        raise InvalidInput(
            f"File {file_id[:64]!r} was uploaded for {row.purpose!r}; upload model files "
            "with purpose 'model' (they are checked as weights then).",
            param=param,
        )
    details = dict(row.details or {})
    owner = Owner.file(tenant_id, row.id)
    return _Upload(row.id, row.artifact_digest, str(details.get("format")), details, owner)


@dataclass(frozen=True)
class _Registering:
    """A registration under way: what was asked, by whom, where the files are."""

    db: Database
    store: ArtifactStore
    request: UploadedModelRegister
    tenant_id: str
    tenant_name: str


@dataclass(frozen=True)
class _NewVersion:
    """The version an upload becomes, and the files whose bytes it gets a copy of
    (``copies``: digest -> the uploaded file that holds them)."""

    task: str
    format: str
    digest: str
    details: dict[str, Any]
    capabilities: list[str]
    copies: dict[str, Owner]
    version_id: str = field(default_factory=repository.new_version_id)


def _register(at: _Registering, new: _NewVersion) -> ModelRegistered:
    """Record the version; the files are looked up again in the same transaction, so a file
    deleted meanwhile is a 404 rather than a version without its bytes."""
    request, tenant_id = at.request, at.tenant_id
    with at.db.session() as session:
        for file_id, param in (
            (request.file, "file"),
            (request.description_file, "description_file"),
        ):
            if file_id is not None:
                _model_file(session, tenant_id=tenant_id, file_id=file_id, param=param)
        owner = Model.tenant_id == tenant_id
        model = session.scalar(select(Model).where(owner, Model.name == request.name))
        if model is not None and model.task != new.task:
            raise Conflict(
                f"Model {request.name!r} is a {model.task} model; a {new.task} version cannot "
                "join it. Register it under another name.",
                param="name",
            )
        model, version = repository.register_model(
            session,
            tenant_id=tenant_id,
            name=request.name,
            task=new.task,
            format=new.format,
            details=new.details,
            artifact_digest=new.digest,
            version_id=new.version_id,
        )
        return registered(model, version, at.tenant_name, new.capabilities)


def _stored_and_registered(at: _Registering, new: _NewVersion) -> ModelRegistered:
    """Give the new version its own copy of the uploaded files' bytes, then record it; a
    refused registration takes back what was stored for it."""
    owner = Owner.model(at.tenant_id, at.request.name, new.version_id)
    try:
        for digest, source in new.copies.items():
            at.store.copy(digest, source, owner)
        return _register(at, new)
    except BaseException:
        for digest in {*new.copies, *new.details.get("files", {}).values()}:
            at.store.delete(digest, owner, unreferenced=False)
        raise


def register_uploaded_model(
    db: Database,
    store: ArtifactStore,
    *,
    tenant_id: str,
    tenant_name: str,
    request: UploadedModelRegister,
) -> ModelRegistered:
    at = _Registering(db, store, request, tenant_id, tenant_name)
    with db.session() as session:
        weights = _model_file(session, tenant_id=tenant_id, file_id=request.file, param="file")
    if weights.format == "model.json":
        raise InvalidInput(
            "This file is a model description; pass the weights as 'file' and the description "
            "as 'description_file'.",
            param="file",
        )
    if weights.format == "gguf":
        if request.description_file is not None:
            raise InvalidInput(
                "A GGUF file describes itself; leave out 'description_file'.",
                param="description_file",
            )
        return _register_gguf(at, weights)
    if request.chat_template is not None:
        raise InvalidInput("Only GGUF language models take a chat template.", param="chat_template")
    if weights.format not in WEIGHTS_NAMES:
        raise InvalidInput(
            f"File {weights.id!r} is not model weights; upload safetensors, GGUF or ONNX.",
            param="file",
        )
    if request.description_file is None:
        raise InvalidInput(
            f"{weights.format} weights need their model.json: upload it with purpose 'model' "
            "and pass its id as 'description_file'.",
            param="description_file",
        )
    with db.session() as session:
        description = _model_file(
            session, tenant_id=tenant_id, file_id=request.description_file, param="description_file"
        )
    if description.format != "model.json":
        raise InvalidInput(
            f"File {description.id!r} is not a model.json description.",
            param="description_file",
        )
    return _register_tensor_model(at, weights, description)


def _register_gguf(at: _Registering, weights: _Upload) -> ModelRegistered:
    store, request = at.store, at.request
    try:
        with store.open(weights.digest, weights.owner) as local:
            info = read_gguf(local.path, tensors=True)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, param="file") from None
    check_chat_template(request.chat_template)
    chat = bool(request.chat_template or info.chat_template)
    capabilities = ["completions"] + (["chat"] if chat else [])
    options = ServingOptions(chat_template=request.chat_template)
    details = {
        "capabilities": capabilities,
        "source": {"artifact": weights.digest},  # served through the store
        "options": options.as_dict(),
        "uploaded": {"file": weights.id},
    }
    task = "chat" if chat else "completions"
    copies = {weights.digest: weights.owner}
    new = _NewVersion(task, "gguf", weights.digest, details, capabilities, copies)
    return _stored_and_registered(at, new)


def _register_tensor_model(
    at: _Registering, weights: _Upload, description: _Upload
) -> ModelRegistered:
    from aimaas.learn import artifacts, specs  # torch, and onnxruntime for ONNX, when needed

    store = at.store
    weight_bytes = store.read(weights.digest, weights.owner)
    spec_bytes = store.read(description.digest, description.owner)
    spec_digest = description.digest
    document = json.loads(spec_bytes)  # checked on upload
    section = document.get("optimization")
    method = section.get("method") if isinstance(section, dict) else None
    if weights.format == "onnx":
        if section is None:
            document["optimization"] = dict(_ONNX_SECTION)
            spec_bytes = json.dumps(document, indent=1, allow_nan=False).encode()
            spec_digest = ""  # stored once it is known to load
        elif method != "export_onnx":
            raise InvalidInput(
                f"The description says the model was made by {str(method)[:32]!r}, which "
                "gives safetensors weights, not ONNX.",
                param="description_file",
            )
    elif method == "export_onnx":
        raise InvalidInput(
            "The description is of an ONNX export; pass ONNX weights with it.",
            param="description_file",
        )
    try:
        spec = specs.read(spec_bytes)
        artifacts.load_predictor(weight_bytes, spec_bytes)  # exactly as serving will
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(
            f"The weights and the description do not fit together: {str(exc)[:300]}",
            param="description_file",
        ) from None
    format_ = ONNX_FORMAT if weights.format == "onnx" else TORCH_FORMAT
    version_id = repository.new_version_id()
    owner = Owner.model(at.tenant_id, at.request.name, version_id)
    spec_digest = spec_digest or store.put(spec_bytes, owner)
    stored = {WEIGHTS_NAMES[weights.format]: weights.digest, "model.json": spec_digest}
    metrics = document.get("metrics")
    details: dict[str, Any] = {
        "files": stored,
        "algorithm": spec.algorithm,
        "uploaded": {"file": weights.id, "description_file": description.id},
        "metrics": metrics if isinstance(metrics, dict) else {},
    }
    if isinstance(document.get("optimization"), dict) and method is not None:
        details["optimization"] = {"method": method}
    copies = {weights.digest: weights.owner}
    if spec_digest == description.digest:
        copies[description.digest] = description.owner
    capabilities = ["predict", "embeddings"] if spec.task == "embedding" else ["predict"]
    new = _NewVersion(spec.task, format_, weights.digest, details, capabilities, copies, version_id)
    return _stored_and_registered(at, new)
