"""TLS end to end: the real daemon against the simulator served over TLS with a test CA.

Verification is on by default: with CA_BUNDLE the daemon transcribes; without
it, it sends nothing and logs an error that names the untrusted certificate and
the fix. With mutual TLS the same holds for CLIENT_CERT and CLIENT_KEY. The
four deployments run side by side, to keep the suite short.
"""

from __future__ import annotations

import asyncio

import trustme
from tls_certs import Pems, server_context

from e2e.harness import DaemonProcess, Deployment, make_wav, sha256, wait_for
from samples.deployments import StartDeployment


def lines_saying(daemon: DaemonProcess, levels: set[str], *words: str) -> list[dict[str, object]]:
    """Log lines at one of ``levels`` whose text holds every one of ``words``."""
    return [
        line
        for line in daemon.log_lines()
        if line.get("level") in levels and all(word in str(line) for word in words)
    ]


async def transcribed_once(d: Deployment) -> None:
    data = make_wav(d.inbox / "call.wav", seed=1)
    daemon = d.start()
    await wait_for(lambda: (d.archive / "demo" / "call.wav").exists(), 30, "call.wav archived")
    assert (d.out / "demo" / "call.json").is_file() and d.uploads_of(sha256(data)) == 1
    assert await d.stop(daemon) == 0


async def refused(d: Deployment, levels: set[str], *words: str) -> None:
    """Start the daemon, wait for the line that holds ``words``; nothing may have been sent."""
    data = make_wav(d.inbox / "call.wav", seed=1)
    d.settings["SHUTDOWN_GRACE_SECONDS"] = "1"  # an upload may be waiting to retry
    daemon = d.start()
    await wait_for(lambda: bool(lines_saying(daemon, levels, *words)), 30, f"a line with {words}")
    assert d.uploads_of(sha256(data)) == 0 and d.sim.state.tasks == {}
    assert (d.inbox / "call.wav").read_bytes() == data  # still waiting in the inbox
    assert daemon.alive()
    assert await d.stop(daemon) == 0


async def test_tls_verification_ca_bundle_and_client_certificates(
    deploy: StartDeployment, ca: trustme.CA, pems: Pems
) -> None:
    trusted, _ = await deploy(ssl_context=server_context(ca, require_client_cert=False))
    untrusted, _ = await deploy(ssl_context=server_context(ca, require_client_cert=False))
    mutual, _ = await deploy(ssl_context=server_context(ca, require_client_cert=True))
    no_cert, _ = await deploy(ssl_context=server_context(ca, require_client_cert=True))
    assert all(d.sim.url.startswith("https://") for d in (trusted, untrusted, mutual, no_cert))
    trusted.settings["CA_BUNDLE"] = str(pems.ca)
    no_cert.settings["CA_BUNDLE"] = str(pems.ca)
    mutual.settings |= {
        "CA_BUNDLE": str(pems.ca),
        "CLIENT_CERT": str(pems.client_cert),
        "CLIENT_KEY": str(pems.client_key),
    }
    await asyncio.gather(
        transcribed_once(trusted),
        transcribed_once(mutual),
        refused(untrusted, {"error"}, "not trusted", "CA_BUNDLE", "TLS_VERIFY=false"),
        # Without an alert from the server this could be a dropped line: retried, and said so.
        refused(no_cert, {"warning", "error"}, "client certificate", "CLIENT_CERT and CLIENT_KEY"),
    )
