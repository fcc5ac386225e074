"""The checks of ``hrec-ingest check`` that talk to the server: a token and the API, per tenant."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime, timedelta

from hrec_ingest.commands.check_local import CheckResult
from hrec_ingest.commands.explain import explain
from hrec_ingest.commands.tenant_link import TenantLink, command_timeout, link_tenant
from hrec_ingest.config import Settings
from hrec_ingest.miaop import SINGLE_ATTEMPT, TaskListFilter, make_session

# The cheap authorised call: the tasks updated in the last minute (usually none).
PROBE_WINDOW = timedelta(minutes=1)


async def server_checks(settings: Settings, context: ssl.SSLContext) -> list[CheckResult]:
    """For each tenant, in parallel: a token from Keycloak, then one authorised API call.

    Each request is tried once (a check reports, it does not insist), with
    HTTP_TIMEOUT_SECONDS capped for a person waiting. The results keep the
    order of the tenants.
    """
    pool = 2 * len(settings.tenants) + 2
    async with make_session(
        context, pool_limit=pool, timeout_seconds=command_timeout(settings)
    ) as session:
        links = [link_tenant(session, settings, t, SINGLE_ATTEMPT) for t in settings.tenants]
        try:
            per_tenant = await asyncio.gather(*(_tenant_checks(link) for link in links))
        finally:
            for link in links:
                await link.tokens.close()
    return [result for results in per_tenant for result in results]


async def _tenant_checks(link: TenantLink) -> list[CheckResult]:
    name = link.tenant.name
    # Not only MiaopError: a check reports any failure as a line, even one the client did
    # not map (a bug), rather than end with a traceback.
    try:
        await link.tokens.access_token()
    except Exception as exc:
        return [CheckResult.failed(f"token for tenant {name}", explain(exc, link.at_token))]
    token = CheckResult(
        f"token for tenant {name}",
        True,
        f"user {link.tenant.username!r} logged in to realm {name!r} at {link.at_token.url}",
    )
    since = datetime.now(UTC) - PROBE_WINDOW
    try:
        found = await link.client.list_tasks(TaskListFilter(updated_since=since))
    except Exception as exc:
        return [token, CheckResult.failed(f"API for tenant {name}", explain(exc, link.at_api))]
    api = CheckResult(
        f"API for tenant {name}",
        True,
        f"{link.at_api.url} answers with this token "
        f"({len(found)} tasks updated in the last minute)",
    )
    return [token, api]
