"""``/v1/files``: upload, list, get, delete; tenants, scopes, size limits, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from aimaas.config import Settings
from aimaas.registry import files
from aimaas.security.bootstrap import ensure_admin_key
from aimaas.server.app import create_app
from tests.conftest import Api

CSV = b"x1,x2,label\n1,2,cat\n3,4,dog\n5,6,cat\n"


def upload(
    api: Api,
    content: bytes = CSV,
    *,
    filename: str = "data.csv",
    purpose: str | None = "training",
    key: str | None = None,
) -> httpx.Response:
    form = {} if purpose is None else {"purpose": purpose}
    return api.client.post(
        "/v1/files",
        data=form,
        files={"file": (filename, content, "application/octet-stream")},
        headers=api.auth(key),
    )


def stored(api: Api) -> list[Path]:
    """Every artifact and every leftover temp file under the store."""
    root = api.settings.storage.artifacts_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def key_for(api: Api, tenant: str, scopes: list[str]) -> str:
    return str(api.create_key(tenant, scopes)["key"])


@contextmanager
def running(settings: Settings) -> Iterator[Api]:
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        admin_key = ensure_admin_key(app.state.services.db, settings.storage.admin_key_file)
        assert admin_key is not None
        yield Api(client=client, admin_key=admin_key, settings=settings)


def test_upload_list_get_delete(api: Api) -> None:
    response = upload(api)
    assert response.status_code == 200, response.text
    file: dict[str, Any] = response.json()
    assert file["id"].startswith("file-") and file["object"] == "file"
    assert file["bytes"] == len(CSV) and file["filename"] == "data.csv"
    assert file["purpose"] == "training" and isinstance(file["created_at"], int)
    assert file["details"] == {
        "format": "csv",
        "rows": 3,
        "columns": ["x1", "x2", "label"],
        "numeric_columns": ["x1", "x2"],
    }
    second = upload(api, b'{"text": "hi", "label": 1}\n', purpose="evaluation").json()

    listing = api.client.get("/v1/files", headers=api.auth()).json()
    assert listing["object"] == "list"
    assert [f["id"] for f in listing["data"]] == [second["id"], file["id"]]  # newest first
    assert api.client.get(f"/v1/files/{file['id']}", headers=api.auth()).json() == file

    deleted = api.client.delete(f"/v1/files/{file['id']}", headers=api.auth())
    assert deleted.json() == {"id": file["id"], "object": "file", "deleted": True}
    again = api.client.get(f"/v1/files/{file['id']}", headers=api.auth())
    assert again.status_code == 404 and again.json()["error"]["param"] == "file_id"
    assert api.client.delete(f"/v1/files/{file['id']}", headers=api.auth()).status_code == 404
    assert len(stored(api)) == 1  # the JSONL's artifact; the CSV's is gone


def test_listing_pages_like_openai(api: Api) -> None:
    ids = [upload(api, CSV + str(i).encode() * 4 + b",1,a\n").json()["id"] for i in range(5)]
    upload(api, purpose="evaluation")

    def page(**params: object) -> dict[str, Any]:
        response = api.client.get("/v1/files", params=params, headers=api.auth())
        assert response.status_code == 200, response.text
        return dict(response.json())

    first = page(purpose="training", limit=2)
    assert [f["id"] for f in first["data"]] == ids[::-1][:2] and first["has_more"] is True
    assert first["first_id"] == ids[4] and first["last_id"] == ids[3]
    rest = page(purpose="training", after=first["last_id"])
    assert [f["id"] for f in rest["data"]] == ids[::-1][2:] and rest["has_more"] is False
    oldest = page(purpose="training", order="asc", limit=3)
    assert [f["id"] for f in oldest["data"]] == ids[:3]
    assert len(page()["data"]) == 6
    for params in ({"limit": 0}, {"limit": 10_001}, {"order": "up"}, {"after": "file-x"}):
        response = api.client.get("/v1/files", params=params, headers=api.auth())
        assert response.status_code == 400, params
        assert response.json()["error"]["param"] == next(iter(params))


def test_same_bytes_share_an_artifact_until_the_last_delete(api: Api) -> None:
    first, second = upload(api).json(), upload(api, filename="copy.csv").json()
    assert len(stored(api)) == 1
    api.client.delete(f"/v1/files/{first['id']}", headers=api.auth())
    assert len(stored(api)) == 1
    assert api.client.get(f"/v1/files/{second['id']}", headers=api.auth()).status_code == 200
    api.client.delete(f"/v1/files/{second['id']}", headers=api.auth())
    assert stored(api) == []


def test_tenants_never_see_each_others_files(api: Api) -> None:
    api.create_tenant("acme")
    api.create_tenant("other")
    acme, other = key_for(api, "acme", ["train"]), key_for(api, "other", ["train"])
    file = upload(api, key=acme).json()
    missing_id = "file-" + "0" * 24

    theirs = api.client.get(f"/v1/files/{file['id']}", headers=api.auth(other))
    missing = api.client.get(f"/v1/files/{missing_id}", headers=api.auth(other))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text.replace(file["id"], missing_id) == missing.text
    assert api.client.delete(f"/v1/files/{file['id']}", headers=api.auth(other)).status_code == 404
    assert api.client.get("/v1/files", headers=api.auth(other)).json()["data"] == []
    mine = api.client.get("/v1/files", headers=api.auth(acme)).json()["data"]
    assert [f["id"] for f in mine] == [file["id"]]
    # The admin key belongs to the admin tenant: it sees its own files, not acme's.
    assert api.client.get(f"/v1/files/{file['id']}", headers=api.auth()).status_code == 404


def test_scopes_and_auth(api: Api) -> None:
    api.create_tenant("acme")
    infer = key_for(api, "acme", ["infer", "models:read"])
    refused = upload(api, key=infer)
    assert refused.status_code == 403 and "'train'" in refused.json()["error"]["message"]
    for method, path in (("GET", "/v1/files"), ("GET", "/v1/files/x"), ("DELETE", "/v1/files/x")):
        response = api.client.request(method, path, headers=api.auth(infer))
        assert response.status_code == 403, (method, path)
    assert api.client.post("/v1/files", files={"file": ("a", CSV)}).status_code == 401
    assert stored(api) == []


def test_purpose_is_checked(api: Api) -> None:
    unknown = upload(api, purpose="assistants")
    assert unknown.status_code == 400
    error = unknown.json()["error"]
    assert error["param"] == "purpose"
    assert all(p in error["message"] for p in ("training", "evaluation", "fine-tune"))
    missing = upload(api, purpose=None)
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "purpose"
    assert upload(api, purpose="fine-tune").status_code == 200


def test_malformed_forms_are_400(api: Api) -> None:
    only_purpose = {"purpose": (None, "training")}  # multipart without a file part
    no_file = api.client.post("/v1/files", files=only_purpose, headers=api.auth())
    assert no_file.status_code == 400 and no_file.json()["error"]["param"] == "file"
    as_json = api.client.post("/v1/files", json={"purpose": "training"}, headers=api.auth())
    assert as_json.status_code == 400 and as_json.json()["error"]["param"] == "Content-Type"
    extra = api.client.post(
        "/v1/files",
        data={"purpose": "training", "user": "x"},
        files={"file": ("a.csv", CSV)},
        headers=api.auth(),
    )
    assert extra.status_code == 400 and extra.json()["error"]["param"] == "user"
    two_files = api.client.post(
        "/v1/files",
        data={"purpose": "training"},
        files=[("file", ("a.csv", CSV)), ("file", ("b.csv", CSV))],
        headers=api.auth(),
    )
    assert two_files.status_code == 400
    for body in (b"garbage", b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nx'):
        response = api.client.post(
            "/v1/files",
            content=body,
            headers={**api.auth(), "content-type": "multipart/form-data; boundary=b"},
        )
        assert response.status_code == 400, body
    assert stored(api) == []
    assert api.client.get("/health").status_code == 200


def test_refused_upload_leaves_nothing_behind(api: Api) -> None:
    for content in (b"a,b,c\n1,2,3\n4,5\n", b"", b"\x80\x04pickle", b"PK\x05\x06" + bytes(18)):
        response = upload(api, content)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["param"] == "file" and "Traceback" not in error["message"]
        assert str(api.settings.storage.data_dir) not in error["message"]
    assert api.client.get("/v1/files", headers=api.auth()).json()["data"] == []
    assert stored(api) == []


def test_hostile_filenames_are_kept_as_labels(api: Api) -> None:
    for name, kept in (("../../etc/passwd", "passwd"), ("..\\..\\w.csv", "w.csv")):
        response = upload(api, filename=name)
        assert response.status_code == 200, response.text
        assert response.json()["filename"] == kept
    assert files.clean_filename("a\x00b\u202ec\x1b.csv") == "abc.csv"
    assert files.clean_filename("dir/") == "upload"
    assert len(files.clean_filename("n" * 10_000)) == files.MAX_FILENAME


def test_upload_size_limit(settings: Settings) -> None:
    settings.server.max_body_bytes = 1024  # JSON bodies
    settings.storage.max_upload_bytes = 16 * 1024
    with running(settings) as api:
        big_csv = b"a,b\n" + b"1,2\n" * 2000  # 8 KiB: over the JSON limit, under the upload one
        assert upload(api, big_csv).status_code == 200
        too_big = upload(api, b"a,b\n" + b"1,2\n" * 5000)
        assert too_big.status_code == 413
        assert "AIMAAS_STORAGE__MAX_UPLOAD_BYTES" in too_big.json()["error"]["message"]

        boundary = "x" * 16
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\ntraining\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"'
            "\r\n\r\na,b\n"
        ).encode()

        def chunked() -> Iterator[bytes]:  # no Content-Length: caught while streaming
            yield head
            for _ in range(100):
                yield b"1,2\n" * 256

        streamed = api.client.post(
            "/v1/files",
            content=chunked(),
            headers={
                **api.auth(),
                "content-type": f"multipart/form-data; boundary={boundary}",
            },
        )
        assert streamed.status_code == 413
        assert len(api.client.get("/v1/files", headers=api.auth()).json()["data"]) == 1
        assert len(stored(api)) == 1  # the accepted upload; no temp file left
        assert api.client.get("/health").status_code == 200
