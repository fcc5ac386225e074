"""Typed errors of the MIAOP client, and the one place that maps a response to them.

Every error says whether trying again can help (``retryable``) and whether the
server certainly did not act on the request (``request_rejected``), so that
the retry loop decides from the error alone. No message, repr or attribute
holds a password, a token or an Authorization header: bodies quoted in a
message pass through :func:`redact` first.
"""

from __future__ import annotations

import json
import re
from typing import Any

# The statuses a later attempt may fix (the brief's list): everything else is final.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Statuses that say the request was turned away before it was acted on.
REJECTED_STATUSES = frozenset({408, 429, 503})

BODY_HEAD_BYTES = 200

_SECRET_JSON = re.compile(
    r'("(?:access_token|refresh_token|id_token|password|client_secret)"\s*:\s*")[^"]*("?)',
    re.IGNORECASE,
)
_SECRET_FORM = re.compile(
    r"\b((?:access_token|refresh_token|id_token|password|client_secret)=)[^&\s]*",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def redact(text: str) -> str:
    """Mask token and password values in a quoted body (JSON, form or header text).

    Used on every body excerpt that goes into an error message or a log line,
    because a malformed token response still holds a valid token.
    """
    text = _SECRET_JSON.sub(r"\1***\2", text)
    text = _SECRET_FORM.sub(r"\1***", text)
    return _BEARER.sub(r"\1***", text)


class MiaopError(Exception):
    """Base of every error the client raises."""

    @property
    def retryable(self) -> bool:
        """Whether another attempt of the same request may succeed."""
        return False

    @property
    def request_rejected(self) -> bool:
        """Whether the server certainly did not act on the request (safe to resend a POST)."""
        return False


class TransportError(MiaopError):
    """The request did not get an HTTP answer: connection refused or dropped, or a timeout."""

    def __init__(self, message: str, *, connected: bool = True) -> None:
        super().__init__(message)
        self.connected = connected

    @property
    def retryable(self) -> bool:
        return True

    @property
    def request_rejected(self) -> bool:
        # A connection that was never made carried no request.
        return not self.connected


class TlsError(TransportError):
    """The TLS handshake failed; a certificate problem does not go away by retrying."""

    def __init__(self, message: str) -> None:
        super().__init__(message, connected=False)

    @classmethod
    def untrusted(cls, host: str, reason: str) -> TlsError:
        """The error for a server certificate that failed verification."""
        return cls(
            f"the certificate of {host} is not trusted ({reason}): set CA_BUNDLE to the PEM "
            "file of the CA that signed it, or TLS_VERIFY=false for testing only"
        )

    @property
    def retryable(self) -> bool:
        return False


class TlsConfigError(MiaopError, ValueError):
    """A TLS setting (CA_BUNDLE, CLIENT_CERT, CLIENT_KEY) names a file that cannot be used."""


class LocalFileError(MiaopError):
    """A file to upload is missing or changed size since it was listed."""


class HttpStatusError(MiaopError):
    """The server answered with an error status; ``server_message`` is what it said."""

    def __init__(
        self,
        status: int,
        server_message: str,
        *,
        endpoint: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.server_message = server_message
        self.endpoint = endpoint
        self.retry_after = retry_after
        # "from the token endpoint", not "from token: …": the log scrubber would
        # take the server's message after "token:" for a secret.
        where = f" from the {endpoint} endpoint" if endpoint else ""
        super().__init__(f"HTTP {status}{where}: {server_message}")

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE_STATUSES

    @property
    def request_rejected(self) -> bool:
        return self.status in REJECTED_STATUSES


class ServerError(HttpStatusError):
    """A 5xx answer; 500, 502, 503 and 504 are retried."""


class RateLimitedError(HttpStatusError):
    """A 429 answer; ``retry_after`` (seconds) is the server's wish, if it gave one."""


class ApiError(HttpStatusError):
    """A 4xx answer other than 429; final unless it is 408."""


class NotFoundError(ApiError):
    """404: the task or meeting does not exist (for this user)."""


class ConflictError(ApiError):
    """409: the request conflicts with the server's state (e.g. a taskId already in use)."""


class AuthenticationError(ApiError):
    """Keycloak refused a token, or the API refused a fresh one; ``hint`` says what to check."""

    def __init__(self, status: int, server_message: str, *, hint: str, endpoint: str = "") -> None:
        self.hint = hint
        super().__init__(status, server_message, endpoint=endpoint)
        self.args = (f"{self.args[0]} ({hint})",)


class UnexpectedResponseError(MiaopError):
    """The body is not the JSON the guide promises; carries the status and the first bytes."""

    def __init__(self, status: int, body: bytes, problem: str, *, endpoint: str = "") -> None:
        self.status = status
        self.body_head = redact(body[:BODY_HEAD_BYTES].decode("utf-8", errors="replace"))
        self.problem = problem
        self.endpoint = endpoint
        # "from the token endpoint", not "from token: …": the log scrubber would
        # take the server's message after "token:" for a secret.
        where = f" from the {endpoint} endpoint" if endpoint else ""
        super().__init__(
            f"unexpected response{where} (HTTP {status}): {problem}; body starts {self.body_head!r}"
        )


def server_message(body: bytes) -> str:
    """The server's own words from an error body: JSON message/error/error_description, else text.

    Keycloak answers ``{"error": ..., "error_description": ...}``, the API
    ``{"message": ...}``; anything else is quoted as its first 200 characters.
    """
    text = body.decode("utf-8", errors="replace")
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        parts = [
            str(data[key]).strip()
            for key in ("message", "error", "error_description")
            if isinstance(data.get(key), str | int | float) and str(data[key]).strip()
        ]
        if parts:
            return redact("; ".join(dict.fromkeys(parts)))[:BODY_HEAD_BYTES]
    return redact(text.strip()[:BODY_HEAD_BYTES]) or "(empty body)"


def error_for_status(
    status: int, body: bytes, *, endpoint: str = "", retry_after: float | None = None
) -> HttpStatusError:
    """The typed error for an error status: the single mapping from status to class."""
    message = server_message(body)
    cls: type[HttpStatusError]
    if status == 429:
        cls = RateLimitedError
    elif status >= 500:
        cls = ServerError
    elif status == 404:
        cls = NotFoundError
    elif status == 409:
        cls = ConflictError
    else:
        cls = ApiError
    return cls(status, message, endpoint=endpoint, retry_after=retry_after)
