"""For the check and tasks tests: point a site at a simulator, put tasks on it, make TLS certs."""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import socket
import ssl
import wave
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hrec_ingest.miaop import SINGLE_ATTEMPT, MiaopClient, TokenManager, UploadPart, make_session
from hrec_ingest.miaop.models import MeetingDesc, MeetingFile, SupervisorInfo, TaskMetadata
from hrec_ingest.simulator import RunningSimulator

SUPERVISOR = "ops@example.com"


def server_settings(url: str, password: str) -> dict[str, str]:
    """The settings that point a site at the server at ``url`` (single tenant ``demo``)."""
    return {
        "KEYCLOAK_BASE_URL": url,
        "API_BASE_URL": url,
        "TENANT": "demo",
        "USERNAME": "user",
        "PASSWORD": password,
        "SUPERVISOR_EMAIL": SUPERVISOR,
        "HTTP_TIMEOUT_SECONDS": "5",
        # Free space on a test machine is whatever it is: this check has its own test.
        "LOW_DISK_WARN_MB": "0",
    }


def closed_port() -> int:
    """A loopback port that nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def submit_task(
    sim: RunningSimulator,
    folder: Path,
    password: str,
    *,
    name: str = "calls",
    supervisor: str = SUPERVISOR,
    language: str = "English",
    tenant: str = "demo",
    files: int = 1,
) -> str:
    """Submit a task of ``files`` small WAV files to the simulator, as the daemon does."""
    names = [f"{name}-{i}.wav" for i in range(files)]
    parts = []
    for file_name in names:
        path = folder / file_name
        path.write_bytes(_wav())
        parts.append(UploadPart(path=path, filename=file_name, size=path.stat().st_size))
    task = TaskMetadata(
        tenant=tenant,
        taskName=name,
        taskCreationTime=dt.datetime.now(dt.UTC).isoformat(),
        baseLanguages=[language],
        meetings=[MeetingDesc(files=[MeetingFile(file=n, baseLanguage=language)]) for n in names],
        supervisor=SupervisorInfo(email=supervisor),
    )
    context = ssl.create_default_context()
    async with make_session(context, pool_limit=2, timeout_seconds=10) as session:
        tokens = TokenManager(session, sim.url, tenant, "user", password, retry=SINGLE_ATTEMPT)
        client = MiaopClient(session, sim.url, tokens, retry=SINGLE_ATTEMPT)
        return await client.submit_task(task, parts)


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0" * 1600)
    return buffer.getvalue()


def trusted_server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 issued by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def self_signed_server_context(folder: Path) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1 (no CA at all)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "self-signed.pem", folder / "self-signed.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert_path), str(key_path))
    return context
