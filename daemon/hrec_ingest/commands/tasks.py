"""``hrec-ingest tasks``: the server's task list (guide 2.4), as a table or as JSON."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

import click

from hrec_ingest.commands.common import EXIT_FATAL, EXIT_OK, config_option
from hrec_ingest.commands.console import encoding_of, printable
from hrec_ingest.commands.explain import Explanation, explain
from hrec_ingest.commands.tasks_table import ListedTask, render_json, render_table
from hrec_ingest.commands.tenant_link import TenantLink, command_timeout, link_tenant
from hrec_ingest.commands.when import WhenError, parse_when
from hrec_ingest.config import ConfigError, Settings, TenantSettings, load_settings
from hrec_ingest.logs import configure_logging
from hrec_ingest.miaop import (
    RetryPolicy,
    TaskListFilter,
    TlsConfigError,
    make_session,
    make_ssl_context,
)
from hrec_ingest.miaop.models import TaskMetadataResponse

DEFAULT_SINCE = "24h"
# One retry rides out a blip; more would keep a person waiting on a server that is down.
COMMAND_ATTEMPTS = 2


@dataclass(frozen=True, slots=True)
class TasksQuery:
    """What ``tasks`` was asked for, as typed on the command line."""

    since: str = DEFAULT_SINCE
    until: str | None = None
    supervisor: str | None = None
    tenant: str | None = None
    include_archived: bool = False
    as_json: bool = False


class TasksFailure(Exception):
    """The request cannot be made; the message says why and what to do."""


def task_filter(query: TasksQuery, now: datetime, tenant: str | None) -> TaskListFilter:
    """The server's filter for ``query`` at ``now``; raises TasksFailure for bad times."""
    try:
        since = parse_when(query.since, now=now, flag="--since")
        until = parse_when(query.until, now=now, flag="--until") if query.until else None
    except WhenError as exc:
        raise TasksFailure(str(exc)) from None
    if until is not None and since >= until:
        raise TasksFailure(
            f"--since ({since.isoformat()}) must be before --until ({until.isoformat()})"
        )
    return TaskListFilter(
        updated_since=since,
        updated_before=until,
        include_archived=query.include_archived,
        tenant=tenant,
        supervisor_email=query.supervisor,
    )


def choose_tenants(
    settings: Settings, wanted: str | None
) -> tuple[list[TenantSettings], str | None, str | None]:
    """Whose accounts list the tasks, the tenant filter to send, and a note for the user.

    No ``--tenant``: every configured tenant, unfiltered. A configured tenant:
    its account, filtered to it. Any other name with one tenant configured:
    that account, filtered to the name, which only a system-level (master)
    account can see (guide 2.4.1); with several configured it is an error.
    """
    if wanted is None:
        return list(settings.tenants), None, None
    for tenant in settings.tenants:
        if tenant.name == wanted:
            return [tenant], wanted, None
    configured = ", ".join(t.name for t in settings.tenants)
    if len(settings.tenants) == 1:
        only = settings.tenants[0]
        note = (
            f"tenant {wanted!r} is not configured: listing with the account of tenant "
            f"{only.name!r}, which sees {wanted!r}'s tasks only if it is a system-level account"
        )
        return [only], wanted, note
    raise TasksFailure(f"--tenant {wanted!r} is not a configured tenant (configured: {configured})")


async def fetch_tasks(
    settings: Settings, tenants: Sequence[TenantSettings], spec: TaskListFilter
) -> tuple[list[ListedTask], list[tuple[str, Explanation]]]:
    """The tasks each tenant's account lists, and an explanation per tenant that failed."""
    try:
        context = make_ssl_context(
            settings.tls_verify, settings.ca_bundle, settings.client_cert, settings.client_key
        )
    except TlsConfigError as exc:
        raise TasksFailure(str(exc)) from None
    retry = RetryPolicy(attempts=COMMAND_ATTEMPTS, max_total_seconds=command_timeout(settings))
    async with make_session(
        context, pool_limit=2 * len(tenants) + 2, timeout_seconds=command_timeout(settings)
    ) as session:
        links = [link_tenant(session, settings, tenant, retry) for tenant in tenants]
        try:
            results = await asyncio.gather(*(_list(link, spec) for link in links))
        finally:
            for link in links:
                await link.tokens.close()
    listed: list[ListedTask] = []
    failures: list[tuple[str, Explanation]] = []
    for link, result in zip(links, results, strict=True):
        if isinstance(result, Explanation):
            failures.append((link.tenant.name, result))
        else:
            listed.extend(ListedTask(link.tenant.name, task) for task in result)
    return listed, failures


async def _list(link: TenantLink, spec: TaskListFilter) -> list[TaskMetadataResponse] | Explanation:
    # Not only MiaopError: an error the client did not map (a bug) is explained too,
    # rather than shown as a traceback.
    try:
        await link.tokens.access_token()
    except Exception as exc:
        return explain(exc, link.at_token)
    try:
        return await link.client.list_tasks(spec)
    except Exception as exc:
        return explain(exc, link.at_api)


async def tasks_report(
    config_file: Path | None,
    environ: Mapping[str, str],
    query: TasksQuery,
    out: TextIO,
    err: TextIO,
    *,
    now: datetime | None = None,
) -> int:
    """List the tasks ``query`` asks for on ``out``; problems go to ``err``. Returns 0 or 1."""
    encoding = encoding_of(out)
    moment = now if now is not None else datetime.now().astimezone()
    try:
        settings = load_settings(config_file, environ)
    except ConfigError as exc:
        for problem in exc.problems:
            err.write(f"hrec-ingest: configuration: {problem}\n")
        return EXIT_FATAL
    try:
        tenants, tenant_filter, note = choose_tenants(settings, query.tenant)
        spec = task_filter(query, moment, tenant_filter)
        listed, failures = await fetch_tasks(settings, tenants, spec)
    except TasksFailure as exc:
        err.write(printable(f"hrec-ingest tasks: {exc}\n", encoding_of(err)))
        return EXIT_FATAL
    if note is not None:
        err.write(printable(f"hrec-ingest tasks: note: {note}\n", encoding_of(err)))
    for tenant, why in failures:
        where = f"tenant {tenant}: " if len(tenants) > 1 else ""
        err.write(printable(f"hrec-ingest tasks: {where}{why.line()}\n", encoding_of(err)))
    if query.as_json:
        text = render_json(listed)
        if printable(text, encoding) != text:
            text = render_json(listed, ascii_only=True)
        out.write(text + "\n")
    elif listed:
        show_tenant = len(tenants) > 1 or any(
            item.task.tenant not in (None, item.tenant) for item in listed
        )
        for line in render_table(listed, show_tenant=show_tenant):
            out.write(printable(line, encoding) + "\n")
    if not query.as_json:
        err.write(f"{len(listed)} tasks {_window(spec)}\n")
    return EXIT_FATAL if failures else EXIT_OK


def _window(spec: TaskListFilter) -> str:
    def shown(moment: datetime) -> str:
        return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")

    assert spec.updated_since is not None
    until = f" and before {shown(spec.updated_before)}" if spec.updated_before else ""
    return f"updated since {shown(spec.updated_since)}{until} (local time)"


@click.command("tasks")
@click.option(
    "--since",
    default=DEFAULT_SINCE,
    show_default=True,
    metavar="WHEN",
    help="Tasks updated at or after WHEN: an age before now (90s, 30m, 24h, 7d, 1h30m) or an "
    "ISO date or date-time (2026-11-20, 2026-11-20T10:00, 2026-11-20T10:00+02:00); without a "
    "zone it is this machine's local time.",
)
@click.option(
    "--until",
    default=None,
    metavar="WHEN",
    help="Tasks updated before WHEN (same forms as --since). Default: now.",
)
@click.option(
    "--supervisor",
    default=None,
    metavar="EMAIL",
    help="Only tasks whose supervisor (the task owner) has this e-mail. Default: every task, "
    "whoever supervises it; the daemon's own tasks carry SUPERVISOR_EMAIL.",
)
@click.option(
    "--tenant",
    default=None,
    metavar="T",
    help="Only tenant T (default: every configured tenant). A tenant that is not configured "
    "is listed with the one configured account, which must then be system-level (master).",
)
@click.option("--include-archived", is_flag=True, help="Include tasks archived on the server.")
@click.option("--json", "as_json", is_flag=True, help="Print the server's task objects as JSON.")
@config_option
def tasks_command(
    since: str,
    until: str | None,
    supervisor: str | None,
    tenant: str | None,
    include_archived: bool,
    as_json: bool,
    config_file: Path | None,
) -> None:
    """List the server's tasks (guide 2.4): id, name, status, times, files, time remaining.

    Selects tasks by when they were last updated (a status change counts).
    Times are shown in this machine's local time; the count goes to standard
    error, so standard output holds only the table or the JSON. Exit status:
    0, or 1 when anything failed (the message says what to do).

    Example: hrec-ingest tasks --since 7d --supervisor ops@example.com
    """
    configure_logging("auto", "error")
    query = TasksQuery(since, until, supervisor, tenant, include_archived, as_json)
    code = asyncio.run(tasks_report(config_file, os.environ, query, sys.stdout, sys.stderr))
    sys.exit(code)
