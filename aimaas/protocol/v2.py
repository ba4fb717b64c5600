"""Open Inference Protocol v2 (KServe): server and model metadata, infer requests."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aimaas.protocol.common import Strict


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class V2Error(BaseModel):
    error: str


Datatype = Literal["BOOL", "INT32", "INT64", "FP32", "FP64", "BYTES"]
# JSON values a tensor's "data" may hold: flat in row-major order, or nested by shape.
TensorData = list[Any]


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any] = Field(default_factory=dict)


class InferInput(Strict):
    # No coercion: a shape of strings ("shape": ["1", "3"]) is refused, not read as numbers.
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=256)
    shape: list[Annotated[int, Field(ge=0, le=2**31)]] = Field(max_length=16)
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: TensorData


class RequestedOutput(Strict):
    name: str = Field(min_length=1, max_length=256)
    parameters: dict[str, Any] | None = None


class InferRequest(Strict):
    id: str | None = Field(None, max_length=256)
    parameters: dict[str, Any] | None = None
    inputs: list[InferInput] = Field(min_length=1, max_length=64)
    outputs: list[RequestedOutput] | None = Field(None, max_length=64)


class InferOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[InferOutput]
