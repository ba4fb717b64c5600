"""The one settings tree of aimaas, and the only reader of the environment.

Every setting has an environment variable ``AIMAAS_<NAME>``; nested groups use a double
underscore (``AIMAAS_SERVER__DRAIN_SECONDS``). The most used ones also have a short flat name
(``AIMAAS_HOST``, ``AIMAAS_PORT``, ``AIMAAS_DATA_DIR``, ``AIMAAS_DATABASE_URL``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    SerializationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# A list read from one environment variable as comma-separated values (or a JSON list).
CommaList = Annotated[list[str], NoDecode]


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class ServerSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address to bind; 127.0.0.1 unless told otherwise.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port to listen on.")
    max_body_bytes: int = Field(
        16 * 1024 * 1024, gt=0, description="Largest request body accepted; larger gets 413."
    )
    drain_seconds: float = Field(
        30.0, ge=0, description="On SIGTERM, how long in-flight requests may run before exit."
    )
    log_format: Literal["text", "json"] = Field("text", description="'json' logs JSON lines.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level of log messages written."
    )
    access_log: bool = Field(True, description="Log one line per request.")
    ssl_certfile: Path | None = Field(
        None, description="PEM certificate (chain) to serve HTTPS with; needs ssl_keyfile."
    )
    ssl_keyfile: Path | None = Field(None, description="PEM private key of ssl_certfile.")
    allowed_hosts: CommaList = Field(
        default_factory=lambda: ["127.0.0.1", "localhost", "::1"],
        description="Host header values answered (comma-separated; the bind address is "
        "added; '*.example.com' for subdomains, '*' for any). Others get 400: a defence "
        "against DNS rebinding.",
    )
    cors_origins: CommaList = Field(
        default_factory=list,
        description="Browser origins allowed to call the API (comma-separated, e.g. "
        "https://app.example.com); empty: no CORS headers at all.",
    )

    _split = field_validator("allowed_hosts", "cors_origins", mode="before")(_split_commas)

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerSettings:
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together: set both or neither")
        return self

    @property
    def trusted_hosts(self) -> list[str]:
        """``allowed_hosts`` plus the address the server binds (unless it is a wildcard)."""
        hosts = list(self.allowed_hosts)
        if self.host not in ("0.0.0.0", "::", "") and self.host not in hosts:
            hosts.append(self.host)
        return hosts


class StorageSettings(BaseModel):
    data_dir: Path = Field(Path("data"), description="Root of the database, artifacts and keys.")
    max_upload_bytes: int = Field(
        512 * 1024 * 1024, gt=0, description="Largest upload to POST /v1/files; larger gets 413."
    )

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def admin_key_file(self) -> Path:
        return self.data_dir / "admin.key"


class DatabaseSettings(BaseModel):
    url: str | None = Field(
        None,
        description="SQLAlchemy URL; default is SQLite at <data_dir>/aimaas.db. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db",
    )
    echo: bool = Field(False, description="Log every SQL statement (debugging only).")


class SecuritySettings(BaseModel):
    key_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="How long a checked API key is trusted without asking the database again. "
        "Revocations through the API apply at once; by another process (the local CLI), "
        "within this time. 0 disables the cache.",
    )
    master_key: SecretStr | None = Field(
        None,
        description="Base64 of 32 random bytes: with it every artifact and uploaded file is "
        "encrypted at rest (AES-256-GCM, a data key per artifact wrapped by this key). "
        "`aimaas security new-master-key` makes one. Prefer master_key_file.",
    )
    master_key_file: Path | None = Field(
        None, description="A file (mode 0600) holding the master key as base64."
    )

    @model_validator(mode="after")
    def _one_master_key(self) -> SecuritySettings:
        if self.master_key is not None and self.master_key_file is not None:
            raise ValueError("set master_key or master_key_file, not both")
        return self

    @field_serializer("master_key", when_used="json")
    def _master_key_json(self, value: SecretStr | None, info: SerializationInfo) -> str | None:
        """Masked, except for a worker process (``context={"reveal_secrets": True}``)."""
        if value is None:
            return None
        context = info.context
        if isinstance(context, dict) and context.get("reveal_secrets") is True:
            return value.get_secret_value()
        return "**********"


class EngineSettings(BaseModel):
    """How models run: memory budget, slots, threads, queues."""

    model_memory_mb: int = Field(
        4096,
        gt=0,
        description="Memory budget for loaded models; least recently used ones are "
        "unloaded to stay within it (never while a request runs on them).",
    )
    threads: int = Field(0, ge=0, le=1024, description="CPU threads per model; 0 = all cores.")
    parallel: int = Field(
        8, ge=1, le=256, description="Sequences a GGUF model decodes together (its slots)."
    )
    context_length: int = Field(
        2048, ge=128, le=1_048_576, description="Tokens of context per sequence (prompt + output)."
    )
    max_queue: int = Field(
        64,
        ge=0,
        le=100_000,
        description="Requests that may wait for a busy model; past that 429 with Retry-After.",
    )
    prompt_cache_mb: int = Field(
        256,
        ge=0,
        le=1_048_576,
        description="Host memory per GGUF model for llama.cpp's prompt cache (the KV state "
        "of recent prompts, reused when a request starts with the same tokens); counted in "
        "the model memory budget. 0 turns it off.",
    )
    keep_alive_seconds: float = Field(
        900, ge=0, description="Unload a model idle this long; 0 keeps models loaded."
    )
    default_models: bool = Field(
        True, description="Register the embedded default models (from their PyPI packages)."
    )
    embedding_max_batch: int = Field(
        128, ge=1, le=4096, description="Most texts embedded in one forward pass."
    )
    embedding_backend: Literal["auto", "torch-bf16", "onnx", "torch"] = Field(
        "auto",
        description="Where sentence-transformers models run: auto is the fastest that works "
        "here and stays within 1e-3 cosine of float32 (PyTorch in bfloat16 on CPUs with "
        "AVX512_BF16 or AMX, else ONNX Runtime, else PyTorch in float32); any other value "
        "insists on that one.",
    )
    embedding_max_delay_ms: float = Field(
        2.0, ge=0, le=1000, description="How long an embedding batch waits for more requests."
    )
    predict_max_batch: int = Field(
        32,
        ge=1,
        le=4096,
        description="Most rows a trained model runs in one forward pass (dynamic batching "
        "over concurrent /v2 infer and predict requests).",
    )
    predict_max_delay_ms: float = Field(
        2.0, ge=0, le=1000, description="How long a prediction batch waits for more requests."
    )
    llama_log: bool = Field(False, description="Pass llama.cpp's own log through to stderr.")
    gguf_backend: Literal["auto", "xllamacpp", "llama-server"] = Field(
        "auto",
        description="How GGUF models run: 'llama-server' (a native build, see "
        "scripts/build-llama-server.sh), 'xllamacpp' (in-process, prebuilt), or 'auto': "
        "llama-server when its binary exists, else xllamacpp.",
    )
    llama_server_binary: Path | None = Field(
        None,
        description="The llama-server binary; default: the one scripts/build-llama-server.sh "
        "builds under ~/.cache/aimaas.",
    )


class TrainingSettings(BaseModel):
    """Training jobs: how many run at once, on how many threads."""

    workers: int = Field(
        1, ge=1, le=64, description="Training jobs that run at once, each in its own process."
    )
    threads: int = Field(
        0,
        ge=0,
        le=1024,
        description="CPU threads per training job; 0 = all cores. A job resumed after a "
        "crash ends with the same weights only on the same thread count.",
    )
    default_validation_split: float = Field(
        0.1,
        ge=0,
        le=0.5,
        description="Share of the training rows held out for validation (and early "
        "stopping) when a job names no validation file.",
    )


class ClientSettings(BaseModel):
    """Where the CLI sends its requests when it talks to a running server."""

    url: str | None = Field(None, description="Base URL of a running aimaas server.")
    api_key: str | None = Field(None, description="Key the CLI sends with --url.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AIMAAS_",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,
    )

    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    database: DatabaseSettings = DatabaseSettings()
    engine: EngineSettings = EngineSettings()
    security: SecuritySettings = SecuritySettings()
    training: TrainingSettings = TrainingSettings()
    client: ClientSettings = ClientSettings()

    # Flat shortcuts for the settings people set most; they win over the nested form.
    host: str | None = Field(None, validation_alias=AliasChoices("AIMAAS_HOST", "host"))
    port: int | None = Field(None, validation_alias=AliasChoices("AIMAAS_PORT", "port"))
    data_dir: Path | None = Field(
        None, validation_alias=AliasChoices("AIMAAS_DATA_DIR", "data_dir")
    )
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("AIMAAS_DATABASE_URL", "database_url")
    )
    model_memory_mb: int | None = Field(
        None, validation_alias=AliasChoices("AIMAAS_MODEL_MEMORY_MB", "model_memory_mb")
    )
    url: str | None = Field(None, validation_alias=AliasChoices("AIMAAS_URL", "url"))
    api_key: str | None = Field(None, validation_alias=AliasChoices("AIMAAS_API_KEY", "api_key"))
    master_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("AIMAAS_MASTER_KEY", "master_key"), exclude=True
    )

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    def model_post_init(self, __context: object) -> None:
        if self.host is not None:
            self.server.host = self.host
        if self.port is not None:
            self.server.port = self.port
        if self.data_dir is not None:
            self.storage.data_dir = self.data_dir
        if self.database_url is not None:
            self.database.url = self.database_url
        if self.model_memory_mb is not None:
            self.engine.model_memory_mb = self.model_memory_mb
        if self.url is not None:
            self.client.url = self.url
        if self.api_key is not None:
            self.client.api_key = self.api_key
        if self.master_key is not None:
            if self.security.master_key_file is not None:
                raise ValueError("set master_key or master_key_file, not both")
            self.security.master_key = self.master_key

    @property
    def llama_server_path(self) -> Path | None:
        """The llama-server binary GGUF models should run on, or None for xllamacpp."""
        if self.engine.gguf_backend == "xllamacpp":
            return None
        binary = self.engine.llama_server_binary or default_llama_server_binary()
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
        if self.engine.gguf_backend == "llama-server":
            raise ValueError(
                f"AIMAAS_ENGINE__GGUF_BACKEND is 'llama-server' but {binary} does not exist; "
                "build it with `make native`."
            )
        return None

    @property
    def resolved_database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.storage.data_dir / 'aimaas.db').resolve()}"


LLAMA_SERVER_VERSION = "0.3.36"  # the llama-cpp-python sdist whose llama.cpp is built
LLAMA_SERVER_RECIPE = "noamx"  # scripts/build-llama-server.sh RECIPE: its flags


def cache_dir() -> Path:
    """What aimaas builds once per machine and reuses (a native llama-server, joined model
    files, exported graphs): AIMAAS_CACHE_DIR, else $XDG_CACHE_HOME/aimaas or ~/.cache/aimaas."""
    cache = os.environ.get("AIMAAS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "aimaas"
    )
    return Path(cache)


def default_llama_server_binary() -> Path:
    folder = f"llama-server-{LLAMA_SERVER_VERSION}-{LLAMA_SERVER_RECIPE}"
    return cache_dir() / folder / "bin" / "llama-server"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (tests and CLI flags) on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
