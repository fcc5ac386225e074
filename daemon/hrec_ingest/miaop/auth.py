"""Access tokens for one tenant (Keycloak realm): obtained, refreshed, renewed once at a time."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

import aiohttp
import structlog
from yarl import URL

from hrec_ingest.logs import register_secret
from hrec_ingest.miaop.errors import (
    ApiError,
    AuthenticationError,
    UnexpectedResponseError,
)
from hrec_ingest.miaop.models import TokenResponse
from hrec_ingest.miaop.observer import NullObserver, Observer, RenewalKind
from hrec_ingest.miaop.retry import RetryPolicy, call_with_retry
from hrec_ingest.miaop.transport import send

log = structlog.get_logger(__name__)

DEFAULT_CLIENT_ID = "browser_client"
# Statuses with which Keycloak refuses a grant (as opposed to being unwell).
_REFUSALS = frozenset({400, 401, 403, 404})


class TokenManager:
    """Keeps a valid access token for one tenant and renews it before it runs out.

    A token counts as due when ``renew_fraction`` (20%) of its lifetime is
    left. Renewal uses the refresh token while that is still valid and logs
    in with the password only when it is not, or when Keycloak refuses it.
    However many requests find the token due at once, one renewal runs and
    all of them wait for its result (one failed login, not one per request:
    Keycloak's brute-force protection counts them).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        keycloak_base_url: str | URL,
        tenant: str,
        username: str,
        password: str,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        observer: Observer | None = None,
        retry: RetryPolicy | None = None,
        renew_fraction: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 <= renew_fraction < 1.0:
            raise ValueError(f"renew_fraction must be in [0, 1), got {renew_fraction}")
        self._session = session
        self._url = URL(str(keycloak_base_url)).joinpath(
            "realms", tenant, "protocol", "openid-connect", "token"
        )
        self._tenant = tenant
        self._username = username
        self._password = password
        self._client_id = client_id
        self._observer: Observer = observer if observer is not None else NullObserver()
        self._retry = retry if retry is not None else RetryPolicy()
        self._renew_fraction = renew_fraction
        self._clock = clock
        self._access: str | None = None
        self._renew_at = 0.0
        self._refresh: str | None = None
        self._refresh_until: float | None = None
        self._pending: asyncio.Task[str] | None = None
        self._renewals: Counter[RenewalKind] = Counter()

    def __repr__(self) -> str:
        return (
            f"TokenManager(tenant={self._tenant!r}, username={self._username!r}, "
            f"client_id={self._client_id!r})"
        )

    @property
    def tenant(self) -> str:
        """The tenant (Keycloak realm) this manager logs in to."""
        return self._tenant

    @property
    def renewals(self) -> int:
        """How many tokens were obtained so far, the first login included."""
        return sum(self._renewals.values())

    def renewals_by_kind(self) -> dict[RenewalKind, int]:
        """Tokens obtained so far, by grant: ``{"password": n, "refresh": m}``."""
        return {"password": self._renewals["password"], "refresh": self._renewals["refresh"]}

    async def access_token(self) -> str:
        """A valid access token, renewed first if it is due."""
        if self._access is not None and self._clock() < self._renew_at:
            return self._access
        return await self._shared_renewal()

    async def renew(self, rejected: str) -> str:
        """A new token after the API refused ``rejected`` with 401.

        When another request already replaced that token, its replacement is
        returned and nothing is renewed, so a burst of 401s costs one renewal.
        """
        if self._pending is None or self._pending.done():
            if self._access is not None and self._access != rejected:
                return await self.access_token()
            self._access = None
        return await self._shared_renewal()

    async def close(self) -> None:
        """Stop a renewal in flight (at shutdown)."""
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
            await asyncio.gather(self._pending, return_exceptions=True)

    def _shared_renewal(self) -> asyncio.Future[str]:
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._renew(), name=f"token-{self._tenant}")
            # Reaps the result so that a renewal whose waiters were all cancelled loses nothing.
            self._pending.add_done_callback(_reap)
        # One waiter's cancellation must not cancel the renewal the others wait for.
        return asyncio.shield(self._pending)

    async def _renew(self) -> str:
        if self._refresh is not None and (
            self._refresh_until is None or self._clock() < self._refresh_until
        ):
            try:
                return await self._grant(
                    "refresh", {"grant_type": "refresh_token", "refresh_token": self._refresh}
                )
            except ApiError as exc:
                if exc.status not in _REFUSALS:
                    raise
                # An ended session or a revoked token: the password still works.
                log.info(
                    "auth.refresh_refused",
                    tenant=self._tenant,
                    status=exc.status,
                    server_message=exc.server_message,
                )
                self._refresh = None
        try:
            return await self._grant(
                "password",
                {"grant_type": "password", "username": self._username, "password": self._password},
            )
        except ApiError as exc:
            if exc.status not in _REFUSALS:
                raise
            raise AuthenticationError(
                exc.status, exc.server_message, hint=self._hint(exc), endpoint="token"
            ) from None

    def _hint(self, exc: ApiError) -> str:
        if exc.status == 404:
            return (
                f"check TENANT: realm {self._tenant!r} does not exist "
                "(or KEYCLOAK_BASE_URL does not point at Keycloak)"
            )
        if exc.server_message.startswith(("invalid_client", "unauthorized_client")):
            return (
                f"check KEYCLOAK_CLIENT_ID: client {self._client_id!r} may not log in "
                f"with a password in realm {self._tenant!r}"
            )
        return f"check USERNAME/PASSWORD for tenant {self._tenant!r}"

    async def _grant(self, kind: RenewalKind, form: dict[str, str]) -> str:
        form = {"client_id": self._client_id, **form}
        started = self._clock()

        async def once() -> TokenResponse:
            response = await send(
                self._session,
                "POST",
                self._url,
                endpoint="token",
                observer=self._observer,
                data=form,
                headers={"Accept": "application/json"},
            )
            response.raise_for_status()
            token = response.model(TokenResponse)
            if token.expires_in <= 0 or not token.access_token:
                raise UnexpectedResponseError(
                    response.status,
                    response.body,
                    "a token needs a non-empty access_token and a positive expires_in",
                    endpoint="token",
                )
            return token

        token = await call_with_retry(once, self._retry, endpoint="token")
        # Every token is handed to the log scrubber before anything could log it.
        register_secret(token.access_token)
        if token.refresh_token:
            register_secret(token.refresh_token)
        # Lifetimes count from when the request left, not when the answer came: never too late.
        self._access = token.access_token
        self._renew_at = started + token.expires_in * (1.0 - self._renew_fraction)
        if token.refresh_token:
            self._refresh = token.refresh_token
            lifetime = token.refresh_expires_in
            # Keycloak says 0 for refresh tokens that do not expire (offline tokens).
            self._refresh_until = (
                started + lifetime * (1.0 - self._renew_fraction) if lifetime else None
            )
        self._renewals[kind] += 1
        self._observer.on_token_renewal(self._tenant, kind)
        log.info(
            "auth.token_obtained",
            tenant=self._tenant,
            grant=kind,
            expires_in=token.expires_in,
            refresh_expires_in=token.refresh_expires_in,
        )
        return token.access_token


def _reap(task: asyncio.Task[str]) -> None:
    if not task.cancelled():
        task.exception()
