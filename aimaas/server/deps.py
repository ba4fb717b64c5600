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


async def get_services(request: Request) -> Services:
    """Async, so FastAPI calls it on the event loop instead of a worker thread."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

# Each one async for the same reason as get_services.


async def get_db(services: ServicesDep) -> Database:
    return services.db


async def get_store(services: ServicesDep) -> ArtifactStore:
    return services.store


async def get_quotas(services: ServicesDep) -> Quotas:
    return services.quotas


async def get_authenticator(services: ServicesDep) -> Authenticator:
    return services.authenticator


async def get_specs(services: ServicesDep) -> SpecCache:
    return services.specs


async def get_predictions(services: ServicesDep) -> PredictionService:
    return services.predictions


async def get_metrics(services: ServicesDep) -> Metrics:
    return services.metrics


async def get_llm(services: ServicesDep) -> LLMService:
    return services.llm


async def get_jobs(services: ServicesDep) -> JobService:
    return services.jobs


async def get_evaluations(services: ServicesDep) -> EvaluationService:
    return services.evaluations


async def get_aliases(services: ServicesDep) -> AliasService:
    return services.aliases


async def is_ready(services: ServicesDep) -> bool:
    """Started and not draining."""
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


async def authenticate(request: Request, authenticator: AuthenticatorDep) -> Principal:
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
    principal = await authenticator.principal(token)
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
