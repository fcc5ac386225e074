"""``python -m benchmarks.hotspots PROFILE``: where a py-spy raw profile spends its samples.

Prints the functions with the most samples, inclusive (on the stack) and
self (at the top), so that what dominates the daemon's CPU per file shows
at a glance. ``--match`` keeps only stacks through a function of that name;
``--by-area`` sums the samples by part of the daemon instead.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click


def read_stacks(path: Path) -> Counter[tuple[str, ...]]:
    """Collapsed stacks (``frame;frame;... count``) and their sample counts."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks[tuple(frames.split(";"))] += int(count)
    return stacks


# Where a sample belongs: the frame nearest the top of its stack whose file is
# one of these (first matching prefix wins), so that json under the HTTP
# client counts as the client, and json under render_json as rendering.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "HTTP client (aiohttp, tenacity, pydantic)",
        ("hrec_ingest/miaop/", "aiohttp/", "tenacity/", "pydantic", "yarl/", "multidict/"),
    ),
    ("rendering transcripts", ("hrec_ingest/formats/",)),
    ("journal (SQLite)", ("hrec_ingest/journal/",)),
    (
        "file writes, moves, names",
        (
            "hrec_ingest/fsops.py",
            "hrec_ingest/pipeline/outputs.py",
            "hrec_ingest/pipeline/layout.py",
            "hrec_ingest/pipeline/outcomes.py",
        ),
    ),
    ("intake (sniffing, SHA-256)", ("hrec_ingest/pipeline/intake.py", "hrec_ingest/audio.py")),
    ("logging", ("structlog/", "logging/", "hrec_ingest/logs.py")),
    ("watcher", ("hrec_ingest/pipeline/watcher.py", "watchfiles/")),
    ("events, manifest, webhooks", ("hrec_ingest/events/",)),
    ("other pipeline stages", ("hrec_ingest/pipeline/",)),
    ("thread hand-offs", ("asyncio/threads.py", "concurrent/futures/", "threading.py")),
)


def area_of(frames: tuple[str, ...]) -> str:
    """The part of the daemon a stack's sample belongs to (see AREAS)."""
    for frame in reversed(frames):
        where = frame.rpartition(" (")[2]
        for area, prefixes in AREAS:
            if where.startswith(prefixes):
                return area
    return "event loop and the rest"


def _short(frame: str) -> str:
    # "name (path/to/module.py:123)" -> "name (module.py)"; line numbers split one function apart.
    name, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0].rstrip(")")
    return f"{name} ({module})" if module else name


@click.command()
@click.argument("profile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--top", default=30, show_default=True, help="How many functions to list.")
@click.option("--match", default=None, help="Only stacks that pass through this function name.")
@click.option("--by-area", is_flag=True, help="Sum the samples by part of the daemon.")
def main(profile: Path, top: int, match: str | None, by_area: bool) -> None:
    """List the heaviest functions of a py-spy ``--format raw`` profile."""
    stacks = read_stacks(profile)
    if by_area:
        areas: Counter[str] = Counter()
        for frames, count in stacks.items():
            areas[area_of(frames)] += count
        total = sum(areas.values())
        for area, count in areas.most_common():
            click.echo(f"{100 * count / total:5.1f}%  {area}")
        return
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for frames, count in stacks.items():
        names = [_short(f) for f in frames]
        if match is not None and not any(match in n for n in names):
            continue
        total += count
        for name in set(names):
            inclusive[name] += count
        own[names[-1]] += count
    click.echo(f"{total} samples")
    click.echo("inclusive:")
    for name, count in inclusive.most_common(top):
        click.echo(f"  {100 * count / total:5.1f}%  {name}")
    click.echo("self:")
    for name, count in own.most_common(top):
        click.echo(f"  {100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
