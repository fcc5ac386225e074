"""Test-only control endpoints under ``/_sim/``: counters, live faults, revocation, archiving.

They are not authenticated and are neither counted nor faulted. They exist
for tests, benchmarks and demos; the simulator binds 127.0.0.1 by default so
that nothing else can reach them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hrec_ingest.simulator.context import json_error, options_of, state_of
from hrec_ingest.simulator.options import OptionsError, apply_updates, live_values


async def _json_object(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise json_error(web.HTTPBadRequest, {"message": "body is not valid JSON"}) from None
    if not isinstance(body, dict):
        raise json_error(web.HTTPBadRequest, {"message": "body must be a JSON object"})
    return body


async def get_stats(request: web.Request) -> web.Response:
    """``GET /_sim/stats``: the request, fault, task and token counters, and live options."""
    stats = state_of(request).stats()
    stats["options"] = live_values(options_of(request))
    return web.json_response(stats)


async def set_faults(request: web.Request) -> web.Response:
    """``POST /_sim/faults``: change fault and timing options; answers the new values."""
    options = options_of(request)
    try:
        apply_updates(options, await _json_object(request))
    except OptionsError as exc:
        raise json_error(web.HTTPBadRequest, {"message": str(exc)}) from None
    return web.json_response(live_values(options))


async def revoke(request: web.Request) -> web.Response:
    """``POST /_sim/revoke``: invalidate all tokens, or those of ``{"tenant": ...}``."""
    tenant = (await _json_object(request)).get("tenant")
    if tenant is not None and not isinstance(tenant, str):
        raise json_error(web.HTTPBadRequest, {"message": "tenant must be a string"})
    return web.json_response({"revoked": state_of(request).revoke_tokens(tenant)})


async def archive(request: web.Request) -> web.Response:
    """``POST /_sim/archive/{taskId}``: mark a task archived, as the server's UI would."""
    task_id = request.match_info["task_id"]
    if not state_of(request).archive_task(task_id):
        raise json_error(web.HTTPNotFound, {"message": f"task {task_id!r} not found"})
    return web.json_response({"taskId": task_id, "archive": True})
