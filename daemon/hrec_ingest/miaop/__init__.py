"""Client for the AudioCodes Meeting Insights On-Prem offline transcription API.

One :func:`make_session` per process, one :class:`TokenManager` and one
:class:`MiaopClient` per tenant::

    context = make_ssl_context(verify=True, ca_bundle=None, client_cert=None, client_key=None)
    async with make_session(context, pool_limit=8, timeout_seconds=60) as session:
        tokens = TokenManager(session, keycloak_url, "demo", "user", password)
        client = MiaopClient(session, api_url, tokens)
        task_id = await client.submit_task(task, files)
"""

from hrec_ingest.miaop.auth import TokenManager
from hrec_ingest.miaop.backoff import full_jitter
from hrec_ingest.miaop.client import SINGLE_ATTEMPT, MiaopClient, TranscriptionResult
from hrec_ingest.miaop.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    HttpStatusError,
    LocalFileError,
    MiaopError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TlsConfigError,
    TlsError,
    TransportError,
    UnexpectedResponseError,
)
from hrec_ingest.miaop.filters import TaskListFilter, filter_document
from hrec_ingest.miaop.keepalive import KeepAliveGets
from hrec_ingest.miaop.observer import NullObserver, Observer
from hrec_ingest.miaop.retry import RetryPolicy
from hrec_ingest.miaop.session import make_session
from hrec_ingest.miaop.tls import make_ssl_context
from hrec_ingest.miaop.upload import UploadPart

__all__ = [
    "SINGLE_ATTEMPT",
    "ApiError",
    "AuthenticationError",
    "ConflictError",
    "HttpStatusError",
    "KeepAliveGets",
    "LocalFileError",
    "MiaopClient",
    "MiaopError",
    "NotFoundError",
    "NullObserver",
    "Observer",
    "RateLimitedError",
    "RetryPolicy",
    "ServerError",
    "TaskListFilter",
    "TlsConfigError",
    "TlsError",
    "TokenManager",
    "TranscriptionResult",
    "TransportError",
    "UnexpectedResponseError",
    "UploadPart",
    "filter_document",
    "full_jitter",
    "make_session",
    "make_ssl_context",
]
