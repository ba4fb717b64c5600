"""What a key may do: the scopes keys are created with and routes require. They are part of
the API (sent, shown and refused by name), so they live with the wire schemas."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    ADMIN = "admin"
    MODELS_READ = "models:read"
    MODELS_WRITE = "models:write"
    INFER = "infer"
    TRAIN = "train"


ALL_SCOPES: frozenset[str] = frozenset(scope.value for scope in Scope)
DEFAULT_SCOPES: tuple[Scope, ...] = (Scope.MODELS_READ, Scope.INFER)
