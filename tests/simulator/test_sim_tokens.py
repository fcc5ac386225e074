"""The Keycloak side: grants, refresh, expiry, revocation, and 401s on the API."""

from __future__ import annotations

import aiohttp
from sim_helpers import PASSWORD, ManualClock, StartSim, bearer, get_json, login, token_url

from hrec_ingest.miaop.models import TokenResponse
from hrec_ingest.simulator import RunningSimulator


def _form(**fields: str) -> dict[str, str]:
    return {"client_id": "browser_client", **fields}


async def _post_token(
    http: aiohttp.ClientSession, url: str, data: dict[str, str]
) -> tuple[int, dict[str, str]]:
    async with http.post(url, data=data) as response:
        return response.status, await response.json()


async def test_password_grant_answers_keycloak_shape(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    body = await login(http, sim)
    TokenResponse.model_validate(body)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["refresh_expires_in"] == 1800
    # Opaque: says nothing about who it belongs to.
    for secret in (body["access_token"], body["refresh_token"]):
        assert PASSWORD not in secret and "user" not in secret and len(secret) >= 32
    assert sim.state.issued_access_tokens == [body["access_token"]]
    assert sim.state.issued_refresh_tokens == [body["refresh_token"]]


async def test_token_errors_have_keycloak_statuses(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    good = _form(grant_type="password", username="user", password=PASSWORD)
    assert await _post_token(http, token_url(sim, "nope"), good) == (
        404,
        {"error": "Realm does not exist"},
    )
    bad_password = {**good, "password": "wrong"}
    unknown_user = {**good, "username": "mallory"}
    for form in (bad_password, unknown_user):
        status, body = await _post_token(http, token_url(sim), form)
        assert (status, body["error"]) == (401, "invalid_grant")
        assert body["error_description"] == "Invalid user credentials"
    status, body = await _post_token(http, token_url(sim), {**good, "client_id": "other"})
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = await _post_token(http, token_url(sim), _form(username="user"))
    assert (status, body["error"]) == (400, "invalid_request")
    status, body = await _post_token(http, token_url(sim), _form(grant_type="implicit"))
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    assert sim.state.issued_access_tokens == []


async def test_refresh_grant_issues_a_working_token(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    first = await login(http, sim)
    status, body = await _post_token(
        http,
        token_url(sim),
        _form(grant_type="refresh_token", refresh_token=first["refresh_token"]),
    )
    assert status == 200
    assert body["access_token"] != first["access_token"]
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await get_json(http, f"{sim.url}/api/tasks", headers, filter="{}")) == (200, [])


async def test_refresh_token_only_works_in_its_realm(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(users={"demo": {"user": PASSWORD}, "other": {"user": PASSWORD}})
    refresh = (await login(http, sim))["refresh_token"]
    status, body = await _post_token(
        http, token_url(sim, "other"), _form(grant_type="refresh_token", refresh_token=refresh)
    )
    assert (status, body["error_description"]) == (400, "Token is not active")


async def test_access_token_expires(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    sim = await start_sim(expires_in=60)
    clock = ManualClock()
    sim.state.clock = clock
    headers = await bearer(http, sim)
    url = f"{sim.url}/api/tasks"
    clock.advance(59)
    assert (await get_json(http, url, headers, filter="{}"))[0] == 200
    clock.advance(1)
    status, body = await get_json(http, url, headers, filter="{}")
    assert status == 401 and "expired" in body["message"]
    assert sim.state.unauthorized_count == 1


async def test_refresh_token_expires(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    sim = await start_sim(refresh_expires_in=120)
    clock = ManualClock()
    sim.state.clock = clock
    refresh = (await login(http, sim))["refresh_token"]
    clock.advance(120)
    status, body = await _post_token(
        http, token_url(sim), _form(grant_type="refresh_token", refresh_token=refresh)
    )
    assert (status, body) == (
        400,
        {"error": "invalid_grant", "error_description": "Token is not active"},
    )


async def test_revocation_by_tenant(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    sim = await start_sim(users={"demo": {"user": PASSWORD}, "other": {"user": PASSWORD}})
    demo = await login(http, sim, "demo")
    other = await bearer(http, sim, "other")
    url = f"{sim.url}/api/tasks"
    sim.state.revoke_tokens("demo")
    demo_headers = {"Authorization": f"Bearer {demo['access_token']}"}
    assert (await get_json(http, url, demo_headers, filter="{}"))[0] == 401
    assert (await get_json(http, url, other, filter="{}"))[0] == 200
    status, _ = await _post_token(
        http, token_url(sim), _form(grant_type="refresh_token", refresh_token=demo["refresh_token"])
    )
    assert status == 400
    # A new password grant works again.
    assert (await get_json(http, url, await bearer(http, sim), filter="{}"))[0] == 200


async def test_revocation_through_the_control_endpoint(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, sim)
    async with http.post(f"{sim.url}/_sim/revoke") as response:
        assert response.status == 200
        assert (await response.json())["revoked"] == 2
    assert (await get_json(http, f"{sim.url}/api/tasks", headers, filter="{}"))[0] == 401


async def test_every_api_endpoint_needs_a_bearer_token(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    paths = ["/api/tasks?filter={}", "/api/tasks/abc", "/api/meetings/1.abc", "/api/stt/1.abc/0"]
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer nope"}):
        for path in paths:
            async with http.get(f"{sim.url}{path}", headers=headers) as response:
                assert response.status == 401, path
                assert "message" in await response.json()
        async with http.post(f"{sim.url}/hrec", headers=headers, data=b"x") as response:
            assert response.status == 401
    assert sim.state.unauthorized_count == 15
