"""What a benchmark prints and saves: the machine, a table per profile, the targets."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# Issue 6's targets on two cores.
ZERO_MIN_FILES_PER_SECOND = 200.0
ZERO_MAX_CPU_MS_PER_FILE = 2.0
REALISTIC_MIN_RATIO = 10.0


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, load and Python of the machine the figures come from."""
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "cpu": model,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def targets(
    profile: str, daemon: Mapping[str, Any], baseline: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """Each target of this profile with the measured figure and whether it is met."""
    checks: list[dict[str, Any]] = []
    if profile == "zero":
        checks.append(
            {
                "target": f"≥ {ZERO_MIN_FILES_PER_SECOND:.0f} files/s end to end",
                "measured": daemon["files_per_second"],
                "met": daemon["files_per_second"] >= ZERO_MIN_FILES_PER_SECOND,
            }
        )
        checks.append(
            {
                "target": f"≤ {ZERO_MAX_CPU_MS_PER_FILE} ms daemon CPU per file",
                "measured": daemon["cpu_ms_per_file"],
                "met": daemon["cpu_ms_per_file"] <= ZERO_MAX_CPU_MS_PER_FILE,
            }
        )
    if profile == "realistic" and baseline is not None:
        ratio = daemon["files_per_second"] / baseline["files_per_second"]
        checks.append(
            {
                "target": f"≥ {REALISTIC_MIN_RATIO:.0f}× the baseline's throughput",
                "measured": round(ratio, 1),
                "met": ratio >= REALISTIC_MIN_RATIO,
            }
        )
    return checks


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def table(result: Mapping[str, Any]) -> str:
    """One profile's figures as aligned text: daemon and baseline side by side."""
    runs = [r for r in (result.get("daemon"), result.get("baseline")) if r]
    rows = [["", *(str(r["client"]) for r in runs)]]
    rows.append(["files", *(str(r["files"]) for r in runs)])
    rows.append(["files/s end to end", *(f"{r['files_per_second']:.1f}" for r in runs)])
    rows.append(
        [
            "latency p50 / p99 (s)",
            *(
                f"{r['latency_seconds']['p50']:.2f} / {r['latency_seconds']['p99']:.2f}"
                for r in runs
            ),
        ]
    )
    rows.append(["client CPU ms per file", *(f"{r['cpu_ms_per_file']:.2f}" for r in runs)])
    daemon = result.get("daemon")
    if daemon:
        rows.append(
            ["daemon peak RSS (MB)", f"{daemon['rss_peak_mb']:.0f}", *[""] * (len(runs) - 1)]
        )
    endpoints = sorted({e for r in runs for e in r["requests_per_file"]} - {"total"})
    for endpoint in [*endpoints, "total"]:
        rows.append(
            [
                f"requests/file {endpoint}",
                *(f"{r['requests_per_file'].get(endpoint, 0):.3f}" for r in runs),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"== profile {result['profile']}: {result['description']}"]
    lines += [_row(row, widths) for row in rows]
    if result.get("ratio") is not None:
        lines.append(f"daemon/baseline throughput ratio: {result['ratio']:.1f}×")
    for check in result.get("targets", []):
        verdict = "met" if check["met"] else "NOT MET"
        lines.append(f"target {check['target']}: {check['measured']} ({verdict})")
    return "\n".join(lines)
