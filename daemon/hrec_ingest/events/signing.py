"""The webhook's signature: HMAC-SHA256 of the exact body bytes with WEBHOOK_SECRET.

A receiver recomputes it over the raw body it received (before any JSON
parsing) and compares in constant time; :func:`verify` does exactly that and
is what a Python receiver can import.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hrec-Signature"
EVENT_ID_HEADER = "X-Hrec-Event-Id"
EVENT_HEADER = "X-Hrec-Event"
ATTEMPT_HEADER = "X-Hrec-Delivery-Attempt"
_PREFIX = "sha256="


def signature(body: bytes, secret: str) -> str:
    """The ``X-Hrec-Signature`` value for ``body``: ``sha256=<hex HMAC-SHA256>``.

    Example:
        >>> signature(b'{"event":"task.done"}', "s3cret")[:15]
        'sha256=c296d94d'
    """
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant-time)."""
    if header is None or not header.startswith(_PREFIX):
        return False
    return hmac.compare_digest(header, signature(body, secret))
