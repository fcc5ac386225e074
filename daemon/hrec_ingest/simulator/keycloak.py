"""Keycloak's token endpoint, as far as the guide uses it (section 2.1).

Errors have Keycloak's shapes and statuses, so that a client written against
the simulator reads the real server's errors the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from aiohttp import web

from hrec_ingest.simulator.context import json_error, options_of, state_of
from hrec_ingest.simulator.tokens import Grant


def _keycloak_error(
    error: type[web.HTTPException], code: str, description: str | None = None
) -> web.HTTPException:
    body = (
        {"error": code}
        if description is None
        else {"error": code, "error_description": description}
    )
    return json_error(error, body)


def _form_value(form: Mapping[str, object], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _password_grant(request: web.Request, realm: str, form: Mapping[str, object]) -> str:
    users = options_of(request).users[realm]
    username = _form_value(form, "username")
    password = _form_value(form, "password")
    if username is None:
        raise _keycloak_error(web.HTTPBadRequest, "invalid_request", "Missing parameter: username")
    if password is None or users.get(username) != password:
        raise _keycloak_error(web.HTTPUnauthorized, "invalid_grant", "Invalid user credentials")
    return username


def _refresh_grant(request: web.Request, realm: str, form: Mapping[str, object]) -> str:
    token = _form_value(form, "refresh_token")
    if token is None:
        raise _keycloak_error(
            web.HTTPBadRequest, "invalid_request", "Missing parameter: refresh_token"
        )
    grant: Grant | None = state_of(request).tokens.refresh_grant(token)
    if grant is None or grant.tenant != realm:
        raise _keycloak_error(web.HTTPBadRequest, "invalid_grant", "Token is not active")
    return grant.username


async def token_endpoint(request: web.Request) -> web.Response:
    """``POST /realms/{tenant}/protocol/openid-connect/token``: password and refresh grants."""
    options = options_of(request)
    realm = request.match_info["tenant"]
    if realm not in options.users:
        raise _keycloak_error(web.HTTPNotFound, "Realm does not exist")
    form = await request.post()
    if _form_value(form, "client_id") != options.client_id:
        raise _keycloak_error(
            web.HTTPUnauthorized, "invalid_client", "Invalid client or Invalid client credentials"
        )
    grant_type = _form_value(form, "grant_type")
    if grant_type == "password":
        username = _password_grant(request, realm, form)
    elif grant_type == "refresh_token":
        username = _refresh_grant(request, realm, form)
    elif grant_type is None:
        raise _keycloak_error(
            web.HTTPBadRequest, "invalid_request", "Missing form parameter: grant_type"
        )
    else:
        raise _keycloak_error(
            web.HTTPBadRequest, "unsupported_grant_type", "Unsupported grant_type"
        )
    pair = state_of(request).tokens.issue(
        realm, username, options.expires_in, options.refresh_expires_in
    )
    return web.json_response(
        {
            "access_token": pair.access_token,
            "expires_in": options.expires_in,
            "refresh_expires_in": options.refresh_expires_in,
            "refresh_token": pair.refresh_token,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "session_state": str(uuid.uuid4()),
            "scope": "profile email",
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
