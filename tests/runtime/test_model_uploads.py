"""Hostile model uploads through the API: every malformed safetensors, GGUF and ONNX file
and every pickle dressed as a model is a 400 naming ``file`` (and nothing is stored or
unpickled); the server stays healthy; model uploads need ``models:write``."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Api
from tests.learn.test_descriptions import HOSTILE_DESCRIPTIONS
from tests.uploads.model_builders import GGUF_OK, hostile_pickles, upload
from tests.uploads.test_gguf_files import HOSTILE_GGUF
from tests.uploads.test_onnx_files import HOSTILE_ONNX
from tests.uploads.test_safetensors_files import HOSTILE_SAFETENSORS
from tests.uploads.test_sniff import HOSTILE_OTHER

HOSTILE = {
    **HOSTILE_SAFETENSORS,
    **HOSTILE_GGUF,
    **HOSTILE_ONNX,
    **HOSTILE_OTHER,
    **HOSTILE_DESCRIPTIONS,
}


def stored(api: Api) -> set[Path]:
    root = api.settings.storage.artifacts_dir
    return {p for p in root.rglob("*") if p.is_file()}


def test_hostile_uploads_get_400_naming_file_and_the_server_stays_up(
    api: Api, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    cases = {name: content for name, (content, _) in HOSTILE.items()}
    cases |= hostile_pickles(marker)
    before = stored(api)
    for case, content in cases.items():
        response = upload(api, content, "model.safetensors")
        assert response.status_code == 400, (case, response.text)
        error = response.json()["error"]
        assert error["param"] == "file", (case, error)
        assert "Traceback" not in error["message"] and "/tmp" not in error["message"]
        assert api.client.get("/health").status_code == 200
    assert not marker.exists()
    assert stored(api) == before  # nothing refused was kept
    assert api.client.get("/v1/files?purpose=model", headers=api.auth()).json()["data"] == []


def test_model_uploads_need_models_write(api: Api) -> None:
    api.create_tenant("acme")
    trainer_key = str(api.create_key("acme", ["train"])["key"])
    writer_key = str(api.create_key("acme", ["models:write"])["key"])
    reader_key = str(api.create_key("acme", ["models:read", "infer"])["key"])
    refused = upload(api, GGUF_OK, "m.gguf", trainer_key)
    assert refused.status_code == 403 and "models:write" in refused.json()["error"]["message"]
    assert upload(api, GGUF_OK, "m.gguf", reader_key).status_code == 403
    assert upload(api, GGUF_OK, "m.gguf", writer_key).status_code == 200
    data = api.client.post(
        "/v1/files",
        data={"purpose": "training"},
        files={"file": ("d.csv", b"a,b\n1,x\n", "text/csv")},
        headers=api.auth(writer_key),
    )
    assert data.status_code == 403 and "'train'" in data.json()["error"]["message"]
    register = {"name": "m", "file": "file-x"}
    no_scope = api.client.post("/v1/models", json=register, headers=api.auth(trainer_key))
    assert no_scope.status_code == 403
