"""KeepAliveGets on real sockets: kept connections, bounds, answers of all shapes, bad servers."""

from __future__ import annotations

import asyncio
import gzip
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from yarl import URL

from hrec_ingest.miaop import KeepAliveGets, NullObserver, TransportError
from hrec_ingest.miaop.keepalive import ClosedBeforeAnswer, _ends_at_close
from hrec_ingest.miaop.transport import send_get

pytestmark = pytest.mark.timeout(30)


@asynccontextmanager
async def web_server(app: web.Application) -> AsyncIterator[URL]:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield URL(f"http://127.0.0.1:{runner.addresses[0][1]}")
    finally:
        await runner.cleanup()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handle: Handler) -> AsyncIterator[URL]:
    """A server whose bytes the test writes itself, to misbehave precisely."""

    async def handle_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handle(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle_and_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield URL(f"http://127.0.0.1:{port}")
    finally:
        server.close()
        await server.wait_closed()


def gets(limit: int = 4, timeout: float = 10) -> KeepAliveGets:
    return KeepAliveGets(None, limit=limit, timeout_seconds=timeout, user_agent="test/1")


async def read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"ok": true}'


class Peers:
    """What a web server saw: connections, and requests at once."""

    def __init__(self) -> None:
        self.connections: set[object] = set()
        self.in_flight = 0
        self.most_in_flight = 0
        self.headers: list[dict[str, str]] = []

    def app(self, delay: float = 0.0) -> web.Application:
        async def answer(request: web.Request) -> web.Response:
            self.connections.add(request.transport)
            self.headers.append(dict(request.headers))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                await asyncio.sleep(delay)
                return web.json_response({"path": request.path_qs})
            finally:
                self.in_flight -= 1

        app = web.Application()
        app.router.add_get("/{tail:.*}", answer)
        return app


async def test_one_connection_carries_request_after_request() -> None:
    peers = Peers()
    async with web_server(peers.app()) as base, gets() as client:
        for i in range(20):
            answer = await client.get(base / "api" / "meetings" % {"n": str(i)}, {"X-N": str(i)})
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith("application/json")
            assert answer.body == f'{{"path": "/api/meetings?n={i}"}}'.encode()
    assert len(peers.connections) == 1
    assert peers.headers[0]["User-Agent"] == "test/1"
    assert peers.headers[0]["Host"] == f"127.0.0.1:{base.port}"
    assert peers.headers[3]["X-N"] == "3"


async def test_connections_and_requests_at_once_stay_within_the_limit() -> None:
    peers = Peers()
    async with web_server(peers.app(delay=0.05)) as base, gets(limit=3) as client:
        answers = await asyncio.gather(*(client.get(base / f"t{i}", {}) for i in range(12)))
    assert [a.status for a in answers] == [200] * 12
    assert peers.most_in_flight == 3
    assert len(peers.connections) == 3


async def test_chunked_and_compressed_answers_are_read_whole() -> None:
    text = b'{"transcription": [' + b'{"text": "hello"},' * 5000 + b"{}]}"

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(text), 7000):
            await response.write(text[start : start + 7000])
        await response.write_eof()
        return response

    async def zipped(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(text), headers={"Content-Encoding": "gzip"})

    app = web.Application()
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/zipped", zipped)
    async with web_server(app) as base, gets() as client:
        assert (await client.get(base / "chunked", {})).body == text
        assert (await client.get(base / "zipped", {})).body == text
        assert (await client.get(base / "chunked", {})).body == text, "the connection is reusable"


async def test_a_kept_connection_the_server_dropped_is_replaced_without_an_error() -> None:
    """Servers close idle connections whenever they like; the GET goes out again, once."""
    connections = 0

    async def answer_once_then_hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        await read_request(reader)  # the next request arrives, and is not answered
        writer.close()

    async with raw_server(answer_once_then_hang_up) as base, gets(limit=1) as client:
        for _ in range(3):
            assert (await client.get(base / "x", {})).body == b'{"ok": true}'
    assert connections == 3, "each hang-up cost one fresh connection, no error"


async def test_an_answer_cut_off_is_an_error_not_a_second_request() -> None:
    requests = 0

    async def cut_off(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        await read_request(reader)
        requests += 1
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial')
        await writer.drain()
        writer.close()

    async with raw_server(cut_off) as base, gets() as client:
        with pytest.raises(ClosedBeforeAnswer):
            await client.get(base / "x", {})
        with pytest.raises(TransportError, match="connection to 127.0.0.1:.* failed") as caught:
            await send_get(
                client, base / "x", endpoint="meeting", observer=NullObserver(), headers={}
            )
    assert caught.value.retryable
    assert requests == 2


async def test_an_answer_that_ends_at_the_close_is_read_whole_and_its_connection_not_kept() -> None:
    connections = 0

    async def http10(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
        await writer.drain()
        writer.write(b'{"meetingId": ')
        await writer.drain()
        writer.write(b'"1.abc"}')
        await writer.drain()

    async with raw_server(http10) as base, gets() as client:
        for _ in range(2):
            answer = await client.get(base / "x", {})
            assert answer.status == 200
            assert answer.body == b'{"meetingId": "1.abc"}'
    assert connections == 2, "a connection whose close ended the answer is not used again"


async def test_an_answer_that_ends_at_the_close_but_is_reset_is_an_error() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"partial')
        await writer.drain()
        sock = writer.get_extra_info("socket")
        # Linger 0: closing sends a reset, not the clean end that would finish the answer.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async with raw_server(reset) as base, gets() as client:
        with pytest.raises(ClosedBeforeAnswer):
            await client.get(base / "x", {})


@pytest.mark.parametrize(
    ("status", "headers", "ends_at_close"),
    [
        (200, [], True),
        (200, [("Connection", "close")], True),
        (200, [("content-length", "12")], False),
        (200, [("Transfer-Encoding", "chunked")], False),
        (200, [("Transfer-Encoding", "gzip, chunked")], False),
        (200, [("Transfer-Encoding", "gzip")], True),
        (204, [], False),
        (304, [], False),
    ],
)
def test_which_answers_end_at_the_close(
    status: int, headers: list[tuple[str, str]], ends_at_close: bool
) -> None:
    assert _ends_at_close(status, headers) is ends_at_close


async def test_bytes_that_are_not_http_are_a_transport_error() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()

    async with raw_server(garbage) as base, gets() as client:
        with pytest.raises(TransportError, match="not an HTTP/1.1 answer"):
            await send_get(client, base / "x", endpoint="task", observer=NullObserver(), headers={})


async def test_a_server_that_never_answers_times_out_and_its_connection_is_dropped() -> None:
    seen = 0

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        seen += 1
        await read_request(reader)
        await reader.read()  # until the client gives up and closes

    loop = asyncio.get_running_loop()
    async with raw_server(silent) as base, gets(timeout=0.3) as client:
        started = loop.time()
        with pytest.raises(TransportError, match="timed out waiting for 127.0.0.1"):
            await send_get(client, base / "x", endpoint="stt", observer=NullObserver(), headers={})
        assert loop.time() - started < 3
        with pytest.raises(TransportError):
            await send_get(client, base / "x", endpoint="stt", observer=NullObserver(), headers={})
    assert seen == 2, "a timed-out connection is not used again: its answer may still come"


async def test_nobody_listening_is_cannot_connect() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with gets() as client:
        with pytest.raises(TransportError, match="cannot connect to 127.0.0.1") as caught:
            await send_get(
                client,
                URL(f"http://127.0.0.1:{port}/x"),
                endpoint="task",
                observer=NullObserver(),
                headers={},
            )
    assert caught.value.retryable


async def test_a_header_value_with_a_line_break_is_refused_before_sending() -> None:
    async with gets() as client:
        with pytest.raises(ValueError, match="line break"):
            await client.get(URL("http://127.0.0.1:9/x"), {"Authorization": "Bearer a\r\nX: y"})
