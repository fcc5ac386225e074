"""Opaque, expiring, revocable access and refresh tokens (the Keycloak side).

Tokens are random strings that carry nothing: not the user, not the
password. What a token means lives only in this store, so revoking it is
deleting it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Grant:
    """Who a token was issued to, and until when (on the store's clock)."""

    tenant: str
    username: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str


# Expired grants are forgotten in sweeps; a sweep runs after this many issues
# so that its cost is spread thinly over the issues that made it necessary.
_SWEEP_EVERY = 1024


class TokenStore:
    """Issues tokens and answers what a presented token means right now."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._access: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self._issues_since_sweep = 0
        self.issued_access_tokens: list[str] = []
        self.issued_refresh_tokens: list[str] = []

    def issue(
        self, tenant: str, username: str, expires_in: float, refresh_expires_in: float
    ) -> TokenPair:
        """Mint a new access token and refresh token for ``username`` of ``tenant``."""
        now = self._clock()
        pair = TokenPair(secrets.token_urlsafe(32), secrets.token_urlsafe(40))
        self._access[pair.access_token] = Grant(tenant, username, now + expires_in)
        self._refresh[pair.refresh_token] = Grant(tenant, username, now + refresh_expires_in)
        self.issued_access_tokens.append(pair.access_token)
        self.issued_refresh_tokens.append(pair.refresh_token)
        self._issues_since_sweep += 1
        if self._issues_since_sweep >= _SWEEP_EVERY:
            self._sweep(now)
        return pair

    def access_grant(self, token: str) -> Grant | None:
        """The grant behind an access token, or None if unknown, expired or revoked."""
        return self._active(self._access, token)

    def refresh_grant(self, token: str) -> Grant | None:
        """The grant behind a refresh token, or None if unknown, expired or revoked."""
        return self._active(self._refresh, token)

    def tenant_of(self, token: str) -> str | None:
        """The tenant a known access token was issued for, even if it has expired."""
        grant = self._access.get(token)
        return grant.tenant if grant else None

    def revoke(self, tenant: str | None = None) -> int:
        """Forget every token (of ``tenant`` only, if given); returns how many went."""
        before = len(self._access) + len(self._refresh)
        if tenant is None:
            self._access.clear()
            self._refresh.clear()
        else:
            self._access = {t: g for t, g in self._access.items() if g.tenant != tenant}
            self._refresh = {t: g for t, g in self._refresh.items() if g.tenant != tenant}
        return before - len(self._access) - len(self._refresh)

    def _active(self, table: dict[str, Grant], token: str) -> Grant | None:
        grant = table.get(token)
        if grant is None or grant.expires_at <= self._clock():
            return None
        return grant

    def _sweep(self, now: float) -> None:
        self._issues_since_sweep = 0
        # Expired access tokens are kept a while longer than their life so that
        # the request log can still name the tenant of a late request.
        grace = 3600.0
        self._access = {t: g for t, g in self._access.items() if g.expires_at + grace > now}
        self._refresh = {t: g for t, g in self._refresh.items() if g.expires_at > now}
