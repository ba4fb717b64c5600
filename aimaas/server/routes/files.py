"""OpenAI's ``/v1/files``: upload, list, get and delete data files (scope ``train``) and
model files (``purpose: "model"``, scope ``models:write``).

An upload streams to a temp file (never held in memory), is inspected off the event loop,
put into the artifact store, and only then recorded; a refused upload leaves nothing behind.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from aimaas.errors import Forbidden
from aimaas.protocol.files import FileDeleted, FileList, FileObject
from aimaas.protocol.scopes import Scope
from aimaas.registry import files
from aimaas.registry.files import FileQuery
from aimaas.runtime import files as uploaded
from aimaas.security.principal import Principal
from aimaas.server.audit import Audit
from aimaas.server.deps import DatabaseDep, QuotasDep, StoreDep, require_any
from aimaas.server.multipart import receive_upload
from aimaas.server.routes import new_router

router = new_router(prefix="/v1", tags=["files"])

# Data files need 'train', model files 'models:write' (checked once the purpose is known).
Uploader = Annotated[Principal, Depends(require_any(Scope.TRAIN, Scope.MODELS_WRITE))]
MAX_PAGE = 10_000
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "purpose"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "purpose": {"type": "string", "enum": list(files.PURPOSES)},
                    },
                }
            }
        },
    }
}


@router.post("/files", openapi_extra=_UPLOAD_BODY)
async def upload_file(
    request: Request,
    db: DatabaseDep,
    store: StoreDep,
    quotas: QuotasDep,
    caller: Uploader,
    audit: Audit,
) -> FileObject:
    upload = await quotas.admit_upload(caller, request.headers.get("content-length"))
    try:
        # The store's scratch file: in its staging folder (what a crash leaves there is
        # removed at the next start), or in memory only when the store encrypts.
        with store.staging() as path:
            with path.open("wb") as out:
                form = await receive_upload(request, out)
            upload.received(path.stat().st_size)  # the tenant's upload_bytes_per_day
            assert form.filename is not None and form.purpose is not None
            _check_scope(caller, form.purpose)
            details = await run_in_threadpool(
                uploaded.inspect_file, path, form.filename, form.purpose
            )
            file = await run_in_threadpool(
                lambda: uploaded.store_upload(
                    db,
                    store,
                    tenant_id=caller.tenant_id,
                    source=path,
                    filename=str(form.filename),
                    purpose=str(form.purpose),
                    details=details,
                )
            )
            upload.stored()
    finally:
        upload.end()
    return await audit.alog(
        "file.upload",
        file,
        purpose=file.purpose,
        bytes=file.bytes,
        format=(file.details or {}).get("format"),
    )


def _check_scope(caller: Principal, purpose: str) -> None:
    needed = Scope.MODELS_WRITE if purpose == "model" else Scope.TRAIN
    if not caller.is_admin and needed.value not in caller.scopes:
        raise Forbidden(
            f"Uploading {purpose!r} files needs the '{needed.value}' scope; an admin can create "
            f"a key with `aimaas keys create --tenant {caller.tenant_name} --scope {needed.value}`."
        )


@router.get("/files")
def list_files(
    db: DatabaseDep,
    caller: Uploader,
    purpose: Annotated[str | None, Query(max_length=32)] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
    order: Literal["asc", "desc"] = "desc",
) -> FileList:
    wanted = FileQuery(caller.tenant_id, purpose, after, limit, newest_first=order == "desc")
    return uploaded.list_files(db, wanted)


@router.get("/files/{file_id}")
def get_file(file_id: str, db: DatabaseDep, caller: Uploader) -> FileObject:
    return uploaded.get_file(db, tenant_id=caller.tenant_id, file_id=file_id)


@router.delete("/files/{file_id}")
def delete_file(
    file_id: str, db: DatabaseDep, store: StoreDep, caller: Uploader, audit: Audit
) -> FileDeleted:
    row = files.remove_file(db, store, tenant_id=caller.tenant_id, file_id=file_id)
    return audit.log("file.delete", FileDeleted(id=row.id), purpose=row.purpose)
