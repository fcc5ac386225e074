"""A real webhook receiver for the tests: an aiohttp app on 127.0.0.1:0 that checks signatures.

It answers with the statuses a test scripts (then 200), records every
request with its raw body, and can hold requests open so that a test can
"crash" the sender while the receiver already has the body.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hrec_ingest.events.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, verify


@dataclass(frozen=True)
class Delivery:
    body: bytes
    headers: dict[str, str]
    status: int  # what the receiver answered

    @property
    def event_id(self) -> str:
        return self.headers[EVENT_ID_HEADER]

    @property
    def document(self) -> dict[str, Any]:
        document = json.loads(self.body)
        assert isinstance(document, dict)
        return document


@dataclass
class HookReceiver:
    secret: str | None
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    error_headers: dict[str, str] = field(default_factory=dict)  # sent with every non-2xx
    deliveries: list[Delivery] = field(default_factory=list)
    bad_signatures: int = 0
    hold: asyncio.Event | None = None  # while set, requests wait for it to be cleared
    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        if self.secret is not None and not verify(
            body, self.secret, request.headers.get(SIGNATURE_HEADER)
        ):
            self.bad_signatures += 1
        status = self.statuses.pop(0) if self.statuses else 200
        self.deliveries.append(Delivery(body, headers, status))
        self.arrived.set()
        if self.hold is not None:
            await self.hold.wait()
        return web.Response(status=status, headers=None if status < 300 else self.error_headers)

    def accepted(self) -> dict[str, Delivery]:
        """What a de-duplicating receiver keeps: the first 2xx delivery of each event id."""
        kept: dict[str, Delivery] = {}
        for delivery in self.deliveries:
            if 200 <= delivery.status < 300:
                kept.setdefault(delivery.event_id, delivery)
        return kept

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d.document for d in self.accepted().values() if d.document["event"] == kind]


@asynccontextmanager
async def running_receiver(secret: str | None = "hook-secret-0451") -> AsyncIterator[HookReceiver]:
    """A started receiver on a free loopback port; stopped on exit."""
    receiver = HookReceiver(secret)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{site.port}/hook"
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        await runner.cleanup()
