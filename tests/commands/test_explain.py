"""Plain words for the errors of real requests: what the other command tests do not reach."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from command_server import submit_task

from hrec_ingest.commands.explain import Where, explain
from hrec_ingest.logs import register_secret
from hrec_ingest.miaop import ApiError, AuthenticationError, TransportError
from hrec_ingest.simulator import SimulatorOptions, running_simulator

PASSWORD = "Explain-Pw-2718"


def where(url: str, **changes: str) -> Where:
    fields = {
        "stage": "api",
        "url": url,
        "tenant": "demo",
        "tenant_source": "TENANT, config.env line 3",
        "username": "user",
        "password_source": "config.env line 5",
        "language": "English",
    }
    fields.update(changes)
    return Where(**fields)  # type: ignore[arg-type]


async def test_an_unknown_language(tmp_path: Path) -> None:
    options = SimulatorOptions(users={"demo": {"user": PASSWORD}})
    async with running_simulator(options) as sim:
        with pytest.raises(ApiError) as error:
            await submit_task(sim, tmp_path, PASSWORD, language="english")

    why = explain(error.value, where(sim.url, language="english"))

    assert why.problem.startswith("the server does not accept the language 'english' (")
    assert "'english' is not a supported language" in why.problem
    assert why.remedy.startswith("set BASE_LANGUAGE to a language the server supports")


def test_a_password_the_server_echoes_is_masked() -> None:
    password = f"Echoed-{secrets.token_urlsafe(12)}"
    register_secret(password, pinned=True)
    error = AuthenticationError(
        401, f"invalid_grant; bad password {password}", hint="", endpoint="token"
    )

    why = explain(error, where("http://kc", stage="token"))

    assert password not in why.line()
    assert why.line().startswith("Keycloak refused the user name or password of 'user'")


def test_an_unmapped_connection_failure_keeps_its_words() -> None:
    error = TransportError("connection to 127.0.0.1:8443 failed: OSError: something odd")

    why = explain(error, where("http://127.0.0.1:8443"))

    assert why.problem == str(error)
    assert why.remedy.startswith("check API_BASE_URL (http://127.0.0.1:8443) and the network")


def test_an_error_that_is_not_the_clients_is_called_a_bug() -> None:
    why = explain(AttributeError("no attribute 'reason'"), where("http://x"))

    assert why.problem == "unexpected AttributeError: no attribute 'reason'"
    assert "bug in hrec-ingest" in why.remedy
