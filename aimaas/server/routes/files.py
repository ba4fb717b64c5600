"""OpenAI's ``/v1/files``: upload, list, get and delete data files (scope ``train``) and
model files (``purpose: "model"``, scope ``models:write``).

An upload streams to a temp file (never held in memory), is inspected off the event loop,
put into the artifact store, and only then recorded; a refused upload leaves nothing behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, Literal

from fastapi import Depends, Query
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from aimaas.errors import Forbidden, InvalidInput
from aimaas.protocol.files import FileDeleted, FileList, FileObject
from aimaas.registry import files
from aimaas.security.keys import Scope
from aimaas.security.principal import Principal
from aimaas.server.audit import Audit
from aimaas.server.deps import ServicesDep, require_any
from aimaas.server.routes import new_router
from aimaas.uploads.datasets import inspect_upload
from aimaas.uploads.model_uploads import inspect_model_upload

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

router = new_router(prefix="/v1", tags=["files"])

# Data files need 'train', model files 'models:write' (checked once the purpose is known).
Uploader = Annotated[Principal, Depends(require_any(Scope.TRAIN, Scope.MODELS_WRITE))]
MAX_PARTS = 8
MAX_PAGE = 10_000
MAX_FIELD_BYTES = 1024
_FORM_HINT = "send multipart/form-data with a 'file' part and a 'purpose' field"
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


class _Form:
    """python-multipart callbacks: the ``file`` part's bytes are queued for ``out``, the
    ``purpose`` field is kept (small); anything else is refused."""

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self.filename: str | None = None
        self.purpose: str | None = None
        self.ended = False
        self._parts = 0
        self._field: str | None = None
        self._value = bytearray()
        self._header = b""
        self._header_value = b""
        self._disposition = b""

    def on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise InvalidInput(f"Too many form parts; {_FORM_HINT}.", param="file")
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        field = options.get(b"name", b"").decode("utf-8", "replace")[:64]
        if field == "file":
            if self.filename is not None or b"filename" not in options:
                raise InvalidInput(
                    f"Send exactly one 'file' part with a filename; {_FORM_HINT}.", param="file"
                )
            self.filename = files.clean_filename(options[b"filename"].decode("utf-8", "replace"))
        elif field != "purpose" or self.purpose is not None:
            raise InvalidInput(
                f"Unexpected form field {field!r}; {_FORM_HINT}.", param=field or "file"
            )
        self._field = field
        self._value.clear()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._field == "file":
            self.pending.append(data[start:end])
            return
        self._value += data[start:end]
        if len(self._value) > MAX_FIELD_BYTES:
            raise InvalidInput("The 'purpose' field is too long.", param="purpose")

    def on_part_end(self) -> None:
        if self._field == "purpose":
            purpose = self._value.decode("utf-8", "replace").strip()
            self.purpose = files.validate_purpose(purpose)  # refused before the file is read
        self._field = None

    def on_end(self) -> None:
        self.ended = True

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }


async def _receive(request: Request, out: BinaryIO) -> _Form:
    """Parse the multipart body, streaming the file part into ``out``."""
    content_type = request.headers.get("content-type", "")
    media, options = parse_options_header(content_type)
    if media != b"multipart/form-data" or not options.get(b"boundary"):
        raise InvalidInput(f"Upload with {_FORM_HINT}.", param="Content-Type")
    form = _Form()
    try:
        parser = MultipartParser(options[b"boundary"], form.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
            if form.pending:
                await run_in_threadpool(out.writelines, form.pending)
                form.pending.clear()
        parser.finalize()
    except FormParserError as exc:
        raise InvalidInput(f"The multipart body is malformed ({exc}); {_FORM_HINT}.") from None
    except ClientDisconnect:
        raise InvalidInput("The upload was cut off before it ended.", param="file") from None
    if not form.ended:
        raise InvalidInput(f"The multipart body ended early; {_FORM_HINT}.", param="file")
    if form.filename is None:
        raise InvalidInput(f"No 'file' part; {_FORM_HINT}.", param="file")
    if form.purpose is None:
        raise InvalidInput(
            f"No 'purpose' field; use one of: {', '.join(files.PURPOSES)}.", param="purpose"
        )
    return form


@router.post("/files", openapi_extra=_UPLOAD_BODY)
async def upload_file(
    request: Request, services: ServicesDep, caller: Uploader, audit: Audit
) -> FileObject:
    upload = await services.quotas.admit_upload(caller, request.headers.get("content-length"))
    try:
        # The store's scratch file: in its staging folder (what a crash leaves there is
        # removed at the next start), or in memory only when the store encrypts.
        with services.store.staging() as path:
            with path.open("wb") as out:
                form = await _receive(request, out)
            upload.received(path.stat().st_size)  # the tenant's upload_bytes_per_day
            assert form.filename is not None and form.purpose is not None
            _check_scope(caller, form.purpose)
            inspect = inspect_model_upload if form.purpose == "model" else inspect_upload
            summary = await run_in_threadpool(inspect, path, form.filename)
            row = await run_in_threadpool(
                lambda: files.store_file(
                    services.db,
                    services.store,
                    tenant_id=caller.tenant_id,
                    source=path,
                    filename=str(form.filename),
                    purpose=str(form.purpose),
                    details=summary.model_dump(),
                )
            )
            upload.stored()
    finally:
        upload.end()
    file = FileObject.from_row(row)
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
    services: ServicesDep,
    caller: Uploader,
    purpose: Annotated[str | None, Query(max_length=32)] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
    order: Literal["asc", "desc"] = "desc",
) -> FileList:
    with services.db.session() as session:
        rows = files.list_files(
            session,
            tenant_id=caller.tenant_id,
            purpose=purpose,
            after=after,
            limit=limit + 1,
            newest_first=order == "desc",
        )
        page = [FileObject.from_row(row) for row in rows[:limit]]
    return FileList(
        data=page,
        first_id=page[0].id if page else None,
        last_id=page[-1].id if page else None,
        has_more=len(rows) > limit,
    )


@router.get("/files/{file_id}")
def get_file(file_id: str, services: ServicesDep, caller: Uploader) -> FileObject:
    with services.db.session() as session:
        row = files.get_file(session, tenant_id=caller.tenant_id, file_id=file_id)
        return FileObject.from_row(row)


@router.delete("/files/{file_id}")
def delete_file(file_id: str, services: ServicesDep, caller: Uploader, audit: Audit) -> FileDeleted:
    row = files.remove_file(
        services.db, services.store, tenant_id=caller.tenant_id, file_id=file_id
    )
    return audit.log("file.delete", FileDeleted(id=row.id), purpose=row.purpose)
