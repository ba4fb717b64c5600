"""What a prediction request means: which trained model version, its inputs checked and
prepared per request, rows batched with other requests, outputs shaped for the protocol
(Open Inference Protocol v2, or KServe v1-style ``predict``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np

from aimaas.errors import InvalidInput
from aimaas.observability.metrics import PredictMetrics
from aimaas.protocol.kserve_v1 import PredictResponse
from aimaas.protocol.v2 import InferRequest, InferResponse, ModelMetadata, TensorMetadata
from aimaas.runtime.catalog import SpecCache
from aimaas.runtime.manager import ModelManager
from aimaas.runtime.specs import ModelSpec
from aimaas.runtime.tensor_models import TensorModel
from aimaas.runtime.tensors import decode_inputs, encode_output
from aimaas.security.principal import Principal
from aimaas.security.quotas import Quotas


def model_ref(name: str, version: str | None) -> str:
    """The registry reference for a v2 path: ``name`` or ``name:VERSION``."""
    if version is None:
        return name
    if not version.isdigit():
        raise InvalidInput(f"Version {version!r} is not a number.", param="version")
    return f"{name}:{int(version)}"


class PredictionService:
    def __init__(
        self,
        specs: SpecCache,
        manager: ModelManager,
        metrics: PredictMetrics,
        *,
        quotas: Quotas | None = None,
    ) -> None:
        self.specs = specs
        self.manager = manager
        self.metrics = metrics
        self.quotas = quotas

    async def _spec(self, caller: Principal, ref: str) -> ModelSpec:
        spec = await self.specs.get(caller.tenant_id, ref)
        if "predict" not in spec.capabilities:
            raise InvalidInput(
                f"Model '{spec.name}' is a language or embedding model: use the OpenAI routes "
                "(/v1/chat/completions, /v1/completions, /v1/embeddings) for it.",
                param="model",
            )
        return spec

    @asynccontextmanager
    async def _use(
        self, caller: Principal, ref: str
    ) -> AsyncIterator[tuple[ModelSpec, TensorModel]]:
        spec = await self._spec(caller, ref)
        async with self.manager.use(spec) as model:
            assert isinstance(model, TensorModel)
            yield spec, model

    async def _admit(self, caller: Principal) -> None:
        """One request under the caller's ``requests_per_minute`` (429 past it)."""
        if self.quotas is not None:
            await self.quotas.admit(caller, requests=1)

    async def predict(self, caller: Principal, ref: str, instances: list[Any]) -> PredictResponse:
        await self._admit(caller)
        async with self._use(caller, ref) as (spec, model):
            items = model.predictor.prepare_instances(instances)
            outputs = await model.run(items)
            self.metrics.rows.labels(spec.name, "predict").inc(len(items))
            describe = model.predictor.describe
            return PredictResponse(
                model=spec.name,
                version=spec.version,
                predictions=[describe(output) for output in outputs],
            )

    async def infer(
        self, caller: Principal, name: str, version: str | None, request: InferRequest
    ) -> InferResponse:
        await self._admit(caller)
        async with self._use(caller, model_ref(name, version)) as (spec, model):
            signature = model.predictor.signature
            arrays = decode_inputs(request.inputs, signature)
            items = model.predictor.prepare_v2(arrays)
            outputs = await model.run(items)
            self.metrics.rows.labels(spec.name, "infer").inc(len(items))
            available = {out.name: out.datatype for out in signature.outputs}
            wanted = [out.name for out in request.outputs] if request.outputs else list(available)
            for output_name in wanted:
                if output_name not in available:
                    raise InvalidInput(
                        f"Unknown output {output_name!r}; the model gives {sorted(available)}.",
                        param="outputs",
                    )
            return InferResponse(
                model_name=spec.name,
                model_version=str(spec.version),
                id=request.id,
                outputs=[
                    encode_output(
                        output_name,
                        _stack([output[output_name] for output in outputs]),
                        available[output_name],
                    )
                    for output_name in wanted
                ],
            )

    async def metadata(self, caller: Principal, name: str, version: str | None) -> ModelMetadata:
        async with self._use(caller, model_ref(name, version)) as (spec, model):
            signature = model.predictor.signature
            return ModelMetadata(
                name=spec.name,
                versions=[str(spec.version)],
                platform="pytorch",
                inputs=[TensorMetadata(**vars(t)) for t in signature.inputs],
                outputs=[TensorMetadata(**vars(t)) for t in signature.outputs],
                parameters={
                    "algorithm": model.predictor.algorithm,
                    "task": model.predictor.task,
                    "labels": model.predictor.labels,
                },
            )

    async def ready(self, caller: Principal, name: str, version: str | None) -> bool:
        """True once the version is loaded and can take requests (loading it if needed)."""
        async with self._use(caller, model_ref(name, version)):
            return True


def _stack(rows: list[np.ndarray]) -> np.ndarray:
    return np.stack([np.asarray(row) for row in rows]) if rows else np.zeros((0,))
