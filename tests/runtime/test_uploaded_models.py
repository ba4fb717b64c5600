"""Model versions from uploaded files: real safetensors, ONNX and GGUF files upload,
register and serve; every registration that cannot work is refused naming its parameter."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from aimaas.registry.tables import ModelVersion
from tests.conftest import Api
from tests.uploads.model_builders import GGUF_OK, smollm2, trained_files, upload


def uploaded(api: Api, content: bytes, name: str, key: str) -> str:
    response = upload(api, content, name, key)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def register(api: Api, key: str, **body: Any) -> Any:
    return api.client.post("/v1/models", json=body, headers=api.auth(key))


ROWS = [{"a": 2.0, "b": 1.0, "c": 0.0}, {"a": -2.0, "b": -1.0, "c": 0.0}]


def test_safetensors_and_onnx_register_and_predict(api: Api) -> None:
    weights, description, graph = trained_files()
    api.create_tenant("acme")
    key = str(api.create_key("acme", ["models:write", "models:read", "infer"])["key"])
    weights_id = uploaded(api, weights, "weights.bin", key)  # the name does not matter
    description_id = uploaded(api, description, "model.json", key)
    graph_id = uploaded(api, graph, "model.onnx", key)

    torch_version = register(api, key, name="mlp", file=weights_id, description_file=description_id)
    assert torch_version.status_code == 201, torch_version.text
    assert torch_version.json() | {"id": ""} == {
        "id": "",
        "name": "mlp",
        "version": 1,
        "owner": "acme",
        "format": "aimaas-torch",
        "capabilities": ["predict"],
    }
    onnx_version = register(api, key, name="mlp", file=graph_id, description_file=description_id)
    assert onnx_version.status_code == 201, onnx_version.text
    assert onnx_version.json()["format"] == "aimaas-onnx" and onnx_version.json()["version"] == 2

    answers = []
    for ref in ("mlp:1", "mlp:2"):
        response = api.client.post(
            f"/v1/models/{ref}/predict", json={"instances": ROWS}, headers=api.auth(key)
        )
        assert response.status_code == 200, response.text
        answers.append([p["label"] for p in response.json()["predictions"]])
    assert answers[0] == answers[1] == ["yes", "no"]

    # The files may go: the versions keep their bytes (the model.json too).
    for file_id in (weights_id, description_id, graph_id):
        assert api.client.delete(f"/v1/files/{file_id}", headers=api.auth(key)).status_code == 200
    services = api.client.app.state.services  # type: ignore[attr-defined]
    with services.db.session() as session:
        versions = session.scalars(select(ModelVersion).where(ModelVersion.format != "gguf"))
        digests = [
            d for v in versions if v.details.get("files") for d in v.details["files"].values()
        ]
    assert len(digests) >= 4 and all(services.store.exists(d) for d in digests)


def test_registration_refusals(api: Api) -> None:
    weights, description, _ = trained_files()
    api.create_tenant("acme")
    api.create_tenant("other")
    key = str(api.create_key("acme", ["models:write", "train"])["key"])
    other = str(api.create_key("other", ["models:write"])["key"])
    weights_id = uploaded(api, weights, "w", key)
    description_id = uploaded(api, description, "d", key)
    gguf_id = uploaded(api, GGUF_OK, "g", key)
    csv = api.client.post(
        "/v1/files",
        data={"purpose": "training"},
        files={"file": ("d.csv", b"a,b\n1,x\n2,y\n", "text/csv")},
        headers=api.auth(key),
    ).json()["id"]
    wrong = {"yes": "maybe"}
    doc = json.loads(description)
    doc["config"]["hidden_sizes"] = [7]  # the weights have 16
    misfit_id = uploaded(api, json.dumps(doc).encode(), "d2", key)
    cases: list[tuple[dict[str, Any], str, int, str]] = [
        ({"file": weights_id}, "description_file", 400, "model.json"),
        ({"file": description_id}, "file", 400, "description"),
        ({"file": csv}, "file", 400, "purpose 'model'"),
        ({"file": weights_id, "description_file": csv}, "description_file", 400, "purpose"),
        ({"file": weights_id, "description_file": weights_id}, "description_file", 400, "not"),
        ({"file": gguf_id, "description_file": description_id}, "description_file", 400, "GGUF"),
        ({"file": "file-nothing"}, "file", 404, "not found"),
        ({"file": weights_id, "description_file": misfit_id}, "description_file", 400, "fit"),
        ({"file": weights_id, "extra": wrong}, "extra", 400, "Unsupported"),
    ]
    for body, param, status, says in cases:
        response = register(api, key, name="m", **body)
        assert response.status_code == status, (body, response.text)
        error = response.json()["error"]
        assert error["param"] == param and says in error["message"], (body, error)
    # Another tenant's files answer exactly like missing ones.
    foreign = register(api, other, name="m", file=weights_id, description_file=description_id)
    missing = register(api, other, name="m", file="file-nothing")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"]["message"].replace(weights_id, "X") == missing.json()["error"][
        "message"
    ].replace("file-nothing", "X")
    # A GGUF version cannot join a classifier.
    assert (
        register(api, key, name="m", file=weights_id, description_file=description_id).status_code
        == 201
    )
    clash = register(api, key, name="m", file=gguf_id)
    assert clash.status_code == 409 and clash.json()["error"]["param"] == "name"


def test_gguf_registers_and_chats(api: Api) -> None:
    api.create_tenant("acme")
    key = str(api.create_key("acme", ["models:write", "infer"])["key"])
    file_id = uploaded(api, smollm2().read_bytes(), "smol.bin", key)
    registered = register(api, key, name="smol", file=file_id)
    assert registered.status_code == 201, registered.text
    assert registered.json()["format"] == "gguf"
    assert registered.json()["capabilities"] == ["completions", "chat"]
    reply = api.client.post(
        "/v1/chat/completions",
        json={"model": "smol", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
        headers=api.auth(key),
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"]
