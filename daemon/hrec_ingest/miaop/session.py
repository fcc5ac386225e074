"""The process-wide HTTP session: one bounded connection pool shared by every tenant."""

from __future__ import annotations

import ssl

import aiohttp

from hrec_ingest import __version__

USER_AGENT = f"hrec-ingest/{__version__}"


def make_session(
    ssl_context: ssl.SSLContext, *, pool_limit: int, timeout_seconds: float
) -> aiohttp.ClientSession:
    """The one ClientSession of the process; call it inside the running event loop.

    At most ``pool_limit`` connections are open at once, to each host as well
    as in total, so the server sees bounded concurrency whatever the queues
    hold. ``timeout_seconds`` bounds a whole ordinary request and each
    connect and read; uploads override the total (see the client). The caller
    closes the session at shutdown (``async with make_session(...)``).
    """
    if pool_limit < 1:
        raise ValueError(f"pool_limit must be at least 1, got {pool_limit}")
    if timeout_seconds <= 0:
        raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds}")
    connector = aiohttp.TCPConnector(limit=pool_limit, limit_per_host=pool_limit, ssl=ssl_context)
    timeout = aiohttp.ClientTimeout(
        total=timeout_seconds, sock_connect=timeout_seconds, sock_read=timeout_seconds
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        headers={"User-Agent": USER_AGENT},
        raise_for_status=False,
    )
