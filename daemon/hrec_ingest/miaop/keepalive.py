"""Plain GETs over kept-alive HTTP/1.1 connections: the many small reads, at a third of the cost.

Per exported file the daemon reads a meeting and its transcription: two GETs
with no body and a small JSON answer. Through aiohttp, with its request and
response objects, timers and header processing, those two cost 0.36-0.42 ms
of CPU per file here; written straight onto the event loop's transport and
parsed by httptools (llhttp, Node.js's parser, from the uvloop authors) they
cost 0.20 ms (docs/benchmarks.md, seventh round). Uploads and token requests
stay with aiohttp: they are few, and uploads need its streamed bodies.

An answer with neither Content-Length nor chunked encoding (HTTP/1.0 style,
or a proxy that closes instead) ends where the server closes the connection,
as RFC 9112 section 6.3 says; a reset instead of a clean close leaves it
unfinished, and an error.

What this does not do, on purpose: request bodies, redirects (a 3xx is
handed back, as with aiohttp, and the caller calls it an error), and proxies
(the aiohttp session does not use them either).
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import httptools
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

Origin = tuple[str, str, int]  # scheme, host, port


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete answer to a GET."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


class AnswerUnreadable(Exception):
    """The bytes that came back are not an HTTP/1.1 answer (or not one this reads)."""


class CannotConnect(ConnectionError):
    """No connection could be made (refused, unreachable, reset during the TLS handshake)."""

    def __init__(self, os_error: OSError) -> None:
        super().__init__(str(os_error))
        self.os_error = os_error


class ClosedBeforeAnswer(ConnectionError):
    """The server closed the connection before a whole answer came."""

    def __init__(self, message: str, *, answer_started: bool) -> None:
        super().__init__(message)
        self.answer_started = answer_started


class _Connection(asyncio.Protocol):
    """One connection; one request at a time on it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[Answer] | None = None
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._started = False
        self._ends_at_close = False
        self.closed = False
        self.keep_alive = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, but are one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._answer is None:
            self.close()  # nothing was asked: a server talking out of turn is not trusted again
            return
        self._started = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(AnswerUnreadable(f"not an HTTP/1.1 answer ({exc})"))
            self.close()

    def eof_received(self) -> bool:
        if self._ends_at_close and self._answer is not None:
            self._complete()
        return False  # the transport closes, and connection_lost fails anything still asked

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(
            ClosedBeforeAnswer(
                f"the server closed the connection before a whole answer came ({exc or 'EOF'})",
                answer_started=self._started,
            )
        )

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_headers_complete(self) -> None:
        self._ends_at_close = _ends_at_close(self._parser.get_status_code(), self._headers)

    def on_message_complete(self) -> None:
        self._complete()

    def _complete(self) -> None:
        answer, self._answer = self._answer, None
        if answer is None or answer.done():
            return
        self.keep_alive = self._parser.should_keep_alive() and not self._ends_at_close
        headers = CIMultiDict(self._headers)
        body = b"".join(self._body)
        self._headers, self._body, self._started = [], [], False
        self._ends_at_close = False
        try:
            body = _decoded(body, headers.get("Content-Encoding"))
        except zlib.error as exc:
            answer.set_exception(AnswerUnreadable(f"compressed body does not decompress ({exc})"))
            return
        answer.set_result(Answer(self._parser.get_status_code(), CIMultiDictProxy(headers), body))

    # use

    async def ask(self, request: bytes) -> Answer:
        assert self.transport is not None and self._answer is None
        self._answer = asyncio.get_running_loop().create_future()
        self._started = False
        self._ends_at_close = False
        self.keep_alive = False
        self.transport.write(request)
        return await self._answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        answer, self._answer = self._answer, None
        if answer is not None and not answer.done():
            answer.set_exception(exc)


def _ends_at_close(status: int, headers: list[tuple[str, str]]) -> bool:
    """Whether an answer's body runs to the end of the connection (RFC 9112 section 6.3)."""
    if 100 <= status < 200 or status in (204, 304):
        return False  # never a body
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-length":
            return False
        if lowered == "transfer-encoding":
            return value.rsplit(",", 1)[-1].strip().lower() != "chunked"
    return True


def _decoded(body: bytes, encoding: str | None) -> bytes:
    if encoding is None or encoding.lower() == "identity":
        return body
    if encoding.lower() in ("gzip", "deflate"):
        return zlib.decompressobj(wbits=47).decompress(body)  # 47: gzip or zlib header
    raise zlib.error(f"unknown Content-Encoding {encoding!r}")


class KeepAliveGets:
    """GETs over at most ``limit`` connections at once, kept open between requests.

    ``ssl_context`` is used for https origins. A request that finds its kept
    connection closed by the server before any of the answer came is sent
    once more on a fresh connection: GETs are safe to repeat, and servers
    close idle connections when they please.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None,
        *,
        limit: int,
        timeout_seconds: float,
        user_agent: str,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds}")
        self.timeout_seconds = timeout_seconds
        self._ssl = ssl_context
        self._slots = asyncio.Semaphore(limit)
        self._idle: dict[Origin, list[_Connection]] = {}
        self._user_agent = user_agent
        self._closed = False

    async def get(self, url: URL, headers: Mapping[str, str]) -> Answer:
        """GET ``url`` within ``timeout_seconds`` (waiting for a connection included).

        Raises TimeoutError, CannotConnect, ssl.SSLError, ClosedBeforeAnswer or
        AnswerUnreadable.
        """
        if self._closed:
            raise RuntimeError("KeepAliveGets is closed")
        origin = _origin(url)
        request = self._request(url, headers)
        timeout = self.timeout_seconds
        async with self._slots, asyncio.timeout(timeout):
            connection = self._idle_connection(origin)
            if connection is not None:
                try:
                    return await self._ask(origin, connection, request)
                except ClosedBeforeAnswer as exc:
                    if exc.answer_started:
                        raise
            connection = await self._connect(origin, timeout)
            return await self._ask(origin, connection, request)

    async def close(self) -> None:
        """Close every idle connection; later calls to ``get`` fail."""
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def __aenter__(self) -> KeepAliveGets:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _ask(self, origin: Origin, connection: _Connection, request: bytes) -> Answer:
        try:
            answer = await connection.ask(request)
        except BaseException:
            connection.close()  # a cancelled or failed exchange leaves the stream mid-answer
            raise
        if connection.keep_alive and not connection.closed and not self._closed:
            self._idle.setdefault(origin, []).append(connection)
        else:
            connection.close()
        return answer

    def _idle_connection(self, origin: Origin) -> _Connection | None:
        connections = self._idle.get(origin)
        while connections:
            connection = connections.pop()  # the most recent: the least likely to be closed
            if not connection.closed:
                return connection
        return None

    async def _connect(self, origin: Origin, timeout: float) -> _Connection:
        scheme, host, port = origin
        tls = self._ssl if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                _Connection,
                host,
                port,
                ssl=tls,
                server_hostname=host if tls is not None else None,
                ssl_handshake_timeout=timeout if tls is not None else None,
            )
        except ssl.SSLError:
            raise  # a TLS refusal is worded apart from an unreachable host
        except OSError as exc:
            raise CannotConnect(exc) from exc
        return connection

    def _request(self, url: URL, headers: Mapping[str, str]) -> bytes:
        host = url.raw_host or ""
        if ":" in host:
            host = f"[{host}]"  # an IPv6 literal
        if url.explicit_port is not None and not url.is_default_port():
            host = f"{host}:{url.port}"
        lines = [f"GET {url.raw_path_qs} HTTP/1.1", f"Host: {host}"]
        lines.append(f"User-Agent: {self._user_agent}")
        lines.append("Accept-Encoding: identity")
        for name, value in headers.items():
            if any(c in name or c in value for c in "\r\n"):
                # A value taken from elsewhere (a token) must not add lines of its own.
                raise ValueError(f"header {name!r} holds a line break")
            lines.append(f"{name}: {value}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _origin(url: URL) -> Origin:
    if url.scheme not in ("http", "https") or not url.host or url.port is None:
        raise ValueError(f"not an http(s) URL with a host: {url}")
    return url.scheme, url.host, url.port
