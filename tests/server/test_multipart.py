"""server/multipart.py: a multipart body read as it arrives, the file part into a file."""

from __future__ import annotations

import asyncio
import io

import pytest
from starlette.requests import Request
from starlette.types import Message

from aimaas.errors import InvalidInput
from aimaas.server.multipart import UploadForm, receive_upload

BOUNDARY = "b0undary"


def _body(*parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def _request(body: bytes, *, chunk: int = 7) -> Request:
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]

    async def receive() -> Message:
        piece = pieces.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    content_type = f"multipart/form-data; boundary={BOUNDARY}".encode()
    scope = {"type": "http", "method": "POST", "headers": [(b"content-type", content_type)]}
    return Request(scope, receive)


def _receive(body: bytes) -> tuple[UploadForm, bytes]:
    out = io.BytesIO()
    form = asyncio.run(receive_upload(_request(body), out))
    return form, out.getvalue()


def test_the_file_part_streams_out_and_the_purpose_is_kept() -> None:
    data = bytes(range(256)) * 40
    form, written = _receive(
        _body(("purpose", None, b"training"), ("file", "../../etc/rows.csv", data))
    )
    assert written == data
    assert form.filename == "rows.csv"  # a label: its last path component only
    assert form.purpose == "training" and form.ended


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_body(("purpose", None, b"training")), "No 'file' part"),
        (_body(("file", "a.csv", b"x")), "No 'purpose' field"),
        (_body(("purpose", None, b"pictures"), ("file", "a.csv", b"x")), "Unknown purpose"),
        (_body(("other", None, b"1")), "Unexpected form field 'other'"),
        (_body(("file", "a.csv", b"x"), ("file", "b.csv", b"y")), "exactly one 'file' part"),
        (_body(("purpose", None, b"p" * 2000)), "too long"),
        (_body(("purpose", None, b"training"))[:-10], "ended early"),
    ],
)
def test_a_malformed_form_is_refused_with_what_to_send(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _receive(body)


def test_a_body_that_is_not_multipart_is_refused() -> None:
    request = Request({"type": "http", "method": "POST", "headers": []})
    with pytest.raises(InvalidInput, match="multipart/form-data with a 'file' part"):
        asyncio.run(receive_upload(request, io.BytesIO()))
