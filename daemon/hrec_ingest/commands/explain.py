"""The errors an operator meets most, in plain words, each with what to do about it.

``check``, ``tasks`` and any other command that talks to the server turn a
client error into an :class:`Explanation` here, so that one cause always
reads the same wherever it shows. Nothing here quotes a password or a token:
the server's words pass through the client's redaction, and the text through
the log scrubber, before they are shown.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

import aiohttp
from yarl import URL

from hrec_ingest.config import Settings, TenantSettings
from hrec_ingest.logs import redact_text
from hrec_ingest.miaop import (
    ApiError,
    AuthenticationError,
    HttpStatusError,
    MiaopError,
    NotFoundError,
    TlsConfigError,
    TlsError,
    TransportError,
    UnexpectedResponseError,
)

Stage = Literal["token", "api"]
E = TypeVar("E", bound=BaseException)

# The client's endpoint labels as a reader knows them (a bare "token:" would also read as a
# secret to the scrubber and be masked).
_ENDPOINTS = {
    "token": "Keycloak's token URL",
    "hrec": "POST /hrec",
    "tasks": "GET /api/tasks",
    "task": "GET /api/tasks/{taskId}",
    "meeting": "GET /api/meetings/{meetingId}",
    "stt": "GET /api/stt/{meetingId}/0",
}

_CA_FIX = (
    "set CA_BUNDLE=/path/to/ca.pem (the PEM file of the CA that signed the server's "
    "certificate; ask the server's administrator for it), or TLS_VERIFY=false for tests only"
)


@dataclass(frozen=True, slots=True)
class Where:
    """What was being called when an error came: enough to name the setting to fix."""

    stage: Stage
    url: str
    tenant: str
    tenant_source: str
    username: str
    password_source: str
    client_id: str = "browser_client"
    timeout_seconds: float = 60.0
    language: str = ""

    @classmethod
    def of(cls, settings: Settings, tenant: TenantSettings, stage: Stage) -> Where:
        """The context of a call made for ``tenant`` with ``settings`` at ``stage``."""
        url = settings.keycloak_base_url if stage == "token" else settings.api_base_url
        if settings.multi_tenant:
            tenant_source = f"[tenants.{tenant.name}] of TENANTS_FILE {settings.tenants_file}"
        else:
            tenant_source = f"TENANT, {settings.source_of('TENANT')}"
        return cls(
            stage=stage,
            url=url or "",
            tenant=tenant.name,
            tenant_source=tenant_source,
            username=tenant.username,
            password_source=tenant.source_of("PASSWORD"),
            client_id=settings.keycloak_client_id,
            timeout_seconds=settings.http_timeout_seconds,
            language=tenant.base_language,
        )

    def at(self, stage: Stage, url: str) -> Where:
        """The same context for the other stage (its base URL given)."""
        return replace(self, stage=stage, url=url)

    @property
    def setting(self) -> str:
        """The setting that holds the URL of this stage."""
        return "KEYCLOAK_BASE_URL" if self.stage == "token" else "API_BASE_URL"

    @property
    def host(self) -> str:
        parsed = URL(self.url)
        return f"{parsed.host}:{parsed.port}" if parsed.host else self.url


@dataclass(frozen=True, slots=True)
class Explanation:
    """One cause in plain words (``problem``) and what to do about it (``remedy``)."""

    problem: str
    remedy: str

    def line(self) -> str:
        """Both as one line: ``<problem>. Fix: <remedy>``."""
        return f"{self.problem}. Fix: {self.remedy}"


def explain(exc: BaseException, where: Where) -> Explanation:
    """What ``exc``, raised while calling the server as ``where`` says, means and how to fix it.

    Covers what operators meet most: a wrong password or realm, a server
    that does not answer or cannot be resolved, a timeout, an untrusted
    certificate, a base URL that points at something else, an unknown
    language, and a server that is unwell. Any other client error keeps its
    own message; an exception that is not the client's is called a bug.
    """
    found = _explain(exc, where)
    return Explanation(redact_text(found.problem), redact_text(found.remedy))


def _explain(exc: BaseException, where: Where) -> Explanation:
    if _speaks_no_tls(exc):
        return Explanation(
            f"{where.host} does not speak TLS on that port, but {where.setting} says https://",
            f"use http:// in {where.setting}, or the server's TLS port",
        )
    if isinstance(exc, AuthenticationError):
        return _refused_login(exc, where) if exc.endpoint == "token" else _refused_token(exc, where)
    if isinstance(exc, TlsError):
        return _tls(exc, where)
    if isinstance(exc, TransportError):
        return _transport(exc, where)
    if isinstance(exc, HttpStatusError):
        return _status(exc, where)
    if isinstance(exc, UnexpectedResponseError):
        return _unexpected(exc, where)
    if isinstance(exc, TlsConfigError):
        return Explanation(
            str(exc),
            "point the setting at a readable PEM file (CA_BUNDLE: CA certificates; "
            "CLIENT_CERT/CLIENT_KEY: the client certificate and its unencrypted key)",
        )
    if isinstance(exc, MiaopError):
        return Explanation(str(exc), "run `hrec-ingest check` for a full diagnosis")
    return Explanation(
        f"unexpected {type(exc).__name__}: {exc}",
        "this is probably a bug in hrec-ingest: please report it with this message",
    )


def _refused_login(exc: AuthenticationError, where: Where) -> Explanation:
    said = exc.server_message
    lowered = said.lower()
    if exc.status == 404:
        if "realm" in lowered:
            return Explanation(
                f"Keycloak at {where.url} has no realm {where.tenant!r} (HTTP 404: {said})",
                f"check the tenant name ({where.tenant_source}): it must be the Keycloak realm "
                "exactly, case included",
            )
        return Explanation(
            f"{where.url} has no Keycloak token endpoint for realm {where.tenant!r} "
            f"(HTTP 404: {said})",
            "check KEYCLOAK_BASE_URL (Keycloak's base URL, without /realms/...) and the tenant "
            f"name ({where.tenant_source})",
        )
    if lowered.startswith(("invalid_client", "unauthorized_client")):
        return Explanation(
            f"Keycloak refused the client {where.client_id!r} in realm {where.tenant!r} ({said})",
            "check KEYCLOAK_CLIENT_ID (the guide's is browser_client); the client must allow "
            "password logins (Direct Access Grants)",
        )
    if "not fully set up" in lowered:
        return Explanation(
            f"the account {where.username!r} of tenant {where.tenant!r} is not fully set up "
            f"({said})",
            "log in once in the browser to finish what Keycloak asks (e.g. replace a "
            "temporary password), or ask the Keycloak administrator",
        )
    if "disabled" in lowered:
        return Explanation(
            f"the account {where.username!r} of tenant {where.tenant!r} is disabled ({said})",
            "ask the Keycloak administrator to enable it; a lock-out after too many failed "
            "logins ends by itself after a while",
        )
    return Explanation(
        f"Keycloak refused the user name or password of {where.username!r} in tenant "
        f"{where.tenant!r} ({said})",
        f"check USERNAME and PASSWORD for tenant {where.tenant} (the password came from "
        f"{where.password_source}); after repeated failures Keycloak may lock the account "
        "for a while",
    )


def _refused_token(exc: AuthenticationError, where: Where) -> Explanation:
    return Explanation(
        f"the API at {where.url} refused a fresh token of tenant {where.tenant!r} "
        f"(HTTP {exc.status}: {exc.server_message})",
        "check that KEYCLOAK_BASE_URL and API_BASE_URL belong to the same installation and "
        f"that user {where.username!r} may use Meeting Insights",
    )


def _tls(exc: TlsError, where: Where) -> Explanation:
    reason = _verify_reason(exc)
    if reason is not None:
        lowered = reason.lower()
        if "hostname" in lowered or "ip address mismatch" in lowered:
            return Explanation(
                f"the certificate of {where.host} is not valid for that name ({reason})",
                f"use in {where.setting} the host name the certificate was issued for",
            )
        if "expired" in lowered:
            return Explanation(
                f"the certificate of {where.host} has expired ({reason})",
                "the server's administrator must renew it; TLS_VERIFY=false for tests only",
            )
        plain = ""
        if "self-signed" in lowered or "self signed" in lowered or "issuer" in lowered:
            plain = ": it is self-signed or signed by a CA this machine does not trust"
        return Explanation(
            f"the certificate of {where.host} is not trusted{plain} ({reason})", _CA_FIX
        )
    text = str(exc)
    if "untrusted" in text or "not trusted" in text:
        return Explanation(text, _CA_FIX)
    return Explanation(
        f"the TLS handshake with {where.host} failed ({text})",
        "if the server requires a client certificate, set CLIENT_CERT and CLIENT_KEY; "
        f"check that {where.setting} uses https:// only where the server speaks TLS",
    )


def _transport(exc: TransportError, where: Where) -> Explanation:
    if (
        _first(exc, socket.gaierror) is not None
        or _first(exc, aiohttp.ClientConnectorDNSError) is not None
    ):
        host = URL(where.url).host or where.url
        return Explanation(
            f"the host name {host!r} cannot be resolved (DNS)",
            f"check the host name in {where.setting} ({where.url}) and this machine's DNS",
        )
    refused = _first(exc, ConnectionRefusedError)
    if refused is not None or _os_errno(exc) == errno.ECONNREFUSED:
        return Explanation(
            f"nothing answers at {where.host} (connection refused)",
            f"check that the server is running and that {where.setting} ({where.url}) names "
            "the right host and port",
        )
    if _os_errno(exc) in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return Explanation(
            f"{where.host} cannot be reached from this machine (no route)",
            f"check {where.setting} ({where.url}) and the network path (VPN, firewall, proxy)",
        )
    if "timed out" in str(exc):
        return Explanation(
            f"{where.host} did not answer within {where.timeout_seconds:g} s",
            f"check {where.setting} ({where.url}) and that no firewall drops the traffic; if "
            "the server is merely slow, raise HTTP_TIMEOUT_SECONDS",
        )
    if _first(exc, aiohttp.ServerDisconnectedError) is not None:
        return Explanation(
            f"{where.host} hung up without answering",
            f"if the server speaks https, {where.setting} must start with https://; otherwise "
            "the server's administrator should check its logs",
        )
    return Explanation(
        str(exc),
        f"check {where.setting} ({where.url}) and the network path to the server; if the "
        "server speaks https, the URL must start with https://",
    )


def _status(exc: HttpStatusError, where: Where) -> Explanation:
    said = exc.server_message
    endpoint = _ENDPOINTS.get(exc.endpoint, exc.endpoint or "the server")
    if isinstance(exc, NotFoundError) and exc.endpoint == "tasks":
        return Explanation(
            f"{where.url} has no task list at /api/tasks (HTTP 404)",
            "check API_BASE_URL: the Meeting Insights base URL, without /api (e.g. "
            "https://miaop.example.com)",
        )
    if exc.status == 403:
        return Explanation(
            f"user {where.username!r} of tenant {where.tenant!r} may not do this "
            f"(HTTP 403 from {endpoint}: {said})",
            "give the user a Meeting Insights role that may submit and list tasks, or use "
            "another account",
        )
    if isinstance(exc, ApiError) and "baselanguage" in said.lower():
        return Explanation(
            f"the server does not accept the language {where.language!r} ({said})",
            "set BASE_LANGUAGE to a language the server supports, spelled exactly (it is "
            "case-sensitive, e.g. Hebrew, English); the MIAOP release notes list them",
        )
    if exc.status >= 500 or exc.status == 429:
        return Explanation(
            f"the server is unwell or overloaded (HTTP {exc.status} from {endpoint}: {said})",
            "try again later; if it persists, the server's administrator should check its logs",
        )
    return Explanation(
        f"the server refused the request (HTTP {exc.status} from {endpoint}: {said})",
        f"check {where.setting} ({where.url}) and the settings the message names",
    )


def _unexpected(exc: UnexpectedResponseError, where: Where) -> Explanation:
    if exc.problem.startswith("redirected"):
        return Explanation(
            f"{where.url} answered with a redirect ({exc.problem})",
            f"check {where.setting}: scheme (http/https), host and path",
        )
    shape = (
        "Keycloak's base URL, without /realms/..."
        if where.stage == "token"
        else "the Meeting Insights base URL, without /api"
    )
    return Explanation(
        f"{where.url} does not answer like the server's API (HTTP {exc.status}, "
        f"{exc.problem}; body starts {exc.body_head!r})",
        f"check {where.setting}: it should be {shape}",
    )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


def _first(exc: BaseException, kind: type[E]) -> E | None:
    return next((c for c in _causes(exc) if isinstance(c, kind)), None)


def _speaks_no_tls(exc: BaseException) -> bool:
    """Whether a TLS handshake met a server that answered in plain HTTP."""
    return any(
        isinstance(cause, ssl.SSLError) and "WRONG_VERSION_NUMBER" in str(cause)
        for cause in _causes(exc)
    )


def _verify_reason(exc: BaseException) -> str | None:
    """OpenSSL's words for a failed certificate check (``self-signed certificate``, ...)."""
    for cause in _causes(exc):
        if isinstance(cause, aiohttp.ClientConnectorCertificateError):
            cause = cause.certificate_error
        if isinstance(cause, ssl.SSLCertVerificationError):
            return getattr(cause, "verify_message", None) or str(cause)
    return None


def _os_errno(exc: BaseException) -> int | None:
    for cause in _causes(exc):
        if isinstance(cause, aiohttp.ClientConnectorError) and cause.os_error.errno:
            return cause.os_error.errno
        if isinstance(cause, OSError) and cause.errno:
            return cause.errno
    return None
