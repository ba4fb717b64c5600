"""What the app holds while it runs, built by the lifespan and reached through deps.py."""

from __future__ import annotations

from dataclasses import dataclass

from aimaas.config import Settings
from aimaas.observability.metrics import Metrics
from aimaas.registry.db import Database
from aimaas.registry.store import ArtifactStore
from aimaas.runtime.llm import LLMService
from aimaas.runtime.manager import ModelManager
from aimaas.security.authenticator import Authenticator
from aimaas.server.middleware import Lifecycle


@dataclass
class Services:
    settings: Settings
    db: Database
    authenticator: Authenticator
    store: ArtifactStore
    metrics: Metrics
    lifecycle: Lifecycle
    manager: ModelManager
    llm: LLMService
    ready: bool = False
