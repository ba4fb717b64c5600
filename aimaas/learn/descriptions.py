"""``model.json``, the description that goes with safetensors or ONNX weights: at most the
limit, strict JSON, then every part checked by ``aimaas.learn.specs.read`` (the reader that
serving uses)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from aimaas.uploads import strict_json
from aimaas.uploads.limits import UploadLimits
from aimaas.uploads.refusal import refused


class DescriptionSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: Literal["model.json"] = "model.json"
    algorithm: str
    task: str
    optimization: str | None  # the method that made the model, if it was optimized


def check_description(path: Path, limits: UploadLimits) -> DescriptionSummary:
    from aimaas.learn import specs  # torch is imported with it

    size = path.stat().st_size
    if size > limits.max_description_bytes:
        raise refused(
            f"The model description has {size} bytes; at most {limits.max_description_bytes} "
            "are accepted."
        )
    data = path.read_bytes()
    document = strict_json.parse_upload(data, "model description")
    if not isinstance(document, dict):
        raise refused("The model description is not a JSON object.")
    try:
        spec = specs.read(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise refused(f"The model description is not valid: {str(exc)[:300]}.") from None
    optimization = document.get("optimization")
    method = optimization.get("method") if isinstance(optimization, dict) else None
    if optimization is not None and not isinstance(method, str):
        raise refused("The model description's 'optimization' section needs a 'method'.")
    return DescriptionSummary(
        algorithm=spec.algorithm,
        task=spec.task,
        optimization=method[:64] if isinstance(method, str) else None,
    )
