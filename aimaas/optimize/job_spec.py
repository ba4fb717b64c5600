"""What an optimization job is asked to do, as resolved at submit, and what it gives back."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SerializeAsAny, ValidationInfo, field_validator

from aimaas.optimize import methods


class OptimizationJobSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str  # the reference as requested: name, name:VERSION or name@ALIAS
    source_model: str
    source_version: int
    source_version_id: str  # the version the reference meant at submit
    method: str
    options: SerializeAsAny[methods.MethodOptions]  # the method's, defaults filled in
    evaluation_file: str | None

    @field_validator("options", mode="before")
    @classmethod
    def _method_options(cls, value: Any, info: ValidationInfo) -> Any:
        """Read back from JSON as the method's own options (checked once, at submit)."""
        model = methods.OPTIONS.get(str(info.data.get("method")))
        if isinstance(value, dict) and model is not None:
            return model.model_validate(value)
        return value


class OptimizationJobResult(BaseModel):
    model: str
    version: int
    comparison: dict[str, Any]  # optimize.compare's document, the child's version filled in
