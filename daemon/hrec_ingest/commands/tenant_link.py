"""One tenant's token manager and client for a short command, with the context to explain errors."""

from __future__ import annotations

from dataclasses import dataclass, replace

import aiohttp

from hrec_ingest.commands.explain import Where
from hrec_ingest.config import Settings, TenantSettings
from hrec_ingest.logs import register_secret
from hrec_ingest.miaop import MiaopClient, RetryPolicy, TokenManager

# A command waits for an answer at most this long, whatever HTTP_TIMEOUT_SECONDS says:
# someone is watching the terminal, and a server this slow is worth reporting anyway.
COMMAND_TIMEOUT_CAP_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class TenantLink:
    """A tenant's client, and what to tell the explainer when logging in or the API fails."""

    tenant: TenantSettings
    tokens: TokenManager
    client: MiaopClient
    at_token: Where
    at_api: Where


def command_timeout(settings: Settings) -> float:
    """Seconds a command waits for one answer: HTTP_TIMEOUT_SECONDS, at most the cap."""
    return min(settings.http_timeout_seconds, COMMAND_TIMEOUT_CAP_SECONDS)


def link_tenant(
    session: aiohttp.ClientSession,
    settings: Settings,
    tenant: TenantSettings,
    retry: RetryPolicy,
) -> TenantLink:
    """A token manager and client for ``tenant`` on ``session``, both trying as ``retry`` says.

    The password is handed to the log scrubber first, so that no line a
    library logs can show it.
    """
    keycloak, api = settings.keycloak_base_url, settings.api_base_url
    if keycloak is None or api is None:
        raise ValueError("KEYCLOAK_BASE_URL and API_BASE_URL are needed to reach the server")
    password = tenant.password.get_secret_value()
    register_secret(password, pinned=True)
    tokens = TokenManager(
        session,
        keycloak,
        tenant.name,
        tenant.username,
        password,
        client_id=settings.keycloak_client_id,
        retry=retry,
    )
    client = MiaopClient(session, api, tokens, retry=retry)
    timeout = command_timeout(settings)
    at_token = replace(Where.of(settings, tenant, "token"), timeout_seconds=timeout)
    return TenantLink(tenant, tokens, client, at_token, at_token.at("api", api))
