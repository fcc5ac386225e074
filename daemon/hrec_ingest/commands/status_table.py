"""The human form of ``hrec-ingest status``: a few aligned tables, no colour, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from hrec_ingest.commands.status_report import StatusReport, TaskLine, iso
from hrec_ingest.journal import FileState

# Ten thousand tasks in flight is normal for a large site; the terminal gets the
# oldest few, and --json has them all.
TASKS_SHOWN = 20


def render_table(report: StatusReport) -> str:
    """The report as text for a terminal, one section per question an operator asks."""
    lines = [f"Journal: {report.journal_path}  (read {iso(report.generated_at)})"]
    if not report.journal_found:
        lines.append(
            "No journal yet: the daemon has not run with this STATE_DIR, so there is nothing "
            "to report."
        )
    else:
        lines += ["", *_files_section(report), "", *_tasks_section(report)]
        lines += ["", _waiting_line(report), "", *_failures_section(report)]
    if report.unknown_tenant_folders:
        names = ", ".join(report.unknown_tenant_folders)
        lines += [
            "",
            f"Inbox folders no tenant owns (left untouched): {names}",
            "  Add them to TENANTS_FILE, or move their files into a tenant's folder.",
        ]
    return "\n".join(lines) + "\n"


def duration(seconds: float) -> str:
    """A short human duration: ``45s``, ``3m05s``, ``2h03m``, ``4d07h``."""
    whole = int(max(0.0, seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Rows aligned under their headers; columns after the first are right-aligned if numeric."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    numeric = [all(r[i].isdigit() for r in rows) and i > 0 for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return (indent + "  ".join(parts)).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def _files_section(report: StatusReport) -> list[str]:
    totals: dict[str, int] = {}
    for states in report.counts.values():
        for state, number in states.items():
            totals[state] = totals.get(state, 0) + number
    # Only the states that hold anything, in life-cycle order: nine mostly-zero
    # columns would hide the two that matter.
    shown = [state for state, number in totals.items() if number]
    if not shown:
        return ["Files: none yet"]
    rows = [
        [tenant, *(str(states.get(s, 0)) for s in shown)]
        for tenant, states in report.counts.items()
    ]
    if len(report.counts) > 1:
        rows.append(["total", *(str(totals[s]) for s in shown)])
    return ["Files by state:", *table(["TENANT", *(s.upper() for s in shown)], rows)]


def _tasks_section(report: StatusReport) -> list[str]:
    tasks = report.tasks
    if not tasks:
        return ["Tasks in flight: none"]
    lines = [f"Tasks in flight: {len(tasks)}"]
    rows = [_task_row(t, report.generated_at) for t in tasks[:TASKS_SHOWN]]
    headers = ["TASK", "TENANT", "STATE", "SERVER", "REMAINING", "NEXT POLL", "AGE", "FILES"]
    lines += table(headers, rows)
    if len(tasks) > TASKS_SHOWN:
        lines.append(f"  ... and {len(tasks) - TASKS_SHOWN} more (--json lists them all)")
    return lines


def _task_row(task: TaskLine, now: float) -> list[str]:
    if task.next_poll_at is None:
        next_poll = "-"
    elif task.next_poll_at <= now:
        next_poll = f"due {duration(now - task.next_poll_at)} ago"
    else:
        next_poll = f"in {duration(task.next_poll_at - now)}"
    remaining = "-" if task.remaining_seconds is None else duration(task.remaining_seconds)
    return [
        task.task_id,
        task.tenant,
        task.state,
        task.server_status or "-",
        remaining,
        next_poll,
        duration(now - task.created_at),
        str(task.files),
    ]


def _waiting_line(report: StatusReport) -> str:
    waiting = report.oldest_waiting
    if waiting is None:
        return "Oldest waiting file: none (nothing in the pipeline)"
    task = f", task {waiting.task_id}" if waiting.task_id else ""
    age = duration(report.generated_at - waiting.taken_at)
    where = f"{waiting.tenant}/{waiting.path}"
    return f"Oldest waiting file: {where} ({waiting.state}{task}), waiting {age}"


def _failures_section(report: StatusReport) -> list[str]:
    if not report.failures:
        return ["Recent failures: none"]
    lines = ["Recent failures (newest first):"]
    for f in report.failures:
        # One line per failure: a server message may hold line breaks of its own.
        message = " ".join((f.error_message or "no message").split())
        what = f"{f.error_name or 'error'}: {message}"
        stage = f"stage {f.stage}" if f.stage else "stage unknown"
        pending = "  (being moved to FAILED_DIR now)" if f.state == FileState.FAILING else ""
        lines.append(f"  {f.tenant}/{f.path}  [{stage}]  {what}{pending}")
        if f.failed_path is not None:
            lines.append(f"      audio: {f.failed_path}")
            lines.append(f"      reason: {f.error_file}")
    lines.append("  Put them back in the inbox with: hrec-ingest retry PATH... (or --all)")
    return lines
