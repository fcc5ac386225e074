"""What every handler needs: the app's options and state, errors as JSON, the caller's token."""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

from aiohttp import web

from hrec_ingest.simulator.options import SimulatorOptions
from hrec_ingest.simulator.state import SimulatorState
from hrec_ingest.simulator.tokens import Grant
from hrec_ingest.simulator.validation import MASTER_REALM

OPTIONS = web.AppKey("simulator_options", SimulatorOptions)
STATE = web.AppKey("simulator_state", SimulatorState)
# The taskId the POST /hrec being handled named, for the request log. A context
# variable: the middleware and the handler run in one task (and web.RequestKey
# needs a newer aiohttp than the project requires).
UPLOAD_TASK_ID: ContextVar[str | None] = ContextVar("simulator_upload_task_id", default=None)


def options_of(request: web.Request) -> SimulatorOptions:
    """The live options of the simulator serving ``request``."""
    return request.app[OPTIONS]


def state_of(request: web.Request) -> SimulatorState:
    """The state of the simulator serving ``request``."""
    return request.app[STATE]


def json_error(
    error: type[web.HTTPException], body: dict[str, Any], headers: dict[str, str] | None = None
) -> web.HTTPException:
    """An HTTP error with a JSON body, ready to raise."""
    return error(
        text=json.dumps(body, ensure_ascii=False), content_type="application/json", headers=headers
    )


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _unauthorized(message: str) -> web.HTTPException:
    challenge = 'Bearer realm="meeting-insights", error="invalid_token"'
    return json_error(
        web.HTTPUnauthorized, {"message": message}, headers={"WWW-Authenticate": challenge}
    )


def authenticate(request: web.Request) -> Grant:
    """The grant behind the request's bearer token; raises 401 if there is none valid."""
    token = bearer_token(request)
    if token is None:
        raise _unauthorized("missing Authorization: Bearer <access_token>")
    grant = state_of(request).tokens.access_grant(token)
    if grant is None:
        raise _unauthorized("access token is invalid, expired or revoked")
    return grant


def require_tenant(grant: Grant, tenant: str) -> None:
    """Raise 401 unless the token is of ``tenant`` (or of the system realm, master)."""
    if grant.tenant != tenant and grant.tenant != MASTER_REALM:
        raise _unauthorized(
            f"a token of tenant {grant.tenant!r} is not valid for tenant {tenant!r}"
        )
