"""``hrec-ingest simulator``: serve the built-in simulator until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
import ssl

import click

from hrec_ingest.simulator.app import serve
from hrec_ingest.simulator.options import SimulatorOptions

DEFAULT_USER = "demo:user:Psw12345!"


def _users(values: tuple[str, ...]) -> dict[str, dict[str, str]]:
    users: dict[str, dict[str, str]] = {}
    for value in values:
        tenant, username, password = (value.split(":", 2) + ["", ""])[:3]
        if not (tenant and username and password):
            raise click.BadParameter(
                f"{value.split(':', 1)[0]!r}...: expected TENANT:USERNAME:PASSWORD",
                param_hint="--user",
            )
        users.setdefault(tenant, {})[username] = password
    return users


def _tls(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None:
        raise click.UsageError("--tls-key needs --tls-cert")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # A PEM that holds both the certificate and its key needs no --tls-key.
    context.load_cert_chain(cert, key)
    return context


async def _serve_until_signal(
    options: SimulatorOptions, host: str, port: int, ssl_context: ssl.SSLContext | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # The handler only sets the event; serve() does the orderly stop.
        loop.add_signal_handler(sig, stop.set)
    await serve(options, host, port, ssl_context=ssl_context, stop=stop)


_PROBABILITY = click.FloatRange(0.0, 1.0)
_SECONDS = click.FloatRange(min=0.0)


@click.command(
    "simulator",
    epilog="Example: hrec-ingest simulator --port 8080 --pending-seconds 2 --fault-429 0.05",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free one).",
)
@click.option(
    "--user",
    "users",
    multiple=True,
    default=(DEFAULT_USER,),
    show_default=True,
    metavar="TENANT:USERNAME:PASSWORD",
    help="An account; repeat for more. The tenant is the Keycloak realm.",
)
@click.option(
    "--expires-in",
    default=300,
    show_default=True,
    type=click.IntRange(min=1),
    help="Access token lifetime, seconds.",
)
@click.option(
    "--refresh-expires-in",
    default=1800,
    show_default=True,
    type=click.IntRange(min=1),
    help="Refresh token lifetime, seconds.",
)
@click.option(
    "--pending-seconds",
    default=0.5,
    show_default=True,
    type=_SECONDS,
    help="Time a task stays sttPending.",
)
@click.option(
    "--processing-seconds",
    default=1.0,
    show_default=True,
    type=_SECONDS,
    help="Fixed time a task stays sttProcessing.",
)
@click.option(
    "--processing-per-audio-second",
    default=0.0,
    show_default=True,
    type=_SECONDS,
    help="Extra processing time per second of audio.",
)
@click.option(
    "--latency",
    default=0.0,
    show_default=True,
    type=_SECONDS,
    help="Seconds added to every answer.",
)
@click.option(
    "--fault-5xx",
    default=0.0,
    show_default=True,
    type=_PROBABILITY,
    help="Probability of a 500/502/503/504.",
)
@click.option(
    "--fault-429", default=0.0, show_default=True, type=_PROBABILITY, help="Probability of a 429."
)
@click.option(
    "--retry-after",
    default="3",
    show_default=True,
    help="Retry-After sent with a 429 (seconds or HTTP date).",
)
@click.option(
    "--fault-drop",
    default=0.0,
    show_default=True,
    type=_PROBABILITY,
    help="Probability of closing the connection unanswered.",
)
@click.option(
    "--fault-slow",
    default=0.0,
    show_default=True,
    type=_PROBABILITY,
    help="Probability of a slow answer.",
)
@click.option(
    "--slow-seconds", default=5.0, show_default=True, type=_SECONDS, help="Delay of a slow answer."
)
@click.option(
    "--error-files",
    multiple=True,
    metavar="PATTERN",
    help="Files matching end their meeting in status error.",
)
@click.option(
    "--task-error-files",
    multiple=True,
    metavar="PATTERN",
    help="A task holding a matching file ends in error.",
)
@click.option(
    "--reject-files",
    multiple=True,
    metavar="PATTERN",
    help="POST /hrec with a matching file gets a 400.",
)
@click.option(
    "--seed", type=int, default=None, help="Seed of the fault draws and generated task ids."
)
@click.option(
    "--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate: serve HTTPS."
)
@click.option(
    "--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key of --tls-cert."
)
def simulator_command(
    host: str,
    port: int,
    users: tuple[str, ...],
    expires_in: int,
    refresh_expires_in: int,
    pending_seconds: float,
    processing_seconds: float,
    processing_per_audio_second: float,
    latency: float,
    fault_5xx: float,
    fault_429: float,
    retry_after: str,
    fault_drop: float,
    fault_slow: float,
    slow_seconds: float,
    error_files: tuple[str, ...],
    task_error_files: tuple[str, ...],
    reject_files: tuple[str, ...],
    seed: int | None,
    tls_cert: str | None,
    tls_key: str | None,
) -> None:
    """Serve a fake Keycloak + Meeting Insights API on one port, for tests and demos.

    Point both KEYCLOAK_BASE_URL and API_BASE_URL at the URL it logs. Tasks
    move sttPending -> sttProcessing -> sttDone on a timer and get a made-up
    transcription; options inject faults. Test-only control endpoints live
    under /_sim/ (stats, faults, revoke, archive). Stops on SIGTERM or SIGINT.
    """
    options = SimulatorOptions(
        users=_users(users),
        expires_in=expires_in,
        refresh_expires_in=refresh_expires_in,
        pending_seconds=pending_seconds,
        processing_seconds=processing_seconds,
        processing_per_audio_second=processing_per_audio_second,
        latency_seconds=latency,
        fault_5xx=fault_5xx,
        fault_429=fault_429,
        retry_after=retry_after,
        fault_drop=fault_drop,
        fault_slow=fault_slow,
        slow_seconds=slow_seconds,
        error_files=error_files,
        task_error_files=task_error_files,
        reject_files=reject_files,
        seed=seed,
    )
    asyncio.run(_serve_until_signal(options, host, port, _tls(tls_cert, tls_key)))
