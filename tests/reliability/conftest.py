"""Fixtures of the reliability suites: the one fault run they share, a folder on another disk."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_campaign import FaultRun, run_fault_campaign
from figures import record

# tmpfs: a file system of its own on Linux, so moves to it are copies.
OTHER_FILE_SYSTEM = Path("/dev/shm")


@pytest.fixture(scope="session")
def fault_run(tmp_path_factory: pytest.TempPathFactory) -> FaultRun:
    """The fault run, made once for the session; test_faults and test_secrets read it."""
    root = tmp_path_factory.mktemp("fault-run")
    run = asyncio.run(run_fault_campaign(root))
    record("faults", run.figures)
    return run


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    """A fresh folder on another file system than tmp_path; skips where there is none."""
    if not OTHER_FILE_SYSTEM.is_dir() or not os.access(OTHER_FILE_SYSTEM, os.W_OK):
        pytest.skip(f"{OTHER_FILE_SYSTEM} is not a writable folder here")
    if os.stat(OTHER_FILE_SYSTEM).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip(f"{OTHER_FILE_SYSTEM} is on the same file system as {tmp_path}")
    folder = Path(tempfile.mkdtemp(prefix="hrec-reliability-", dir=OTHER_FILE_SYSTEM))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
