"""A multipart upload read as it arrives: the ``file`` part streams into a file (never held
in memory), the small ``purpose`` field is kept, anything else is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from aimaas.errors import InvalidInput
from aimaas.registry import files

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_PARTS = 8
MAX_FIELD_BYTES = 1024
_FORM_HINT = "send multipart/form-data with a 'file' part and a 'purpose' field"


class UploadForm:
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


async def receive_upload(request: Request, out: BinaryIO) -> UploadForm:
    """Parse the multipart body, streaming the file part into ``out``."""
    content_type = request.headers.get("content-type", "")
    media, options = parse_options_header(content_type)
    if media != b"multipart/form-data" or not options.get(b"boundary"):
        raise InvalidInput(f"Upload with {_FORM_HINT}.", param="Content-Type")
    form = UploadForm()
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
