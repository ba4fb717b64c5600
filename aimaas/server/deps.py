"""Dependencies for routes, as ``Annotated`` aliases: each route names the few things it
uses (``DatabaseDep``, ``QuotasDep``, ...) and the key it needs (``AdminKey``, ...), rather
than the whole ``Services``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from aimaas.errors import Forbidden, InvalidInput, Unauthorized
from aimaas.evaluate.aliases import AliasService
from aimaas.evaluate.service import EvaluationService
from aimaas.jobs.service import JobService
from aimaas.observability.metrics import Metrics
from aimaas.protocol.scopes import Scope
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore
from aimaas.runtime.catalog import SpecCache
from aimaas.runtime.llm import LLMService
from aimaas.runtime.predictions import PredictionService
from aimaas.security.authenticator import Authenticator
from aimaas.security.keys import looks_like_key
from aimaas.security.principal import Principal
from aimaas.security.quotas import Quotas
from aimaas.server.services import Services


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


# Each one async, so FastAPI calls it on the event loop instead of a worker thread, and each
# reads the request's app itself: one dependency per thing a route names, none under it (a
# dependency costs microseconds on every request).


async def get_db(request: Request) -> Database:
    return _services(request).db


async def get_store(request: Request) -> ArtifactStore:
    return _services(request).store


async def get_quotas(request: Request) -> Quotas:
    return _services(request).quotas


async def get_authenticator(request: Request) -> Authenticator:
    return _services(request).authenticator


async def get_specs(request: Request) -> SpecCache:
    return _services(request).specs


async def get_predictions(request: Request) -> PredictionService:
    return _services(request).predictions


async def get_metrics(request: Request) -> Metrics:
    return _services(request).metrics


async def get_llm(request: Request) -> LLMService:
    return _services(request).llm


async def get_jobs(request: Request) -> JobService:
    return _services(request).jobs


async def get_evaluations(request: Request) -> EvaluationService:
    return _services(request).evaluations


async def get_aliases(request: Request) -> AliasService:
    return _services(request).aliases


async def is_ready(request: Request) -> bool:
    """Started and not draining."""
    services = _services(request)
    return services.ready and not services.lifecycle.draining


DatabaseDep = Annotated[Database, Depends(get_db)]
StoreDep = Annotated[ArtifactStore, Depends(get_store)]
QuotasDep = Annotated[Quotas, Depends(get_quotas)]
AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]
SpecsDep = Annotated[SpecCache, Depends(get_specs)]
PredictionsDep = Annotated[PredictionService, Depends(get_predictions)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
LLMDep = Annotated[LLMService, Depends(get_llm)]
JobsDep = Annotated[JobService, Depends(get_jobs)]
EvaluationsDep = Annotated[EvaluationService, Depends(get_evaluations)]
AliasesDep = Annotated[AliasService, Depends(get_aliases)]
Ready = Annotated[bool, Depends(is_ready)]

_MISSING_KEY = "Missing API key: send 'Authorization: Bearer sk-aimaas-...'."
_BAD_KEY = (
    "Invalid, revoked or expired API key; an admin creates a new one with "
    "`aimaas keys create --tenant NAME`."
)


async def authenticate(request: Request) -> Principal:
    headers = request.headers.getlist("authorization")
    if len(headers) > 1:
        raise InvalidInput("Send exactly one Authorization header.", param="Authorization")
    if not headers:
        raise Unauthorized(_MISSING_KEY)
    scheme, _, token = headers[0].partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(_MISSING_KEY)
    if not looks_like_key(token):
        raise Unauthorized(_BAD_KEY)
    principal = await _services(request).authenticator.principal(token)
    if principal is None:
        raise Unauthorized(_BAD_KEY)
    return principal


def require_any(*scopes: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets a key through if it has any of ``scopes`` (admin has all)."""
    wanted = {scope.value for scope in scopes}

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.is_admin or principal.scopes & wanted:
            return principal
        names = " or ".join(f"'{s}'" for s in sorted(wanted))
        raise Forbidden(
            f"This key lacks the {names} scope; an admin can create one with "
            f"`aimaas keys create --tenant {principal.tenant_name} --scope {sorted(wanted)[0]}`."
        )

    return check


AnyKey = Annotated[Principal, Depends(authenticate)]
AdminKey = Annotated[Principal, Depends(require_any(Scope.ADMIN))]
ModelsReader = Annotated[Principal, Depends(require_any(Scope.MODELS_READ, Scope.INFER))]
ModelsWriter = Annotated[Principal, Depends(require_any(Scope.MODELS_WRITE))]
Inference = Annotated[Principal, Depends(require_any(Scope.INFER))]
Trainer = Annotated[Principal, Depends(require_any(Scope.TRAIN))]
# Reading evaluations and aliases: the readers of models, and the trainers who submit them.
EvaluationsReader = Annotated[
    Principal, Depends(require_any(Scope.MODELS_READ, Scope.INFER, Scope.TRAIN))
]
