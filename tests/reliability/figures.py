"""Sizes of the reliability suites, and the figures they measure.

Every suite runs in a reduced size by default (CI) and in its full size with
``HREC_FULL=1``. Each prints its figures as one JSON line and, with
``HREC_FIGURES=<file>``, appends that line to the file: RELIABILITY.md quotes
the lines of the last full run.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

FULL = os.environ.get("HREC_FULL") == "1"

T = TypeVar("T")


def sized(ci: T, full: T) -> T:
    """``full`` when HREC_FULL=1, else ``ci``."""
    return full if FULL else ci


def machine() -> str:
    """One line about where the figures were measured."""
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}"
    )


def record(suite: str, figures: Mapping[str, object]) -> dict[str, object]:
    """Print ``figures`` of ``suite`` as one JSON line; append it to $HREC_FIGURES if set."""
    line: dict[str, object] = {
        "suite": suite,
        "size": "full" if FULL else "ci",
        "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        **figures,
    }
    text = json.dumps(line, default=str)
    print(f"reliability figures: {text}")
    target = os.environ.get("HREC_FIGURES")
    if target:
        with Path(target).open("a", encoding="utf-8") as out:
            out.write(text + "\n")
    return line
