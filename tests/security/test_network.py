"""The network edge: TLS with a real certificate and real clients, the allowed-hosts check
against DNS rebinding (``/health`` included), CORS closed unless configured."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from aimaas.config import Settings, load_settings
from aimaas.server.app import create_app
from aimaas.server.network import AllowedHostsMiddleware, host_of
from tests import tier
from tests.conftest import Api
from tests.e2e.server import LiveServer
from tests.postgres import free_port

# --- allowed hosts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.0.0.1:8000", True),
        ("localhost:8000", True),
        ("LOCALHOST", True),
        ("localhost.", True),
        ("[::1]:8000", True),
        ("[::1]", True),
        ("api.example.com", True),
        ("eu.api.example.com:443", True),
        ("example.com", False),  # '*.example.com' is its subdomains only
        ("evil.example", False),
        ("127.0.0.1.evil.example", False),
        ("localhost.evil.example:8000", False),
        ("evil.example#localhost", False),
        ("user@localhost", False),
        ("localhost:8000:1", False),
        ("::1", False),  # an IPv6 literal needs brackets in a Host header
        ("[::g]", False),
        ("", False),
        (None, False),
        ("a" * 5000, False),
    ],
)
def test_host_patterns(header: str | None, allowed: bool) -> None:
    middleware = AllowedHostsMiddleware(
        lambda *_: None,  # type: ignore[arg-type,return-value]
        hosts=["127.0.0.1", "localhost", "::1", "*.example.com"],
    )
    assert middleware.allowed(header) is allowed
    if allowed:
        assert host_of(header) is not None


def test_wrong_host_is_400_everywhere_health_included(api: Api) -> None:
    for path in ("/health", "/v1/models", "/v1/admin/tenants", "/metrics"):
        response = api.client.get(path, headers={**api.auth(), "Host": "evil.example"})
        assert response.status_code == 400, (path, response.text)
        error = response.json()["error"]
        assert error["param"] == "Host" and "AIMAAS_SERVER__ALLOWED_HOSTS" in error["message"]
        assert response.headers["x-request-id"]
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000", "testserver"):
        assert api.client.get("/health", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_and_the_bind_address(settings: Settings) -> None:
    settings.server.allowed_hosts = ["aimaas.internal"]
    settings.server.host = "10.1.2.3"
    with TestClient(create_app(settings), base_url="http://aimaas.internal") as client:
        assert client.get("/health").status_code == 200
        assert client.get("/health", headers={"Host": "10.1.2.3:8000"}).status_code == 200
        assert client.get("/health", headers={"Host": "localhost"}).status_code == 400
    settings.server.allowed_hosts = ["*"]
    with TestClient(create_app(settings), base_url="http://anything.example") as client:
        assert client.get("/health").status_code == 200


def test_network_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().server.trusted_hosts == ["127.0.0.1", "localhost", "::1"]
    assert load_settings().server.cors_origins == []
    monkeypatch.setenv("AIMAAS_SERVER__ALLOWED_HOSTS", "a.example, *.b.example")
    monkeypatch.setenv("AIMAAS_SERVER__CORS_ORIGINS", '["https://app.example"]')
    monkeypatch.setenv("AIMAAS_HOST", "0.0.0.0")
    settings = load_settings()
    assert settings.server.trusted_hosts == ["a.example", "*.b.example"]  # no wildcard bind
    assert settings.server.cors_origins == ["https://app.example"]
    monkeypatch.setenv("AIMAAS_SERVER__SSL_CERTFILE", "/tmp/cert.pem")
    with pytest.raises(ValueError, match="ssl_certfile and ssl_keyfile"):
        load_settings()


# --- CORS -------------------------------------------------------------------------------------

PREFLIGHT = {
    "Origin": "https://app.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def test_cors_is_closed_by_default(api: Api) -> None:
    response = api.client.options("/v1/chat/completions", headers=PREFLIGHT)
    assert not any(h.lower().startswith("access-control-") for h in response.headers)
    simple = api.client.get("/v1/models", headers={**api.auth(), "Origin": "https://app.example"})
    assert simple.status_code == 200
    assert not any(h.lower().startswith("access-control-") for h in simple.headers)


def test_cors_allows_exactly_the_configured_origins(settings: Settings) -> None:
    settings.server.cors_origins = ["https://app.example"]
    with TestClient(create_app(settings)) as client:
        ok = client.options("/v1/chat/completions", headers=PREFLIGHT)
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in ok.headers
        other = client.options(
            "/v1/chat/completions", headers={**PREFLIGHT, "Origin": "https://evil.example"}
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
        simple = client.get("/health", headers={"Origin": "https://app.example"})
        assert simple.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
        evil = client.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers
        # The host check comes first: a rebinding page gets nothing, CORS or not.
        rebound = client.get("/health", headers={"Origin": "https://app.example", "Host": "x.y"})
        assert rebound.status_code == 400 and "access-control-allow-origin" not in rebound.headers


# --- TLS with a live server -------------------------------------------------------------------


def self_signed(folder: Path, *, name: str = "localhost") -> tuple[Path, Path]:
    """A certificate for ``name`` and 127.0.0.1, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def serve(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> LiveServer:
    tier.refuse_in_fast_tier("aimaas serve")
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"server-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AIMAAS_")} | {
        "AIMAAS_DATA_DIR": str(data_dir),
        "AIMAAS_ENGINE__DEFAULT_MODELS": "false",
        **(env or {}),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "aimaas", "serve", "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    return LiveServer(data_dir, port, process, log_path, full_env)


def wait_ready(server: LiveServer, context: ssl.SSLContext) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            url = f"https://127.0.0.1:{server.port}/health"
            if httpx.get(url, verify=context, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not start in 60 s:\n{server.log()}")


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[LiveServer, ssl.SSLContext]]:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(cafile=str(cert))
    server = serve(tmp_path / "data", "--ssl-certfile", str(cert), "--ssl-keyfile", str(key))
    with server:
        wait_ready(server, context)
        yield server, context


@pytest.mark.e2e
def test_tls_with_the_openai_client_and_httpx(
    tls_server: tuple[LiveServer, ssl.SSLContext],
) -> None:
    server, context = tls_server
    base = f"https://localhost:{server.port}"
    with httpx.Client(verify=context) as http:
        client = openai.OpenAI(
            base_url=f"{base}/v1", api_key=server.admin_key, http_client=http, max_retries=0
        )
        assert client.models.list().data == []  # served over TLS, key accepted
        with pytest.raises(openai.AuthenticationError):
            client.with_options(api_key="sk-aimaas-wrong").models.list()
        rebound = http.get(f"{base}/health", headers={"Host": "evil.example"})
        assert rebound.status_code == 400
    # A client that does not trust the certificate refuses it; plain HTTP gets no answer.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{base}/health", timeout=5)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=5)
    assert server.process.poll() is None


@pytest.mark.e2e
def test_bad_tls_settings_stop_the_server_with_one_line(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    _, other_key = self_signed(tmp_path, name="other")
    cases = [
        (["--ssl-certfile", str(cert)], "go together"),
        (["--ssl-certfile", str(cert), "--ssl-keyfile", str(other_key)], "key matching"),
        (["--ssl-certfile", str(tmp_path / "missing.pem"), "--ssl-keyfile", str(key)], "PEM"),
    ]
    for args, says in cases:
        server = serve(tmp_path / "data", *args)
        assert server.process.wait(timeout=60) == 1, server.log()
        log = server.log()
        assert says in log and "Traceback" not in log, log
