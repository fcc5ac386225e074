"""One HTTP exchange: send, read the whole answer, and turn every failure into a typed error.

The token manager and the client both go through :func:`send`, so that the
mapping from aiohttp's exceptions and from status codes to
:mod:`hrec_ingest.miaop.errors` lives in one place, and every exchange is
measured for the observer.
"""

from __future__ import annotations

import errno
import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import orjson
import structlog
from multidict import CIMultiDictProxy
from pydantic import BaseModel, ValidationError
from yarl import URL

from hrec_ingest.miaop.errors import (
    LocalFileError,
    MiaopError,
    TlsError,
    TransportError,
    UnexpectedResponseError,
    error_for_status,
)
from hrec_ingest.miaop.keepalive import (
    AnswerUnreadable,
    CannotConnect,
    ClosedBeforeAnswer,
    KeepAliveGets,
)
from hrec_ingest.miaop.observer import Observer
from hrec_ingest.miaop.retry import parse_retry_after

log = structlog.get_logger(__name__)

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Response:
    """A complete answer: status, headers and the whole body."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    endpoint: str

    def raise_for_status(self) -> None:
        """Raise the typed error for a status other than 2xx (a redirect is unexpected too)."""
        if 200 <= self.status < 300:
            return
        if 300 <= self.status < 400:
            location = self.headers.get("Location", "?")
            raise UnexpectedResponseError(
                self.status,
                self.body,
                f"redirected to {location}: check the base URL (scheme, host, path)",
                endpoint=self.endpoint,
            )
        retry_after = parse_retry_after(self.headers.get("Retry-After"))
        raise error_for_status(
            self.status, self.body, endpoint=self.endpoint, retry_after=retry_after
        )

    def json(self) -> Any:
        """The body as JSON, or UnexpectedResponseError (an HTML page, truncated JSON, ...)."""
        try:
            return orjson.loads(self.body)  # a quarter of the stdlib's time on a transcription
        except orjson.JSONDecodeError:
            pass  # the stdlib also reads NaN, Infinity and huge integers, and words the error
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise UnexpectedResponseError(
                self.status, self.body, f"body is not JSON ({exc})", endpoint=self.endpoint
            ) from None

    def model(self, model: type[M], data: Any = None) -> M:
        """Validate the JSON body (or ``data`` taken from it) as ``model``."""
        if data is None:
            try:
                # Straight from the bytes: half the time of parsing first, for every meeting.
                return model.model_validate_json(self.body)
            except ValidationError:
                pass  # parsed again below to say what is wrong: not JSON, or which field
        value = self.json() if data is None else data
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            raise UnexpectedResponseError(
                self.status,
                self.body,
                f"not a {model.__name__}: {validation_summary(exc)}",
                endpoint=self.endpoint,
            ) from None


def validation_summary(exc: ValidationError) -> str:
    """The fields a model rejected, without their values (a value may be a token)."""
    problems = [
        f"{'.'.join(str(part) for part in err['loc']) or '(root)'}: {err['msg']}"
        for err in exc.errors(include_input=False, include_url=False)
    ]
    more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
    return "; ".join(problems[:3]) + more


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    *,
    endpoint: str,
    observer: Observer,
    headers: Mapping[str, str] | None = None,
    data: Any = None,
    timeout: aiohttp.ClientTimeout | None = None,
) -> Response:
    """Make one request and read its whole answer; errors come back as MiaopError.

    Redirects are not followed: a streamed body cannot be sent twice, and a
    redirect usually means a wrong base URL, which the error says.
    """
    started = time.monotonic()
    outcome: int | str = "connection"
    try:
        async with session.request(
            method,
            url,
            headers=headers,
            data=data,
            allow_redirects=False,
            timeout=timeout if timeout is not None else session.timeout,
        ) as resp:
            body = await resp.read()
            outcome = resp.status
            return Response(resp.status, resp.headers, body, endpoint)
    except (TimeoutError, aiohttp.ClientError, ssl.SSLError) as exc:
        error = transport_error(exc, url)
        outcome = "tls" if isinstance(error, TlsError) else _outcome_label(exc)
        raise error from exc
    finally:
        _report(observer, endpoint, method, outcome, started)


async def send_get(
    gets: KeepAliveGets,
    url: URL,
    *,
    endpoint: str,
    observer: Observer,
    headers: Mapping[str, str],
) -> Response:
    """:func:`send` for a GET without a body, over :class:`KeepAliveGets`: same errors, same
    measurements."""
    started = time.monotonic()
    outcome: int | str = "connection"
    try:
        answer = await gets.get(url, headers)
        outcome = answer.status
        return Response(answer.status, answer.headers, answer.body, endpoint)
    except (TimeoutError, OSError, AnswerUnreadable) as exc:
        error = transport_error(exc, url)
        outcome = "tls" if isinstance(error, TlsError) else _outcome_label(exc)
        raise error from exc
    finally:
        _report(observer, endpoint, "GET", outcome, started)


def _report(
    observer: Observer, endpoint: str, method: str, outcome: int | str, started: float
) -> None:
    """Hand one finished exchange to the observer and the debug log."""
    seconds = time.monotonic() - started
    observer.on_request(endpoint, outcome, seconds)
    log.debug(
        "miaop.request", endpoint=endpoint, method=method, status=outcome, seconds=round(seconds, 4)
    )


def _outcome_label(exc: BaseException) -> str:
    return "timeout" if isinstance(exc, TimeoutError) else "connection"


def transport_error(exc: BaseException, url: URL) -> MiaopError:
    """The typed error for an exception raised while sending or reading."""
    host = f"{url.host}:{url.port}"
    cause = exc.__cause__
    if isinstance(cause, LocalFileError):
        # aiohttp wraps whatever the body writer raised; a local file problem is not the network's.
        return cause
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return TlsError.untrusted(host, str(exc.certificate_error))
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TlsError.untrusted(host, exc.verify_message or str(exc))
    tls_reason = _tls_reason(exc)
    if tls_reason is not None:
        return TlsError(
            f"TLS handshake with {host} failed ({tls_reason}); if the server requires a client "
            "certificate, set CLIENT_CERT and CLIENT_KEY"
        )
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportError(f"timed out connecting to {host}", connected=False)
    if isinstance(exc, TimeoutError):
        return TransportError(f"timed out waiting for {host}")
    connect_error = _connect_os_error(exc)
    if connect_error is not None:
        if url.scheme == "https" and isinstance(connect_error, ConnectionResetError):
            # TCP was up (a refused connect is not a reset), so the TLS handshake was cut:
            # often a server that wants a client certificate. Still retried: it may be a blip.
            return TransportError(
                f"{host} reset the connection during the TLS handshake; if the server requires "
                "a client certificate, set CLIENT_CERT and CLIENT_KEY",
                connected=False,
            )
        return TransportError(f"cannot connect to {host}: {connect_error}", connected=False)
    if url.scheme == "https" and _closed_without_answer(exc):
        # With TLS 1.3 the client's side of the handshake ends before the server checks the
        # client's certificate, so that refusal arrives as a connection closed unanswered.
        return TransportError(
            f"{host} closed the connection without answering; if the server requires a "
            "client certificate, set CLIENT_CERT and CLIENT_KEY"
        )
    return TransportError(f"connection to {host} failed: {type(exc).__name__}: {exc}")


def _connect_os_error(exc: BaseException) -> OSError | None:
    """Why no connection could be made, if that is what ``exc`` says."""
    if isinstance(exc, aiohttp.ClientConnectorError | CannotConnect):
        return exc.os_error
    return None


def _closed_without_answer(exc: BaseException) -> bool:
    if isinstance(exc, aiohttp.ServerDisconnectedError | ClosedBeforeAnswer):
        return True
    return isinstance(exc, aiohttp.ClientOSError) and exc.errno == errno.ECONNRESET


def _tls_reason(exc: BaseException) -> str | None:
    """The SSL error behind ``exc``, if any: a TLS problem is not retried like a dropped line."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            return None  # the peer hung up: a dropped connection, worth another attempt
        if isinstance(seen, ssl.SSLError):
            # aiohttp's ClientConnectorSSLError is an SSLError without ``reason``.
            return getattr(seen, "reason", None) or str(seen)
        if isinstance(seen, aiohttp.ClientSSLError):
            return str(seen.os_error) if seen.os_error else str(seen)
        seen = seen.__cause__ or seen.__context__
    return None
