"""What a training job is asked to do, as validated at submit, and what it gives back."""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel, ConfigDict, SerializeAsAny, ValidationInfo, field_validator

from aimaas.learn import hyperparameters as hp


class TrainingJobSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str  # the name to register
    algorithm: str
    training_file: str
    validation_file: str | None
    validation_split: float  # resolved at submit: 0 with a validation_file
    target: str | None
    hyperparameters: SerializeAsAny[hp.Training]  # the algorithm's model, defaults filled in
    seed: int  # drawn at submit when the request had none

    @field_validator("hyperparameters", mode="before")
    @classmethod
    def _algorithm_model(cls, value: Any, info: ValidationInfo) -> Any:
        """Read back from JSON as the algorithm's own model (checked once, at submit)."""
        model = hp.MODELS.get(str(info.data.get("algorithm")))
        if isinstance(value, dict) and model is not None:
            return cast(hp.Training, model.model_validate(value))
        return value


class TrainingJobResult(BaseModel):
    model: str
    version: int
    metrics: dict[str, float]
