"""The settings tree reads the environment; docs/configuration.md names every setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from aimaas.config import Settings, load_settings

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def env_names() -> list[str]:
    names = []
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += [f"AIMAAS_{name.upper()}__{sub.upper()}" for sub in annotation.model_fields]
        else:
            names.append(f"AIMAAS_{name.upper()}")
    return names


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    missing = [name for name in env_names() if f"`{name}`" not in text]
    assert missing == []


def test_environment_flat_and_nested(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIMAAS_PORT", "9123")
    monkeypatch.setenv("AIMAAS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AIMAAS_SERVER__DRAIN_SECONDS", "2.5")
    monkeypatch.setenv("AIMAAS_SERVER__MAX_BODY_BYTES", "1024")
    settings = load_settings()
    assert settings.server.port == 9123 and settings.server.drain_seconds == 2.5
    assert settings.server.max_body_bytes == 1024
    assert settings.storage.data_dir == tmp_path
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'aimaas.db'}"
    assert settings.server.host == "127.0.0.1"


def test_invalid_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMAAS_SERVER__MAX_BODY_BYTES", "-1")
    with pytest.raises(ValueError, match="max_body_bytes"):
        load_settings()
