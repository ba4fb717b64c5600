"""The embedded default models: each installed one registered as a shared model, once; a
second start adds no version, and every tenant sees them."""

from __future__ import annotations

from sqlalchemy import func, select

from aimaas.registry import repository
from aimaas.registry.db import Database
from aimaas.registry.tables import ModelVersion
from aimaas.runtime.defaults import DEFAULT_MODELS, register_default_models
from aimaas.runtime.sources import source_available


def test_the_installed_defaults_are_registered_once(db: Database) -> None:
    installed = [m.name for m in DEFAULT_MODELS if source_available(m.details["source"])]
    assert register_default_models(db) == installed
    with db.session() as session:
        versions = session.scalar(select(func.count()).select_from(ModelVersion))
    assert register_default_models(db) == installed
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ModelVersion)) == versions
        tenant = repository.create_tenant(session, name="acme")
        seen = {m.name for m in repository.list_models(session, tenant_id=tenant.id)}
    assert set(installed) <= seen


def test_every_default_names_its_licence_and_what_it_serves() -> None:
    for model in DEFAULT_MODELS:
        assert model.details["license"] and model.details["capabilities"], model.name
        assert model.task in ("chat", "completion", "embedding"), model.name
    assert len({m.name for m in DEFAULT_MODELS}) == len(DEFAULT_MODELS)
