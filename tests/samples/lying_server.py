"""The simulator behind a middleware that rewrites its answers: a server that breaks the guide.

Each rule sees one answer of one route (``token``, ``hrec``, ``task``,
``meeting``, ``stt``, ...) after the simulator has carried the request out,
and returns the answer to send instead, or None to send it as it is. Rules
live in a plain dict, so a test can add or remove them while the daemon runs.

Example::

    rules = {"stt": lambda answer: truncated(answer) if answer.nth == 1 else None}
    async with lying_simulator(options, rules) as liar:
        ...  # point the daemon at liar.sim.url
"""

from __future__ import annotations

import json
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hrec_ingest.simulator import (
    RunningSimulator,
    SimulatorOptions,
    SimulatorState,
    build_app,
)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the simulator answered to one request; ``nth`` counts the route's answers from 1."""

    route: str
    request: web.Request
    status: int
    body: bytes
    nth: int

    def json(self) -> Any:
        return json.loads(self.body)


Rule = Callable[[Answer], web.StreamResponse | None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class LyingSimulator:
    sim: RunningSimulator
    rules: dict[str, Rule]
    answers: Counter[str] = field(default_factory=Counter)
    lies: Counter[str] = field(default_factory=Counter)


def json_answer(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(data, ensure_ascii=False), content_type="application/json"
    )


def html_page(status: int = 502) -> web.Response:
    """What a reverse proxy sends when the application behind it is down."""
    page = f"<html><head><title>{status}</title></head><body><h1>{status} Bad Gateway</h1>"
    return web.Response(status=status, text=page + "</body></html>", content_type="text/html")


def truncated(answer: Answer) -> web.Response:
    """The same JSON cut in the middle, as a connection closed early by a proxy leaves it."""
    return web.Response(
        status=answer.status,
        body=answer.body[: len(answer.body) // 2],
        content_type="application/json",
    )


def _middleware(liar: LyingSimulator) -> Any:
    @web.middleware
    async def lie(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.name or "unmatched"
        response: web.StreamResponse
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
        liar.answers[route] += 1
        rule = liar.rules.get(route)
        body = response.body if isinstance(response, web.Response) else None
        if rule is not None and isinstance(body, bytes):
            answer = Answer(route, request, response.status, body, liar.answers[route])
            replaced = rule(answer)
            if replaced is not None:
                liar.lies[route] += 1
                return replaced
        if isinstance(response, web.HTTPException):
            raise response
        return response

    return lie


@asynccontextmanager
async def lying_simulator(
    options: SimulatorOptions,
    rules: dict[str, Rule] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[LyingSimulator]:
    """A simulator on 127.0.0.1:0 (over TLS with a context) whose answers pass ``rules`` first."""
    state = SimulatorState(options)
    app = build_app(options, state)
    liar = LyingSimulator(RunningSimulator("", options, state), rules if rules is not None else {})
    app.middlewares.insert(0, _middleware(liar))  # outermost: sees the simulator's own faults
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        scheme = "https" if ssl_context is not None else "http"
        liar.sim.url = f"{scheme}://127.0.0.1:{runner.addresses[0][1]}"
        yield liar
    finally:
        await runner.cleanup()
