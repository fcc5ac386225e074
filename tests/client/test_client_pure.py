"""Pure pieces of the client: back-off, Retry-After, the retry decision, filters, error texts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hrec_ingest.miaop import (
    ApiError,
    ConflictError,
    MiaopError,
    NotFoundError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TaskListFilter,
    TlsError,
    TransportError,
    UnexpectedResponseError,
    filter_document,
    full_jitter,
)
from hrec_ingest.miaop.errors import error_for_status, redact, server_message
from hrec_ingest.miaop.filters import filter_query
from hrec_ingest.miaop.retry import parse_retry_after, should_retry


class TestFullJitter:
    def test_doubles_from_base_until_the_cap(self) -> None:
        top = [full_jitter(n, base=0.5, cap=30.0, rand=lambda: 1.0) for n in range(1, 9)]
        assert top == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]

    def test_scales_the_window_by_the_random_draw(self) -> None:
        assert full_jitter(3, base=0.5, cap=30.0, rand=lambda: 0.25) == 0.5
        assert full_jitter(3, base=0.5, cap=30.0, rand=lambda: 0.0) == 0.0

    def test_huge_attempt_numbers_do_not_overflow(self) -> None:
        assert full_jitter(10_000, base=0.5, cap=30.0, rand=lambda: 1.0) == 30.0

    @pytest.mark.parametrize("attempt", [0, -1])
    def test_attempts_count_from_one(self, attempt: int) -> None:
        with pytest.raises(ValueError):
            full_jitter(attempt, base=0.5, cap=30.0)

    @given(
        attempt=st.integers(min_value=1, max_value=10_000),
        base=st.floats(min_value=0, max_value=100),
        cap=st.floats(min_value=0, max_value=1000),
        draw=st.floats(min_value=0, max_value=1, exclude_max=True),
    )
    def test_stays_within_zero_and_the_capped_window(
        self, attempt: int, base: float, cap: float, draw: float
    ) -> None:
        delay = full_jitter(attempt, base, cap, rand=lambda: draw)
        assert 0.0 <= delay <= cap
        assert delay <= base * 2.0 ** min(attempt - 1, 1023)


class TestRetryAfter:
    def test_delta_seconds(self) -> None:
        assert parse_retry_after("7") == 7.0
        assert parse_retry_after(" 1.5 ") == 1.5
        assert parse_retry_after("-3") == 0.0

    def test_http_date_counts_from_now(self) -> None:
        now = datetime(2026, 3, 8, 10, 0, 0, tzinfo=UTC)
        assert parse_retry_after("Sun, 08 Mar 2026 10:00:42 GMT", now=now) == 42.0
        assert parse_retry_after("Sun, 08 Mar 2026 09:00:00 GMT", now=now) == 0.0

    @pytest.mark.parametrize("value", [None, "", "soon", "nan"])
    def test_garbage_is_ignored(self, value: str | None) -> None:
        assert parse_retry_after(value) is None


class TestRetryDecision:
    @pytest.mark.parametrize(
        ("error", "retryable", "rejected"),
        [
            (TransportError("reset"), True, False),
            (TransportError("refused", connected=False), True, True),
            (TlsError.untrusted("h:1", "self-signed"), False, True),
            (ApiError(408, "slow"), True, True),
            (RateLimitedError(429, "busy", retry_after=3), True, True),
            (ServerError(500, "boom"), True, False),
            (ServerError(502, "bad gateway"), True, False),
            (ServerError(503, "down"), True, True),
            (ServerError(504, "gateway timeout"), True, False),
            (ServerError(501, "not implemented"), False, False),
            (ApiError(400, "bad"), False, False),
            (NotFoundError(404, "no"), False, False),
            (ConflictError(409, "exists"), False, False),
            (UnexpectedResponseError(200, b"<html>", "not JSON"), False, False),
        ],
    )
    def test_every_error_says_whether_to_retry(
        self, error: MiaopError, retryable: bool, rejected: bool
    ) -> None:
        assert error.retryable is retryable
        assert should_retry(error, idempotent=True) is retryable
        assert should_retry(error, idempotent=False) is (retryable and rejected)

    def test_foreign_exceptions_are_never_retried(self) -> None:
        assert not should_retry(KeyError("x"), idempotent=True)

    @pytest.mark.parametrize(
        "kwargs", [{"attempts": 0}, {"max_total_seconds": 0}, {"base_seconds": -1}]
    )
    def test_policy_refuses_nonsense(self, kwargs: dict[str, float]) -> None:
        with pytest.raises(ValueError):
            RetryPolicy(**kwargs)  # type: ignore[arg-type]


class TestStatusMapping:
    @pytest.mark.parametrize(
        ("status", "cls"),
        [
            (400, ApiError),
            (404, NotFoundError),
            (409, ConflictError),
            (429, RateLimitedError),
            (500, ServerError),
            (599, ServerError),
        ],
    )
    def test_status_picks_the_class(self, status: int, cls: type[Exception]) -> None:
        error = error_for_status(status, b'{"message": "why"}', endpoint="task")
        assert type(error) is cls
        assert error.status == status
        assert error.server_message == "why"
        assert "why" in str(error) and str(status) in str(error)

    def test_keycloak_error_and_description_are_joined(self) -> None:
        body = b'{"error": "invalid_grant", "error_description": "Invalid user credentials"}'
        assert server_message(body) == "invalid_grant; Invalid user credentials"

    def test_text_bodies_are_quoted_up_to_200_chars(self) -> None:
        assert server_message(b"<html>" + b"x" * 500) == "<html>" + "x" * 194
        assert server_message(b"") == "(empty body)"

    def test_unexpected_response_quotes_the_first_bytes(self) -> None:
        error = UnexpectedResponseError(502, b"<html>" + b"y" * 400, "not JSON", endpoint="stt")
        assert error.status == 502
        assert error.body_head == "<html>" + "y" * 194
        assert "<html>" in str(error) and "stt" in str(error)


class TestRedaction:
    def test_tokens_and_passwords_are_masked(self) -> None:
        text = (
            '{"access_token": "eyJsecret", "refresh_token":"r-secret", "expires_in": 3} '
            "password=hunter2&username=u Authorization: Bearer abc.def"
        )
        masked = redact(text)
        for secret in ("eyJsecret", "r-secret", "hunter2", "abc.def"):
            assert secret not in masked
        assert '"expires_in": 3' in masked and "username=u" in masked

    def test_a_token_cut_off_by_truncation_is_masked_too(self) -> None:
        assert "eyJhbGc" not in redact('{"access_token": "eyJhbGc')

    def test_an_unexpected_token_response_does_not_leak_the_token(self) -> None:
        body = b'{"access_token": "eyJ-very-secret", "expires_in": "soon"}'
        error = UnexpectedResponseError(200, body, "bad expires_in", endpoint="token")
        assert "eyJ-very-secret" not in str(error) and "eyJ-very-secret" not in repr(error)


class TestTaskListFilter:
    def test_the_guides_example(self) -> None:
        spec = TaskListFilter(
            updated_since=datetime.fromtimestamp(1754006400, UTC),
            updated_before=datetime.fromtimestamp(1754438400, UTC),
            tenant="test",
            supervisor_email="test@test.co.il",
            supervisor_name="test supervisor",
        )
        assert filter_document(spec) == {
            "$and": [
                {"extraData.taskUpdateTimeNumeric": {"$gte": 1754006400, "$lt": 1754438400}},
                {"extraData.archive": {"$ne": True}},
                {"extraData.tenant": "test"},
                {"extraData.supervisor.email": "test@test.co.il"},
                {"extraData.supervisor.name": "test supervisor"},
            ]
        }

    def test_default_excludes_archived_only(self) -> None:
        assert filter_document(TaskListFilter()) == {"$and": [{"extraData.archive": {"$ne": True}}]}

    def test_nothing_to_filter_gives_an_empty_object(self) -> None:
        assert filter_document(TaskListFilter(include_archived=True)) == {}

    def test_one_sided_window_and_other_zones(self) -> None:
        plus2 = timezone(timedelta(hours=2))
        spec = TaskListFilter(updated_since=datetime(2025, 8, 1, 2, 0, tzinfo=plus2))
        assert filter_document(spec)["$and"][0] == {
            "extraData.taskUpdateTimeNumeric": {"$gte": 1754006400}
        }

    def test_fractional_seconds_widen_the_window(self) -> None:
        since = datetime.fromtimestamp(100.7, UTC)
        before = datetime.fromtimestamp(200.2, UTC)
        window = filter_document(TaskListFilter(updated_since=since, updated_before=before))
        assert window["$and"][0]["extraData.taskUpdateTimeNumeric"] == {"$gte": 100, "$lt": 201}

    def test_naive_times_are_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            TaskListFilter(updated_since=datetime(2025, 8, 1))

    def test_query_is_encoded_like_encode_uri_component(self) -> None:
        spec = TaskListFilter(tenant="דמו & co", supervisor_email="a+b@x.io")
        query = filter_query(spec)
        assert query.startswith("filter=%7B%22%24and%22%3A%5B")
        assert all(c not in query[len("filter=") :] for c in " &+:$,{}\"'")
        assert json.loads(unquote(query[len("filter=") :])) == filter_document(spec)

    @given(
        since=st.none() | st.datetimes(timezones=st.just(UTC)),
        tenant=st.none() | st.text(max_size=20),
        archived=st.booleans(),
    )
    def test_query_round_trips(
        self, since: datetime | None, tenant: str | None, archived: bool
    ) -> None:
        spec = TaskListFilter(updated_since=since, tenant=tenant, include_archived=archived)
        query = filter_query(spec)
        assert "&" not in query and "=" not in query[len("filter=") :]
        assert json.loads(unquote(query[len("filter=") :])) == filter_document(spec)
