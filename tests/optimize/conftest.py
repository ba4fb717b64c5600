"""The job tests' registry fixtures (a real SQLite registry and artifact store, a tenant,
the job service) for the optimization job tests."""

from __future__ import annotations

from tests.jobs.conftest import service, sigterm_restored, store, tenant, woken

__all__ = ["service", "sigterm_restored", "store", "tenant", "woken"]
