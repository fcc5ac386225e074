"""Fixtures for every test folder."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from hrec_ingest import heldcalls


@pytest.fixture
def calls_through_os() -> Iterator[None]:
    """The file work's quick calls made through ``os`` (heldcalls), for a test that puts
    faults into or records ``os``'s functions: otherwise libc is called and they are not met."""
    heldcalls.release(math.inf)
    yield
    heldcalls.release(0)
