"""Fixtures of the security tests: a test CA and its PEM files, and deployments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from tls_certs import Pems, write_pems

from samples.deployments import StartDeployment, deployments


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def pems(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Pems:
    return write_pems(ca, tmp_path_factory.mktemp("pems"))


@pytest.fixture
async def deploy(tmp_path: Path) -> AsyncIterator[StartDeployment]:
    """Start deployments (``await deploy(rules, ssl_context)``); daemons are killed after."""
    async with deployments(tmp_path) as start:
        yield start
