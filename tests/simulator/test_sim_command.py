"""The ``simulator`` command, HTTPS, and serve()'s stop event."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import ssl
import subprocess
import sys
import time

import aiohttp
import pytest
import trustme
from click.testing import CliRunner
from sim_helpers import login

from hrec_ingest.simulator import SimulatorOptions, running_simulator, serve
from hrec_ingest.simulator.command import simulator_command

LAUNCH = "from hrec_ingest.simulator.command import simulator_command; simulator_command()"


def test_help_says_what_it_does_with_an_example() -> None:
    result = CliRunner().invoke(simulator_command, ["--help"])
    assert result.exit_code == 0
    assert "Example: hrec-ingest simulator" in result.output
    for option in ("--user", "--fault-429", "--retry-after", "--tls-cert", "--reject-files"):
        assert option in result.output


@pytest.mark.parametrize(
    "args",
    [["--user", "demo:user"], ["--fault-5xx", "1.5"], ["--tls-key", __file__]],
)
def test_bad_arguments_exit_2(args: list[str]) -> None:
    assert CliRunner().invoke(simulator_command, args).exit_code == 2


def _read_url(process: subprocess.Popen[str], timeout: float = 10.0) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        found = re.search(r"(https?://127\.0\.0\.1:\d+)", line)
        if found:
            return found.group(1)
        if not line and process.poll() is not None:
            break
    raise AssertionError("the simulator did not log its URL")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_command_serves_until_signalled(stop_signal: signal.Signals) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "--port", "0", "--user", "acme:ops:s3cret:with:colons"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        url = await asyncio.to_thread(_read_url, process)
        form = {
            "client_id": "browser_client",
            "grant_type": "password",
            "username": "ops",
            "password": "s3cret:with:colons",
        }
        async with aiohttp.ClientSession() as http:
            token_url = f"{url}/realms/acme/protocol/openid-connect/token"
            async with http.post(token_url, data=form) as response:
                assert response.status == 200
        process.send_signal(stop_signal)
        assert await asyncio.to_thread(process.wait, 10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()


async def test_serves_https() -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    async with running_simulator(ssl_context=server_context) as sim:
        assert sim.url.startswith("https://127.0.0.1:")
        connector = aiohttp.TCPConnector(ssl=client_context)
        async with aiohttp.ClientSession(connector=connector) as http:
            assert (await login(http, sim))["token_type"] == "Bearer"


async def test_serve_stops_when_told() -> None:
    stop = asyncio.Event()
    server = asyncio.create_task(serve(SimulatorOptions(), "127.0.0.1", 0, stop=stop))
    stop.set()
    await asyncio.wait_for(server, timeout=5)
    assert server.result() is None
