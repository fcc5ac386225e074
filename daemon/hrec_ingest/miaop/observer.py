"""The metrics hook: what the client and the token manager report, and a no-op default."""

from __future__ import annotations

from typing import Literal, Protocol

RenewalKind = Literal["password", "refresh"]


class Observer(Protocol):
    """Receives the client's measurements; the service adapts it to Prometheus.

    ``endpoint`` is a route name ("token", "hrec", "task", "tasks", "meeting",
    "stt"), never a URL with ids in it, so that label sets stay small.
    ``status`` is the HTTP status, or "timeout", "connection" or "tls" when no
    answer came. Methods must be quick and must not raise.
    """

    def on_request(self, endpoint: str, status: int | str, seconds: float) -> None: ...

    def on_token_renewal(self, tenant: str, kind: RenewalKind) -> None: ...

    def on_bytes_uploaded(self, n: int) -> None: ...


class NullObserver:
    """The default observer: ignores everything."""

    def on_request(self, endpoint: str, status: int | str, seconds: float) -> None:
        """Ignore a finished request."""

    def on_token_renewal(self, tenant: str, kind: RenewalKind) -> None:
        """Ignore a token renewal."""

    def on_bytes_uploaded(self, n: int) -> None:
        """Ignore uploaded bytes."""
