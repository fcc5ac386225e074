"""A test CA's PEM files and the simulator's TLS context, for the TLS tests."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Pems:
    """PEM files a deployment may point CA_BUNDLE, CLIENT_CERT and CLIENT_KEY at."""

    ca: Path
    client_cert: Path
    client_key: Path


def write_pems(ca: trustme.CA, folder: Path) -> Pems:
    """The CA's certificate, and a client certificate with its key that the CA signed."""
    leaf = ca.issue_cert("hrec-ingest@example.com")
    pems = Pems(folder / "ca.pem", folder / "client.pem", folder / "client.key")
    ca.cert_pem.write_to_path(str(pems.ca))
    leaf.cert_chain_pems[0].write_to_path(str(pems.client_cert))
    leaf.private_key_pem.write_to_path(str(pems.client_key))
    return pems


def server_context(ca: trustme.CA, *, require_client_cert: bool) -> ssl.SSLContext:
    """The simulator's side: a certificate for 127.0.0.1 from ``ca``; maybe mutual TLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    if require_client_cert:
        ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
