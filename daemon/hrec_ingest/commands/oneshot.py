"""What the one-shot commands (``submit``, ``fetch``) share: tenant, server, output, interruption.

Each loads the settings with its flags on top, picks one tenant (the
``-t``/``--tenant`` flag wins, even over a TENANTS_FILE table), logs to
standard error through the progress display, talks to the server with the
daemon's own client, and turns Ctrl-C or SIGTERM into exit status 1 with a
word on how to carry on.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable, Collection, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from hrec_ingest.commands.common import EXIT_BAD_CONFIG, EXIT_FATAL
from hrec_ingest.commands.explain import explain
from hrec_ingest.commands.progress import ProgressDisplay
from hrec_ingest.commands.tenant_link import TenantLink, link_tenant
from hrec_ingest.config import TENANT_KEYS, FlagValue, Problem, Settings, TenantSettings
from hrec_ingest.logs import configure_logging, redact_text, register_secret
from hrec_ingest.miaop import MiaopError, RetryPolicy
from hrec_ingest.service import open_session

# Server task ids are 16 of [a-z0-9]; the guide's examples also show UUIDs. Dots are
# left out so that "<taskId>.<index>" stays unambiguous, slashes so it is one path segment.
TASK_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def flag(value: str | None, name: str) -> FlagValue:
    """A command-line value labelled the way configuration problems name it: ``flag -u``."""
    return FlagValue(value, f"flag {name}")


def is_task_id(text: str) -> bool:
    """Whether ``text`` has the shape of a taskId, and so may be used in a URL or a file name."""
    return TASK_ID_PATTERN.fullmatch(text) is not None


def printable(text: str) -> str:
    """``text`` safe to show: secrets masked, control characters (terminal escapes) escaped.

    Server messages and file names end up on a terminal; an escape sequence in
    them must not be able to rewrite what the user sees.
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", redact_text(text))


def config_exit(problems: Collection[Problem]) -> NoReturn:
    """Print configuration problems as ``load_or_exit`` does, and exit with status 2."""
    for problem in problems:
        click.echo(f"hrec-ingest: configuration: {problem}", err=True)
    sys.exit(EXIT_BAD_CONFIG)


def pick_tenant(
    settings: Settings,
    flagged: Collection[str],
    tenant_flag: str,
    preferred: str | None = None,
) -> TenantSettings:
    """The one tenant a command works for, with the values given as flags on top.

    Single-tenant: TENANT. Multi-tenant: the table named by ``tenant_flag``,
    else ``preferred`` (the tenant the journal knows a task by), else TENANT
    from the config, else the only table there is. ``flagged`` are the keys
    given on the command line; they beat the tenant's own table, as flags beat
    every other source. Exits with status 2 when no single tenant can be chosen.
    """
    tenants = {t.name: t for t in settings.tenants}
    name = settings.tenant
    if "TENANT" not in flagged and preferred in tenants:
        name = preferred
    if not settings.multi_tenant:
        if not settings.tenants:
            source = settings.source_of("TENANT")
            config_exit([Problem("TENANT", f"must be set (or use {tenant_flag})", source)])
        name = settings.tenants[0].name
    elif name is None:
        if len(tenants) != 1:
            where = settings.source_of("TENANTS_FILE")
            names = ", ".join(sorted(tenants))
            config_exit([Problem("TENANT", f"choose one of {names} with {tenant_flag}", where)])
        name = next(iter(tenants))
    elif name not in tenants:
        names = ", ".join(sorted(tenants))
        message = f"{name} is not a tenant of TENANTS_FILE (it has {names})"
        config_exit([Problem("TENANT", message, settings.source_of("TENANT"))])
    overrides: dict[str, Any] = {
        key.lower(): getattr(settings, key.lower())
        for key in flagged
        if key in TENANT_KEYS and key != "PASSWORD_FILE"
    }
    return tenants[name].model_copy(update=overrides)


def require_server(settings: Settings, tenant: TenantSettings) -> None:
    """Exit with status 2 unless the server's URLs and the tenant's credentials are set.

    For commands that load the settings with ``require_credentials=False``
    because they need no supervisor or language, only a login.
    """
    problems = [
        Problem(key, "must be set", settings.source_of(key))
        for key, value in (
            ("KEYCLOAK_BASE_URL", settings.keycloak_base_url),
            ("API_BASE_URL", settings.api_base_url),
        )
        if value is None
    ]
    if not tenant.username:
        problems.append(Problem("USERNAME", "must be set", tenant.source_of("USERNAME")))
    if not tenant.password.get_secret_value():
        source = tenant.source_of("PASSWORD")
        problems.append(Problem("PASSWORD", "must be set (or PASSWORD_FILE)", source))
    if problems:
        config_exit(problems)


def command_display(settings: Settings, tenant: TenantSettings) -> ProgressDisplay:
    """The progress display on standard error, with the log and its warnings routed through it.

    LOG_LEVEL applies when it was set; otherwise only warnings are logged, so
    that the display is not buried under the daemon's info lines.
    """
    register_secret(tenant.password.get_secret_value(), pinned=True)
    display = ProgressDisplay(sys.stderr)
    level = settings.log_level if settings.source_of("LOG_LEVEL") != "default" else "warning"
    configure_logging(settings.log_format, level, display.log_stream())
    for warning in settings.warnings:
        display.note(f"hrec-ingest: configuration warning: {printable(warning)}")
    return display


@asynccontextmanager
async def server_link(settings: Settings, tenant: TenantSettings) -> AsyncIterator[TenantLink]:
    """A logged-in link to the server for ``tenant``; the session closes when the block ends.

    Requests retry as HTTP_RETRY_ATTEMPTS and HTTP_RETRY_MAX_SECONDS say, like
    the daemon's. The login happens here, so that a refused password is told
    apart from a refused request: it raises ``LoginFailed``.
    """
    retry = RetryPolicy(
        attempts=settings.http_retry_attempts, max_total_seconds=settings.http_retry_max_seconds
    )
    async with open_session(settings) as session:
        link = link_tenant(session, settings, tenant, retry)
        try:
            try:
                await link.tokens.access_token()
            except MiaopError as exc:
                raise LoginFailed(explain(exc, link.at_token).line()) from exc
            yield link
        finally:
            await link.tokens.close()


class LoginFailed(Exception):
    """No token could be obtained; the message explains why and what to fix."""


def describe_failure(exc: MiaopError, link: TenantLink) -> str:
    """One line on what went wrong with an API request, and what to do about it."""
    return explain(exc, link.at_api).line()


def fetch_hint(task_id: str, config_file: Path | None, tenant: str | None) -> str:
    """The ``hrec-ingest fetch`` line that exports ``task_id`` later with the same settings."""
    words = ["hrec-ingest", "fetch", task_id]
    if config_file is not None:
        words += ["--config", _quoted(str(config_file))]
    if tenant is not None:
        words += ["--tenant", _quoted(tenant)]
    return " ".join(words)


def _quoted(word: str) -> str:
    return word if re.fullmatch(r"[\w./@:+-]+", word) else "'" + word.replace("'", "'\\''") + "'"


def cancel_on_sigterm() -> None:
    """Make SIGTERM stop the running command as Ctrl-C does (cancel the main task)."""
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


def run_interruptible(
    main: Callable[[], Coroutine[Any, Any, int]], on_interrupt: Callable[[], None]
) -> int:
    """Run ``main()`` to its exit status; on Ctrl-C or SIGTERM call ``on_interrupt``, return 1."""
    try:
        return asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        on_interrupt()
        return EXIT_FATAL
