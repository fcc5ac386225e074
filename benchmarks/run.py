"""``python -m benchmarks.run``: the daemon against the simulator, and the baseline, per profile.

Example (the quick size, a minute or two)::

    .venv/bin/python -m benchmarks.run --files 1000

and the full size of the targets::

    .venv/bin/python -m benchmarks.run --profile zero --files 5000
    .venv/bin/python -m benchmarks.run --profile realistic --files 5000
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from benchmarks.baseline_run import run_baseline
from benchmarks.daemon_run import run_daemon
from benchmarks.processes import DAEMON_SOURCE
from benchmarks.profiles import PROFILES
from benchmarks.report import machine, table, targets
from benchmarks.workload import generate

RESULTS = Path(__file__).resolve().parent / "results"


def run_profile(
    name: str,
    files: int,
    baseline_files: int,
    rate: float,
    audio_seconds: float,
    root: Path,
    spy: Path | None = None,
    source: Path = DAEMON_SOURCE,
) -> dict[str, Any]:
    """Daemon run and baseline run of one profile, each on freshly generated files."""
    profile = PROFILES[name]
    batch_files = int(profile.daemon_settings()["BATCH_MAX_FILES"])
    result: dict[str, Any] = {"profile": name, "description": profile.description}
    workload = generate(root / name / "daemon-staging", files, audio_seconds, tag="d")
    result["daemon"] = run_daemon(
        profile,
        workload,
        root / name / "daemon",
        rate,
        spy.with_suffix(f".{name}.txt") if spy else None,
        source,
    )
    if baseline_files:
        count = min(files, baseline_files)
        workload = generate(root / name / "baseline-staging", count, audio_seconds, tag="b")
        result["baseline"] = run_baseline(
            profile, workload, root / name / "baseline", count, batch_files
        )
        result["ratio"] = round(
            result["daemon"]["files_per_second"] / result["baseline"]["files_per_second"], 2
        )
    result["targets"] = targets(name, result["daemon"], result.get("baseline"))
    return result


@click.command()
@click.option(
    "--profile",
    "profiles",
    type=click.Choice([*PROFILES, "all"]),
    default="all",
    show_default=True,
    help="Server profile to run.",
)
@click.option(
    "--files",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Files dropped into the daemon's inbox.",
)
@click.option(
    "--baseline-files",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Files through the baseline client (its rate is steady: a sample is enough); 0: none.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Drop this many files per second; 0 drops all at once.",
)
@click.option(
    "--audio-seconds",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Length of each generated WAV (8 kHz mono).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON results file (default: benchmarks/results/<time>.json).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the folders go (default: a temporary folder, removed afterwards).",
)
@click.option(
    "--py-spy",
    "spy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Record the daemon with py-spy into SPY.<profile>.txt (CPU figures then include "
    "py-spy's own cost).",
)
@click.option(
    "--daemon-src",
    "source",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=DAEMON_SOURCE,
    show_default=True,
    help="Folder holding the hrec_ingest package to run as the daemon (compare two versions, "
    "e.g. one from `git archive REV daemon`).",
)
def main(
    profiles: str,
    files: int,
    baseline_files: int,
    rate: float,
    audio_seconds: float,
    out: Path | None,
    workdir: Path | None,
    spy: Path | None,
    source: Path,
) -> None:
    """Measure the daemon (separate process) against the simulator (separate process)."""
    names = list(PROFILES) if profiles == "all" else [profiles]
    root = workdir or Path(tempfile.mkdtemp(prefix="hrec-bench-"))
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "daemon_source": str(source),
        "arguments": {
            "files": files,
            "baseline_files": baseline_files,
            "rate": rate,
            "audio_seconds": audio_seconds,
        },
        "profiles": [],
    }
    started = time.monotonic()
    try:
        for name in names:
            result = run_profile(
                name, files, baseline_files, rate, audio_seconds, root, spy, source
            )
            report["profiles"].append(result)
            click.echo(table(result) + "\n")
    finally:
        if workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    report["seconds"] = round(time.monotonic() - started, 1)
    report["load_average_after"] = machine()["load_average"]
    path = out or RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{profiles}-{files}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    click.echo(f"machine: {report['machine']}")
    click.echo(f"results: {path}")


if __name__ == "__main__":
    main()
