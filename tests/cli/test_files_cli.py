"""``aimaas files``: as a real process on the local data directory, and the remote backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aimaas.cli.backend import CliError, RemoteBackend
from tests.cli.test_cli import aimaas
from tests.conftest import Api


@pytest.mark.e2e
def test_local_upload_list_delete(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    csv = tmp_path / "iris.csv"
    csv.write_text("petal,sepal,species\n1.4,5.1,setosa\n4.7,7.0,versicolor\n")

    uploaded = json.loads(aimaas("files", "upload", str(csv), "--json", data_dir=data_dir).stdout)
    assert uploaded["id"].startswith("file-") and uploaded["filename"] == "iris.csv"
    assert uploaded["purpose"] == "training" and uploaded["details"]["rows"] == 2

    listing = json.loads(aimaas("files", "list", "--json", data_dir=data_dir).stdout)
    assert [f["id"] for f in listing["data"]] == [uploaded["id"]]
    assert uploaded["id"] in aimaas("files", "list", data_dir=data_dir).stdout

    bad = tmp_path / "ragged.csv"
    bad.write_text("a,b\n1,2\n3\n")
    refused = aimaas("files", "upload", str(bad), data_dir=data_dir, check=False)
    assert refused.returncode == 1 and "Line 3" in refused.stderr
    assert "Traceback" not in refused.stderr
    wrong = aimaas("files", "upload", str(csv), "--purpose", "x", data_dir=data_dir, check=False)
    assert wrong.returncode == 1 and "fine-tune" in wrong.stderr

    aimaas("files", "delete", uploaded["id"], data_dir=data_dir)
    assert json.loads(aimaas("files", "list", "--json", data_dir=data_dir).stdout)["data"] == []
    assert not [p for p in (data_dir / "artifacts").rglob("*") if p.is_file()]
    gone = aimaas("files", "delete", uploaded["id"], data_dir=data_dir, check=False)
    assert gone.returncode == 1 and "not found" in gone.stderr


@pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument")
def test_remote_backend_streams_the_upload(api: Api, tmp_path: Path) -> None:
    """RemoteBackend against the in-process app (TestClient is an httpx.Client)."""
    remote = RemoteBackend("http://testserver", api.admin_key)
    remote.client = api.client
    api.client.headers["Authorization"] = f"Bearer {api.admin_key}"
    path = tmp_path / "texts.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n')

    uploaded = remote.upload_file(path, "evaluation")
    assert uploaded.details == {"format": "jsonl", "rows": 2, "labelled": True}
    assert [f.id for f in remote.list_files().data] == [uploaded.id]
    assert remote.delete_file(uploaded.id).deleted
    with pytest.raises(CliError, match="400: Unknown purpose"):
        remote.upload_file(path, "nope")
    with pytest.raises(CliError, match="404"):
        remote.delete_file("../admin/keys")
