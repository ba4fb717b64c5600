"""What the app holds while it runs, built by the lifespan and reached through deps.py."""

from __future__ import annotations

from dataclasses import dataclass

from aimaas.config import Settings
from aimaas.evaluate.aliases import AliasService
from aimaas.evaluate.service import EvaluationService
from aimaas.jobs.runner import JobRunner
from aimaas.jobs.service import JobService
from aimaas.observability.metrics import Metrics
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore
from aimaas.runtime.catalog import SpecCache
from aimaas.runtime.llm import LLMService
from aimaas.runtime.manager import ModelManager
from aimaas.runtime.predictions import PredictionService
from aimaas.security.authenticator import Authenticator
from aimaas.security.quotas import Quotas
from aimaas.server.middleware import Lifecycle


@dataclass
class Services:
    settings: Settings
    db: Database
    authenticator: Authenticator
    quotas: Quotas
    store: ArtifactStore
    metrics: Metrics
    lifecycle: Lifecycle
    manager: ModelManager
    specs: SpecCache
    llm: LLMService
    predictions: PredictionService
    runner: JobRunner
    jobs: JobService  # training, evaluation and optimization jobs
    evaluations: EvaluationService
    aliases: AliasService
    ready: bool = False
