"""``aimaas serve``: prepare the data directory, then run the app under uvicorn with a
graceful drain on SIGTERM."""

from __future__ import annotations

import sys
from types import FrameType

import uvicorn

from aimaas.config import Settings
from aimaas.errors import InvalidInput
from aimaas.observability.logging import configure_logging
from aimaas.registry.db import Database
from aimaas.registry.store import open_store
from aimaas.security.bootstrap import ensure_admin_key
from aimaas.server.app import create_app
from aimaas.server.middleware import Lifecycle
from aimaas.server.network import tls_files


class DrainingServer(uvicorn.Server):
    """Marks the app as draining the moment a shutdown signal arrives, so that requests on
    connections still open get 503 while in-flight ones finish."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.lifecycle.draining = True
        super().handle_exit(sig, frame)


def prepare_data_dir(settings: Settings) -> None:
    """Create the data directory and registry; create and show the first admin key."""
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    try:
        db.migrate()
        try:  # a missing, unreadable or wrong master key stops here, in one line
            open_store(settings, db).check_master_key()
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        key = ensure_admin_key(db, settings.storage.admin_key_file)
    finally:
        db.dispose()
    if key is not None:
        # Shown on the terminal once, never through the logger.
        print(
            f"\nCreated the first admin key (also in {settings.storage.admin_key_file}, "
            f"mode 0600):\n\n    {key}\n",
            file=sys.stderr,
            flush=True,
        )


def run_server(settings: Settings) -> None:
    configure_logging(fmt=settings.server.log_format, level=settings.server.log_level)
    certfile, keyfile = tls_files(settings.server)  # a bad certificate stops here, at once
    prepare_data_dir(settings)
    lifecycle = Lifecycle()
    app = create_app(settings, lifecycle=lifecycle)
    config = uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port,
        timeout_graceful_shutdown=int(settings.server.drain_seconds) or None,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    DrainingServer(config, lifecycle).run()
