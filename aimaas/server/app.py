"""The app factory. ``create_app(settings)`` has no side effects until the lifespan runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware

from aimaas import __version__
from aimaas.config import Settings
from aimaas.engine.native import NativeEngine
from aimaas.engine.types import TextGenerator
from aimaas.evaluate.aliases import AliasService
from aimaas.evaluate.service import EvaluationService
from aimaas.jobs.runner import JobRunner
from aimaas.jobs.service import JobService
from aimaas.observability.metrics import Metrics
from aimaas.process import configure_process
from aimaas.registry.db import Database
from aimaas.registry.store import open_store
from aimaas.runtime.catalog import SpecCache
from aimaas.runtime.defaults import check_model, register_default_models
from aimaas.runtime.llm import LLMService
from aimaas.runtime.manager import ModelManager
from aimaas.runtime.predictions import PredictionService
from aimaas.security.authenticator import Authenticator
from aimaas.security.quotas import Quotas
from aimaas.server import worker
from aimaas.server.errors import install_error_handlers
from aimaas.server.job_kinds import JOB_KINDS
from aimaas.server.middleware import (
    BodyLimitMiddleware,
    DrainMiddleware,
    Lifecycle,
    RequestContextMiddleware,
)
from aimaas.server.network import AllowedHostsMiddleware, cors_options
from aimaas.server.routes import (
    admin,
    aliases,
    audit,
    evaluations,
    files,
    health,
    limits,
    models,
    openai,
    optimizations,
    training,
    v2,
)
from aimaas.server.services import Services


def open_services(settings: Settings, lifecycle: Lifecycle, metrics: Metrics) -> Services:
    """Migrate the registry, prepare the artifact store, register the default models."""
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url, echo=settings.database.echo)
    db.migrate()
    store = open_store(settings, db)  # encrypting with a master key
    store.prepare()
    if settings.engine.default_models:
        register_default_models(db)
    manager = ModelManager(
        settings.engine,
        settings.storage.data_dir,
        store=store,
        native=native_engine(settings),
        predict_metrics=metrics.predict,
        engine_metrics=metrics.engine,
    )
    metrics.watch_slots(lambda: slot_counts(manager))
    specs = SpecCache(db)
    # A finished job registers a version from its worker: serve it from the next request.
    runner = JobRunner(
        settings, db, kinds=JOB_KINDS.names, worker_module=worker.MODULE, on_job_end=specs.forget
    )
    jobs = JobService(settings, db, store, wake=runner.wake)
    quotas = Quotas(db, ttl_seconds=settings.security.key_cache_seconds)
    return Services(
        settings=settings,
        db=db,
        authenticator=Authenticator(db, ttl_seconds=settings.security.key_cache_seconds),
        quotas=quotas,
        store=store,
        metrics=metrics,
        lifecycle=lifecycle,
        manager=manager,
        specs=specs,
        llm=LLMService(db, specs, manager, metrics.llm, quotas=quotas),
        predictions=PredictionService(specs, manager, metrics.predict, quotas=quotas),
        runner=runner,
        jobs=jobs,
        evaluations=EvaluationService(db, store, jobs),
        aliases=AliasService(db, on_change=specs.forget),
    )


def native_engine(settings: Settings) -> NativeEngine:
    """The llama-server binary GGUF models may run on, to be checked at start-up."""
    return NativeEngine(
        settings.llama_server_path,
        check_model=check_model(),
        required=settings.engine.gguf_backend == "llama-server",
    )


def slot_counts(manager: ModelManager) -> dict[str, tuple[int, int]]:
    counts = {}
    for name, model in manager.loaded.items():
        if isinstance(model, TextGenerator):
            counts[name] = (model.admission.running, model.admission.waiting)
    return counts


def create_app(settings: Settings, *, lifecycle: Lifecycle | None = None) -> FastAPI:
    lifecycle = lifecycle or Lifecycle()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # On the loop's thread, so that it and every thread started later have the count.
        configure_process(threads=settings.engine.threads)
        services = await run_in_threadpool(open_services, settings, lifecycle, metrics)
        app.state.services = services
        services.manager.native.start_check()  # off the request path; the first GGUF waits
        await services.runner.start()
        services.ready = True
        try:
            yield
        finally:
            services.ready = False
            await services.runner.stop()
            await services.manager.close()
            services.llm.close()
            services.db.dispose()

    app = FastAPI(
        title="aimaas",
        version=__version__,
        summary="AI models as a service: LLMs, embeddings and the models you train.",
        lifespan=lifespan,
        openapi_url=None,  # served by health.openapi, behind a key
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    for router in (
        health.router,
        admin.router,
        audit.router,
        limits.router,
        files.router,
        models.router,
        openai.router,
        training.router,
        evaluations.router,
        aliases.router,
        optimizations.router,
        v2.router,
    ):
        app.include_router(router)
    # Added innermost first: the request context wraps everything.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.server.max_body_bytes,
        upload_bytes=settings.storage.max_upload_bytes,
    )
    app.add_middleware(DrainMiddleware, lifecycle=lifecycle)
    if settings.server.cors_origins:  # closed unless configured: no CORS headers at all
        app.add_middleware(CORSMiddleware, **cors_options(settings.server.cors_origins))
    app.add_middleware(AllowedHostsMiddleware, hosts=settings.server.trusted_hosts)
    app.add_middleware(
        RequestContextMiddleware, metrics=metrics.http, access=settings.server.access_log
    )
    return app
