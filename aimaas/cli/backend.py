"""Where CLI commands act: the local database, or a running server over HTTP.

Both backends answer with the same wire schemas, so commands print the same way either way.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from aimaas.config import Settings
from aimaas.errors import AimaasError, NotFound
from aimaas.protocol.admin import (
    KeyCreated,
    KeyList,
    KeyOut,
    ModelRegister,
    ModelRegistered,
    TenantList,
    TenantOut,
)
from aimaas.protocol.files import FileDeleted, FileList, FileObject
from aimaas.protocol.limits import LimitsOut, UsageList, UsageQuery, validated
from aimaas.protocol.openai_models import ModelCardList
from aimaas.registry import files, repository
from aimaas.registry.db import Database
from aimaas.registry.files import FileQuery
from aimaas.registry.store import open_store
from aimaas.runtime import files as uploaded
from aimaas.runtime import model_cards
from aimaas.runtime.registration import register_local_model
from aimaas.security import admin
from aimaas.security.audit import record_local
from aimaas.security.bootstrap import ADMIN_TENANT
from aimaas.security.quotas import run_locally

ResponseT = TypeVar("ResponseT", bound=BaseModel)
LimitKind = Literal["key", "tenant"]


class CliError(Exception):
    """A failure to show the user as one line; the message says what to do."""


class Backend(Protocol):
    def create_tenant(self, name: str) -> TenantOut: ...
    def list_tenants(self) -> TenantList: ...
    def create_key(
        self, tenant: str, scopes: list[str], name: str | None, expires_at: datetime | None
    ) -> KeyCreated: ...
    def list_keys(self) -> KeyList: ...
    def revoke_key(self, key_id: str) -> KeyOut: ...
    def list_models(self) -> ModelCardList: ...
    def register_model(self, request: ModelRegister) -> ModelRegistered: ...
    def upload_file(self, path: Path, purpose: str) -> FileObject: ...
    def list_files(self) -> FileList: ...
    def delete_file(self, file_id: str) -> FileDeleted: ...
    def get_limits(self, kind: LimitKind, ref: str) -> LimitsOut: ...
    def set_limits(self, kind: LimitKind, ref: str, limits: dict[str, int | None]) -> LimitsOut: ...
    def usage(self, query: UsageQuery) -> UsageList: ...


class LocalBackend:
    """Acts on the registry in the data directory directly (no server needed)."""

    def __init__(self, settings: Settings) -> None:
        settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.resolved_database_url)
        self.db.migrate()
        self.store = open_store(settings, self.db)

    def create_tenant(self, name: str) -> TenantOut:
        tenant = admin.create_tenant(self.db, name=name)
        record_local(self.db, "tenant.create", tenant_id=tenant.id, target=tenant.id, name=name)
        return tenant

    def list_tenants(self) -> TenantList:
        return admin.list_tenants(self.db)

    def create_key(
        self, tenant: str, scopes: list[str], name: str | None, expires_at: datetime | None
    ) -> KeyCreated:
        created = admin.create_key(
            self.db, tenant=tenant, scopes=scopes, name=name, expires_at=expires_at
        )
        record_local(
            self.db, "key.create", tenant_id=created.tenant, target=created.id, scopes=scopes
        )
        return created

    def list_keys(self) -> KeyList:
        return admin.list_keys(self.db)

    def revoke_key(self, key_id: str) -> KeyOut:
        revoked = admin.revoke_key(self.db, key_id=key_id)
        record_local(self.db, "key.revoke", tenant_id=revoked.tenant, target=revoked.id)
        return revoked

    def register_model(self, request: ModelRegister) -> ModelRegistered:
        done = register_local_model(self.db, request)
        target = f"{done.name}:{done.version}"
        record_local(self.db, "model.register", tenant_id=None, target=target, owner=done.owner)
        return done

    def list_models(self) -> ModelCardList:
        return model_cards.list_all_cards(self.db)

    def _files_tenant(self) -> str:
        """Local file commands act for the admin tenant (created here if it is missing)."""
        with self.db.session() as session:
            try:
                return repository.find_tenant(session, ref=ADMIN_TENANT).id
            except NotFound:
                return repository.create_tenant(session, name=ADMIN_TENANT).id

    def upload_file(self, path: Path, purpose: str) -> FileObject:
        details = uploaded.inspect_file(path, path.name, purpose)
        tenant_id = self._files_tenant()
        file = uploaded.store_upload(
            self.db,
            self.store,
            tenant_id=tenant_id,
            source=path,
            filename=path.name,
            purpose=purpose,
            details=details,
        )
        record_local(self.db, "file.upload", tenant_id=tenant_id, target=file.id, bytes=file.bytes)
        return file

    def list_files(self) -> FileList:
        return uploaded.list_files(self.db, FileQuery(self._files_tenant()))

    def delete_file(self, file_id: str) -> FileDeleted:
        row = files.remove_file(
            self.db, self.store, tenant_id=self._files_tenant(), file_id=file_id
        )
        record_local(self.db, "file.delete", tenant_id=row.tenant_id, target=row.id)
        return FileDeleted(id=row.id)

    def get_limits(self, kind: LimitKind, ref: str) -> LimitsOut:
        return run_locally(self.db, lambda quotas: quotas.get_limits(kind, ref))

    def set_limits(self, kind: LimitKind, ref: str, limits: dict[str, int | None]) -> LimitsOut:
        values = validated(kind, dict(limits))
        done = run_locally(self.db, lambda quotas: quotas.set_limits(kind, ref, values))
        tenant = done.id if kind == "tenant" else None
        record_local(self.db, "limits.set", tenant_id=tenant, target=done.id, limits=done.limits)
        return done

    def usage(self, query: UsageQuery) -> UsageList:
        """Locally: every tenant's usage, unless a tenant or key is named."""
        return run_locally(self.db, lambda quotas: quotas.report(None, query))


class RemoteBackend:
    """Acts through a running server's HTTP API with a key."""

    def __init__(self, url: str, api_key: str | None) -> None:
        if not api_key:
            raise CliError(
                "--url needs a key: pass --api-key or set AIMAAS_API_KEY "
                "(the first admin key is in <data dir>/admin.key)."
            )
        self.url = url.rstrip("/")
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )

    def _call(self, method: str, path: str, schema: type[ResponseT], **kwargs: Any) -> ResponseT:
        from aimaas.cli.http import checked, unreachable

        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise unreachable(self.url, exc) from exc
        return schema.model_validate(checked(response))

    def create_tenant(self, name: str) -> TenantOut:
        return self._call("POST", "/v1/admin/tenants", TenantOut, json={"name": name})

    def list_tenants(self) -> TenantList:
        return self._call("GET", "/v1/admin/tenants", TenantList)

    def create_key(
        self, tenant: str, scopes: list[str], name: str | None, expires_at: datetime | None
    ) -> KeyCreated:
        body = {
            "tenant": tenant,
            "scopes": scopes,
            "name": name,
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
        return self._call("POST", "/v1/admin/keys", KeyCreated, json=body)

    def list_keys(self) -> KeyList:
        return self._call("GET", "/v1/admin/keys", KeyList)

    def revoke_key(self, key_id: str) -> KeyOut:
        return self._call("DELETE", f"/v1/admin/keys/{key_id}", KeyOut)

    def list_models(self) -> ModelCardList:
        return self._call("GET", "/v1/models", ModelCardList)

    def register_model(self, request: ModelRegister) -> ModelRegistered:
        body = request.model_dump(exclude_none=True)
        return self._call("POST", "/v1/admin/models", ModelRegistered, json=body)

    def upload_file(self, path: Path, purpose: str) -> FileObject:
        with path.open("rb") as stream:  # httpx sends it in chunks; the server inspects it
            return self._call(
                "POST",
                "/v1/files",
                FileObject,
                data={"purpose": purpose},
                files={"file": (path.name, stream)},
                timeout=httpx.Timeout(30, read=600),
            )

    def list_files(self) -> FileList:
        return self._call("GET", "/v1/files", FileList)

    def delete_file(self, file_id: str) -> FileDeleted:
        return self._call("DELETE", f"/v1/files/{quote(file_id, safe='')}", FileDeleted)

    def get_limits(self, kind: LimitKind, ref: str) -> LimitsOut:
        return self._call("GET", f"/v1/admin/{kind}s/{quote(ref, safe='')}/limits", LimitsOut)

    def set_limits(self, kind: LimitKind, ref: str, limits: dict[str, int | None]) -> LimitsOut:
        path = f"/v1/admin/{kind}s/{quote(ref, safe='')}/limits"
        return self._call("PUT", path, LimitsOut, json=limits)

    def usage(self, query: UsageQuery) -> UsageList:
        chosen = query.model_dump(mode="json", exclude_none=True)
        return self._call("GET", "/v1/usage", UsageList, params=chosen)


def open_backend(settings: Settings) -> Backend:
    if settings.client.url:
        return RemoteBackend(settings.client.url, settings.client.api_key)
    return LocalBackend(settings)


__all__ = ["AimaasError", "Backend", "CliError", "open_backend"]
