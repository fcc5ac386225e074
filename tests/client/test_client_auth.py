"""Tokens: password vs refresh, renewal ahead of expiry, one renewal at a time, 401 handling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import structlog
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from hrec_ingest.miaop import (
    AuthenticationError,
    MiaopClient,
    RetryPolicy,
    ServerError,
    TokenManager,
    UnexpectedResponseError,
)

API = "http://api.test"
KEYCLOAK = "http://kc.test:8443/"
TOKEN_URL = "http://kc.test:8443/realms/demo/protocol/openid-connect/token"
TASK_URL = f"{API}/api/tasks/t1"
PASSWORD = "s3cret-Pa55!"
FAST = RetryPolicy(attempts=3, max_total_seconds=10, base_seconds=0.001, cap_seconds=0.01)
TASK = {"taskId": "t1", "taskStatus": "sttPending"}


class Keycloak:
    """A scripted token endpoint: records every grant, answers from a queue or issues tokens."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []
        self.issued: list[str] = []
        self.answers: list[CallbackResult] = []
        self.expires_in = 100
        self.refresh_expires_in: int | None = 1000
        self.hold: asyncio.Event | None = None

    async def handle(self, url: URL, **kwargs: Any) -> CallbackResult:
        self.forms.append(dict(kwargs["data"]))
        if self.hold is not None:
            await self.hold.wait()
        if self.answers:
            return self.answers.pop(0)
        token = f"access-{len(self.issued) + 1}"
        self.issued.append(token)
        body: dict[str, Any] = {
            "access_token": token,
            "expires_in": self.expires_in,
            "refresh_token": f"refresh-{len(self.issued)}",
        }
        if self.refresh_expires_in is not None:
            body["refresh_expires_in"] = self.refresh_expires_in
        return CallbackResult(payload=body)

    @property
    def grants(self) -> list[str]:
        return [form["grant_type"] for form in self.forms]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keycloak() -> Keycloak:
    return Keycloak()


@pytest.fixture
def mocked(keycloak: Keycloak) -> Iterator[aioresponses]:
    with aioresponses() as mock:
        mock.post(TOKEN_URL, callback=keycloak.handle, repeat=True)
        yield mock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def tokens(session: aiohttp.ClientSession, clock: Clock) -> TokenManager:
    return TokenManager(session, KEYCLOAK, "demo", "user", PASSWORD, retry=FAST, clock=clock)


@pytest.fixture
def client(session: aiohttp.ClientSession, tokens: TokenManager) -> MiaopClient:
    return MiaopClient(session, API, tokens, retry=FAST)


def bearer_tokens(mock: aioresponses, url: str) -> list[str]:
    return [
        call.kwargs["headers"]["Authorization"].removeprefix("Bearer ")
        for call in mock.requests.get(("GET", URL(url)), [])
    ]


class TestGrants:
    async def test_first_login_uses_the_password(
        self, tokens: TokenManager, keycloak: Keycloak, mocked: aioresponses
    ) -> None:
        assert await tokens.access_token() == "access-1"
        assert keycloak.forms == [
            {
                "client_id": "browser_client",
                "grant_type": "password",
                "username": "user",
                "password": PASSWORD,
            }
        ]
        assert await tokens.access_token() == "access-1"
        assert len(keycloak.forms) == 1

    async def test_renewed_with_the_refresh_token_when_a_fifth_of_life_is_left(
        self, tokens: TokenManager, keycloak: Keycloak, clock: Clock, mocked: aioresponses
    ) -> None:
        await tokens.access_token()
        clock.now += 79  # 21 of 100 seconds left: still good
        assert await tokens.access_token() == "access-1"
        clock.now += 2  # 19 left: due
        assert await tokens.access_token() == "access-2"
        assert keycloak.grants == ["password", "refresh_token"]
        assert keycloak.forms[1]["refresh_token"] == "refresh-1"
        assert keycloak.forms[1]["client_id"] == "browser_client"
        assert "password" not in keycloak.forms[1]
        assert tokens.renewals_by_kind() == {"password": 1, "refresh": 1}
        assert tokens.renewals == 2

    async def test_password_again_once_the_refresh_token_is_spent(
        self, tokens: TokenManager, keycloak: Keycloak, clock: Clock, mocked: aioresponses
    ) -> None:
        keycloak.refresh_expires_in = 150
        await tokens.access_token()
        clock.now += 90  # access token due; the refresh token has 60 of 150 s left
        await tokens.access_token()
        clock.now += 90  # again: the second refresh token has 60 of 150 s left
        await tokens.access_token()
        clock.now += 200  # the third refresh token is past its life too
        await tokens.access_token()
        assert keycloak.grants == ["password", "refresh_token", "refresh_token", "password"]

    async def test_a_refused_refresh_falls_back_to_the_password(
        self, tokens: TokenManager, keycloak: Keycloak, clock: Clock, mocked: aioresponses
    ) -> None:
        await tokens.access_token()
        clock.now += 90
        keycloak.answers.append(
            CallbackResult(
                status=400,
                payload={"error": "invalid_grant", "error_description": "Session not active"},
            )
        )
        assert await tokens.access_token() == "access-2"
        assert keycloak.grants == ["password", "refresh_token", "password"]
        assert tokens.renewals_by_kind() == {"password": 2, "refresh": 0}

    async def test_refresh_tokens_that_never_expire(
        self, tokens: TokenManager, keycloak: Keycloak, clock: Clock, mocked: aioresponses
    ) -> None:
        keycloak.refresh_expires_in = 0  # Keycloak's offline tokens
        await tokens.access_token()
        clock.now += 10_000
        await tokens.access_token()
        assert keycloak.grants == ["password", "refresh_token"]

    async def test_a_sick_keycloak_is_retried(
        self, tokens: TokenManager, keycloak: Keycloak, mocked: aioresponses
    ) -> None:
        keycloak.answers.append(CallbackResult(status=503, body="maintenance"))
        assert await tokens.access_token() == "access-1"
        keycloak.answers.extend(CallbackResult(status=500) for _ in range(FAST.attempts))
        tokens._access = None  # force a renewal
        with pytest.raises(ServerError):
            await tokens.access_token()

    async def test_a_token_without_expiry_is_unexpected(
        self, tokens: TokenManager, keycloak: Keycloak, mocked: aioresponses
    ) -> None:
        keycloak.answers.append(CallbackResult(payload={"access_token": "eyJ-leak"}))
        with pytest.raises(UnexpectedResponseError, match="expires_in") as caught:
            await tokens.access_token()
        assert "eyJ-leak" not in str(caught.value)


class TestLoginFailures:
    async def test_wrong_password(
        self, tokens: TokenManager, keycloak: Keycloak, mocked: aioresponses
    ) -> None:
        keycloak.answers.append(
            CallbackResult(
                status=401,
                payload={"error": "invalid_grant", "error_description": "Invalid user credentials"},
            )
        )
        with pytest.raises(AuthenticationError) as caught:
            await tokens.access_token()
        error = caught.value
        assert error.status == 401 and not error.retryable
        assert error.hint == "check USERNAME/PASSWORD for tenant 'demo'"
        assert "Invalid user credentials" in str(error) and error.hint in str(error)
        assert len(keycloak.forms) == 1

    async def test_unknown_realm(self, session: aiohttp.ClientSession) -> None:
        with aioresponses() as mock:
            mock.post(
                "http://kc.test:8443/realms/nope/protocol/openid-connect/token",
                status=404,
                payload={"error": "Realm does not exist"},
            )
            tokens = TokenManager(session, KEYCLOAK, "nope", "user", PASSWORD, retry=FAST)
            with pytest.raises(
                AuthenticationError, match="check TENANT: realm 'nope' does not exist"
            ):
                await tokens.access_token()

    async def test_wrong_client(
        self, tokens: TokenManager, keycloak: Keycloak, mocked: aioresponses
    ) -> None:
        keycloak.answers.append(
            CallbackResult(
                status=401,
                payload={"error": "invalid_client", "error_description": "Invalid client"},
            )
        )
        with pytest.raises(AuthenticationError, match="KEYCLOAK_CLIENT_ID"):
            await tokens.access_token()

    async def test_one_failed_login_for_many_waiters(
        self, tokens: TokenManager, keycloak: Keycloak, mocked: aioresponses
    ) -> None:
        keycloak.hold = asyncio.Event()
        keycloak.answers.append(CallbackResult(status=401, payload={"error": "invalid_grant"}))
        waiters = [asyncio.create_task(tokens.access_token()) for _ in range(20)]
        await _until(lambda: len(keycloak.forms) == 1)
        keycloak.hold.set()
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(r, AuthenticationError) for r in results)
        # Keycloak's brute-force protection counts failed logins: one, not twenty.
        assert len(keycloak.forms) == 1


class TestOneRenewalAtATime:
    async def test_many_waiters_share_one_renewal(
        self, tokens: TokenManager, keycloak: Keycloak, clock: Clock, mocked: aioresponses
    ) -> None:
        await tokens.access_token()
        clock.now += 95
        keycloak.hold = asyncio.Event()
        waiters = [asyncio.create_task(tokens.access_token()) for _ in range(50)]
        await _until(lambda: len(keycloak.forms) == 2)
        keycloak.hold.set()
        assert set(await asyncio.gather(*waiters)) == {"access-2"}
        assert keycloak.grants == ["password", "refresh_token"]

    async def test_a_cancelled_waiter_does_not_cancel_the_renewal(
        self, tokens: TokenManager, keycloak: Keycloak, mocked: aioresponses
    ) -> None:
        keycloak.hold = asyncio.Event()
        first = asyncio.create_task(tokens.access_token())
        second = asyncio.create_task(tokens.access_token())
        await _until(lambda: len(keycloak.forms) == 1)
        first.cancel()
        keycloak.hold.set()
        assert await second == "access-1"
        assert len(keycloak.forms) == 1
        with pytest.raises(asyncio.CancelledError):
            await first


class TestUnauthorized:
    async def test_401_renews_once_and_repeats_once(
        self, client: MiaopClient, keycloak: Keycloak, mocked: aioresponses
    ) -> None:
        mocked.get(TASK_URL, status=401, payload={"message": "token expired"})
        mocked.get(TASK_URL, payload=TASK)
        assert (await client.get_task("t1")).taskId == "t1"
        assert bearer_tokens(mocked, TASK_URL) == ["access-1", "access-2"]
        assert len(keycloak.forms) == 2

    async def test_a_second_401_raises(
        self, client: MiaopClient, keycloak: Keycloak, mocked: aioresponses
    ) -> None:
        mocked.get(TASK_URL, status=401, payload={"message": "no access"}, repeat=True)
        with pytest.raises(AuthenticationError, match="refused a fresh token") as caught:
            await client.get_task("t1")
        assert caught.value.status == 401 and not caught.value.retryable
        assert caught.value.server_message == "no access"
        assert len(bearer_tokens(mocked, TASK_URL)) == 2
        assert len(keycloak.forms) == 2

    async def test_a_burst_of_401s_costs_one_renewal(
        self, client: MiaopClient, keycloak: Keycloak, mocked: aioresponses
    ) -> None:
        await client._tokens.access_token()

        def api(url: URL, **kwargs: Any) -> CallbackResult:
            if kwargs["headers"]["Authorization"] == "Bearer access-1":
                return CallbackResult(status=401, payload={"message": "revoked"})
            return CallbackResult(payload=TASK)

        mocked.get(TASK_URL, callback=api, repeat=True)
        keycloak.hold = asyncio.Event()
        calls = [asyncio.create_task(client.get_task("t1")) for _ in range(10)]
        await _until(lambda: len(keycloak.forms) == 2)
        keycloak.hold.set()
        assert all(t.taskId == "t1" for t in await asyncio.gather(*calls))
        assert len(keycloak.forms) == 2
        sent = bearer_tokens(mocked, TASK_URL)
        # Requests that start while the renewal runs wait for it instead of using the old token.
        assert sent.count("access-2") == 10
        assert 1 <= sent.count("access-1") <= 10


class TestSecrets:
    async def test_no_secret_in_logs_errors_or_reprs(
        self,
        client: MiaopClient,
        tokens: TokenManager,
        keycloak: Keycloak,
        clock: Clock,
        mocked: aioresponses,
    ) -> None:
        errors: list[BaseException] = []
        with structlog.testing.capture_logs() as logs:
            mocked.get(TASK_URL, status=401)
            mocked.get(TASK_URL, status=503)
            mocked.get(TASK_URL, payload=TASK)
            await client.get_task("t1")
            clock.now += 90
            keycloak.answers.append(CallbackResult(status=400, payload={"error": "invalid_grant"}))
            keycloak.answers.append(
                CallbackResult(status=401, body=f"password={PASSWORD}&refresh_token=refresh-2")
            )
            try:
                await tokens.access_token()
            except AuthenticationError as exc:
                errors.append(exc)
            keycloak.answers.append(
                CallbackResult(body='{"access_token": "access-secret", "expires_in": "x"}')
            )
            try:
                await tokens.access_token()
            except UnexpectedResponseError as exc:
                errors.append(exc)
        assert len(errors) == 2 and logs
        secrets = [PASSWORD, "access-1", "access-2", "refresh-1", "refresh-2", "access-secret"]
        texts = [repr(event) for event in logs]
        texts += [str(e) for e in errors] + [repr(e) for e in errors]
        texts += [repr(client), repr(tokens), repr(vars(errors[0])), repr(vars(errors[1]))]
        for text in texts:
            for secret in secrets:
                assert secret not in text, (secret, text)


async def _until(condition: Any, timeout: float = 5.0) -> None:
    """Wait for ``condition()`` to hold, failing after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)
