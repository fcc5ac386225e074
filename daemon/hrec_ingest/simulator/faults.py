"""Counting and fault injection around every request except the control ones.

Per request, one seeded draw picks at most one of: dropped connection, 5xx,
429. A second draw decides whether the answer is also slow. Some faults hit
after the request was carried out, as they do in life: a 500 or a 504 from a
gateway, or a connection lost on the way back, can follow a task that the
server did accept. A client must survive both kinds.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from aiohttp import BodyPartReader, web

from hrec_ingest.simulator.context import STATE, UPLOAD_TASK_ID, bearer_token
from hrec_ingest.simulator.options import SimulatorOptions
from hrec_ingest.simulator.state import DROPPED, SimulatorState
from hrec_ingest.simulator.upload import read_task_field

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CONTROL_PREFIX = "sim_"
_SERVER_ERRORS = (500, 502, 503, 504)
# What a request carried out and then failed looks like.
_AFTER_PROCESSING = frozenset({500, 504})
# Gateways answer in HTML, not JSON: a client must not assume a JSON error body.
_GATEWAY_PAGE = (
    "<html><head><title>{0}</title></head><body><center><h1>{0}</h1></center></body></html>"
)


class FaultPlan(NamedTuple):
    kind: str | None  # "drop", "5xx", "429" or None
    status: int
    after_processing: bool
    slow: bool


def draw_faults(rng: random.Random, options: SimulatorOptions) -> FaultPlan:
    """Decide the faults of one request; always three draws, so a seed replays exactly."""
    pick, which, slow = rng.random(), rng.random(), rng.random()
    code = _SERVER_ERRORS[min(int(which * len(_SERVER_ERRORS)), len(_SERVER_ERRORS) - 1)]
    is_slow = slow < options.fault_slow
    threshold = options.fault_drop
    if pick < threshold:
        return FaultPlan("drop", DROPPED, which >= 0.5, is_slow)
    threshold += options.fault_5xx
    if pick < threshold:
        return FaultPlan("5xx", code, code in _AFTER_PROCESSING, is_slow)
    threshold += options.fault_429
    if pick < threshold:
        return FaultPlan("429", 429, False, is_slow)
    return FaultPlan(None, 0, False, is_slow)


def fault_response(plan: FaultPlan, options: SimulatorOptions) -> web.Response:
    """The answer that replaces the real one (a placeholder, for a drop)."""
    if plan.kind == "drop":
        return web.Response(status=204)
    if plan.status == 429:
        return web.json_response(
            {"message": "Too Many Requests (simulated)"},
            status=429,
            headers={"Retry-After": options.retry_after},
        )
    reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(
        plan.status, "Gateway Time-out"
    )
    if plan.status in (502, 504):
        return web.Response(
            status=plan.status,
            text=_GATEWAY_PAGE.format(f"{plan.status} {reason}"),
            content_type="text/html",
        )
    body = json.dumps({"message": f"{reason} (simulated)"})
    return web.Response(status=plan.status, text=body, content_type="application/json")


def _tenant(request: web.Request, route: str, state: SimulatorState) -> str | None:
    if route == "token":
        return request.match_info.get("tenant")
    token = bearer_token(request)
    return state.tokens.tenant_of(token) if token else None


def _drop(request: web.Request) -> None:
    # Closing the transport before answering: aiohttp then fails to write the
    # placeholder answer and lets it go as a client disconnection.
    if request.transport is not None:
        request.transport.close()


async def _handle(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        # Raised errors are answers too; the middleware re-raises them.
        return exc


async def _answer(
    request: web.Request, handler: Handler, plan: FaultPlan, state: SimulatorState
) -> web.StreamResponse:
    options = state.options
    response: web.StreamResponse
    if plan.kind is None:
        response = await _handle(request, handler)
    else:
        if plan.after_processing:
            # Carried out for real; only the answer is lost.
            await _handle(request, handler)
            state.faults_after_processing += 1
        state.faults_injected[plan.kind] += 1
        response = fault_response(plan, options)
    # Delays come after the work, as a slow network or proxy would add them:
    # a client that gives up waiting may have had its request carried out.
    if plan.slow:
        state.faults_injected["slow"] += 1
        await asyncio.sleep(options.slow_seconds)
    if options.latency_seconds > 0:
        await asyncio.sleep(options.latency_seconds)
    if plan.kind == "drop":
        _drop(request)
    return response


async def _named_task_id(request: web.Request) -> str | None:
    """The taskId a ``POST /hrec`` names in its leading ``task`` field; None if it names none.

    Read only for the request log, when a fault answers in place of the
    handler: a test pairs each retried upload with the attempt it repeats.
    """
    try:
        part = await (await request.multipart()).next()
        if not isinstance(part, BodyPartReader) or part.name != "task":
            return None
        value = json.loads(await read_task_field(part)).get("taskId")
    except (ValueError, AttributeError, ConnectionError, web.HTTPException):
        return None
    return value if isinstance(value, str) else None


def _client_connected(request: web.Request) -> Callable[[], bool]:
    # aiohttp forgets the transport once the connection is lost (a client that timed out).
    return lambda: request.transport is not None


@web.middleware
async def faults_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count, log and maybe fault every request that is not a ``/_sim/`` control request."""
    route = request.match_info.route.name or "unmatched"
    if route.startswith(CONTROL_PREFIX):
        return await handler(request)
    state = request.app[STATE]
    started = time.monotonic()
    plan = draw_faults(state.fault_random, state.options)
    ticket = state.request_started(_client_connected(request))
    named = UPLOAD_TASK_ID.set(None)
    # Stays 500 if the handler fails or is cancelled: aiohttp answers 500 then.
    status = 500
    try:
        if route == "hrec" and plan.kind is not None and not plan.after_processing:
            UPLOAD_TASK_ID.set(await _named_task_id(request))
        response = await _answer(request, handler, plan, state)
        status = DROPPED if plan.kind == "drop" else response.status
        if isinstance(response, web.HTTPException):
            raise response
        return response
    finally:
        state.request_finished(
            request.method,
            route,
            status,
            _tenant(request, route, state),
            ticket=ticket,
            started=started,
            path=request.path,
            task_id=UPLOAD_TASK_ID.get(),
        )
        UPLOAD_TASK_ID.reset(named)
