"""TLS: the SSL context's settings and errors, and real handshakes with a test CA over loopback."""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import structlog
import trustme
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from yarl import URL

from hrec_ingest.miaop import (
    KeepAliveGets,
    MiaopClient,
    NullObserver,
    RetryPolicy,
    TlsConfigError,
    TlsError,
    TokenManager,
    TransportError,
    make_session,
    make_ssl_context,
)
from hrec_ingest.miaop.transport import send_get

ONE = RetryPolicy(attempts=1)


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_pem(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def client_pems(ca: trustme.CA, tmp_path: Path) -> tuple[Path, Path]:
    leaf = ca.issue_cert("hrec-ingest@example.com")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    for i, blob in enumerate(leaf.cert_chain_pems):
        blob.write_to_path(str(cert), append=i > 0)
    leaf.private_key_pem.write_to_path(str(key))
    return cert, key


def server_context(ca: trustme.CA, *, require_client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    if require_client_cert:
        ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@asynccontextmanager
async def tls_server(context: ssl.SSLContext) -> AsyncIterator[str]:
    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "tok", "expires_in": 300})

    async def task(request: web.Request) -> web.Response:
        return web.json_response({"taskId": request.match_info["id"], "taskStatus": "sttDone"})

    app = web.Application()
    app.router.add_post("/realms/demo/protocol/openid-connect/token", token)
    app.router.add_get("/api/tasks/{id}", task)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        yield f"https://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def fetch_task(url: str, context: ssl.SSLContext, way: str = "aiohttp") -> str:
    """A task's status through the client (aiohttp), or a bare GET through KeepAliveGets."""
    if way == "keepalive":
        async with KeepAliveGets(context, limit=2, timeout_seconds=10, user_agent="t") as gets:
            response = await send_get(
                gets,
                URL(url) / "api/tasks/t1",
                endpoint="task",
                observer=NullObserver(),
                headers={},
            )
            return str(response.json()["taskStatus"])
    async with make_session(context, pool_limit=2, timeout_seconds=10) as session:
        tokens = TokenManager(session, url, "demo", "user", "pw", retry=ONE)
        client = MiaopClient(session, url, tokens, retry=ONE)
        return (await client.get_task("t1")).taskStatus


@pytest.fixture(params=["aiohttp", "keepalive"])
def way(request: pytest.FixtureRequest) -> str:
    """Both HTTP paths: aiohttp's (tokens, uploads), and KeepAliveGets's (plain GETs)."""
    return str(request.param)


class TestContext:
    def test_verification_is_on_by_default(self) -> None:
        context = make_ssl_context(True, None, None, None)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert context.minimum_version >= ssl.TLSVersion.TLSv1_2

    def test_switching_it_off_warns_once(self) -> None:
        with structlog.testing.capture_logs() as logs:
            context = make_ssl_context(False, None, None, None)
        assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
        assert [e["event"] for e in logs] == ["tls.verify_disabled"]
        assert logs[0]["log_level"] == "warning"

    def test_missing_ca_bundle(self, tmp_path: Path) -> None:
        with pytest.raises(TlsConfigError, match=r"^CA_BUNDLE: .*nope\.pem does not exist"):
            make_ssl_context(True, tmp_path / "nope.pem", None, None)

    def test_ca_bundle_that_is_not_pem(self, tmp_path: Path) -> None:
        path = tmp_path / "ca.pem"
        path.write_text("not a certificate")
        with pytest.raises(TlsConfigError, match=r"^CA_BUNDLE: .* no usable PEM"):
            make_ssl_context(True, path, None, None)

    def test_unreadable_file(self, ca_pem: Path) -> None:
        ca_pem.chmod(0)
        try:
            if os.access(ca_pem, os.R_OK):
                pytest.skip("this user (root) reads any file")
            with pytest.raises(TlsConfigError, match="CA_BUNDLE: .* not readable"):
                make_ssl_context(True, ca_pem, None, None)
        finally:
            ca_pem.chmod(0o600)

    def test_key_without_cert(self, client_pems: tuple[Path, Path]) -> None:
        with pytest.raises(TlsConfigError, match="^CLIENT_CERT: must be set"):
            make_ssl_context(True, None, None, client_pems[1])

    def test_missing_client_key(self, client_pems: tuple[Path, Path], tmp_path: Path) -> None:
        with pytest.raises(TlsConfigError, match="^CLIENT_KEY: .* does not exist"):
            make_ssl_context(True, None, client_pems[0], tmp_path / "missing.key")

    def test_mismatched_key(
        self, ca: trustme.CA, client_pems: tuple[Path, Path], tmp_path: Path
    ) -> None:
        other = tmp_path / "other.key"
        ca.issue_cert("someone-else@example.com").private_key_pem.write_to_path(str(other))
        with pytest.raises(TlsConfigError, match="^CLIENT_CERT/CLIENT_KEY: .*matching private key"):
            make_ssl_context(True, None, client_pems[0], other)

    def test_encrypted_key_is_refused_without_a_prompt(
        self, client_pems: tuple[Path, Path], tmp_path: Path
    ) -> None:
        key = serialization.load_pem_private_key(client_pems[1].read_bytes(), password=None)
        locked = tmp_path / "locked.key"
        locked.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"pass"),
            )
        )
        with pytest.raises(TlsConfigError, match="CLIENT_KEY: the private key is encrypted"):
            make_ssl_context(True, None, client_pems[0], locked)

    def test_a_good_client_certificate_loads(self, client_pems: tuple[Path, Path]) -> None:
        make_ssl_context(True, None, *client_pems)


class TestHandshakes:
    async def test_trusted_with_the_ca_bundle(self, way: str, ca: trustme.CA, ca_pem: Path) -> None:
        async with tls_server(server_context(ca, require_client_cert=False)) as url:
            assert (
                await fetch_task(url, make_ssl_context(True, ca_pem, None, None), way) == "sttDone"
            )

    async def test_untrusted_without_it(self, way: str, ca: trustme.CA) -> None:
        async with tls_server(server_context(ca, require_client_cert=False)) as url:
            with pytest.raises(TlsError) as caught:
                await fetch_task(url, make_ssl_context(True, None, None, None), way)
        message = str(caught.value)
        assert "not trusted" in message and "CA_BUNDLE" in message and "TLS_VERIFY=false" in message
        assert not caught.value.retryable

    async def test_verification_off_connects_anyway(self, way: str, ca: trustme.CA) -> None:
        async with tls_server(server_context(ca, require_client_cert=False)) as url:
            assert (
                await fetch_task(url, make_ssl_context(False, None, None, None), way) == "sttDone"
            )

    async def test_mutual_tls(
        self, way: str, ca: trustme.CA, ca_pem: Path, client_pems: tuple[Path, Path]
    ) -> None:
        async with tls_server(server_context(ca, require_client_cert=True)) as url:
            context = make_ssl_context(True, ca_pem, *client_pems)
            assert await fetch_task(url, context, way) == "sttDone"

    async def test_mutual_tls_without_a_client_certificate(
        self, way: str, ca: trustme.CA, ca_pem: Path
    ) -> None:
        context = server_context(ca, require_client_cert=True)
        # TLS 1.2 refuses the client inside the handshake (TLS 1.3 only after it, when a
        # reset looks like any dropped connection). Python's server resets instead of
        # sending its alert, so the client can only suspect the certificate: it says so,
        # and still retries, as a reset may be a blip.
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        async with tls_server(context) as url:
            with pytest.raises(TransportError, match="CLIENT_CERT and CLIENT_KEY") as caught:
                await fetch_task(url, make_ssl_context(True, ca_pem, None, None), way)
        assert caught.value.retryable
