"""The task list as a table or as JSON: pure functions of what the server returned."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from hrec_ingest.miaop.models import FINAL_STATUSES, TaskMetadataResponse

HEADER = ("TASK ID", "NAME", "STATUS", "CREATED", "UPDATED", "FILES", "REMAINING")
NAME_WIDTH = 40
_GAP = "  "


@dataclass(frozen=True, slots=True)
class ListedTask:
    """A task as listed, with the configured tenant whose account listed it.

    The TENANT column shows the task's own ``tenant`` field and falls back to
    the listing tenant: a system-level (master) account lists other tenants' tasks.
    """

    tenant: str
    task: TaskMetadataResponse


def updated_epoch(task: TaskMetadataResponse) -> float | None:
    """When the task last changed, in epoch seconds: the filter's own number, else its text."""
    extra = _extra(task).get("extraData")
    numeric = extra.get("taskUpdateTimeNumeric") if isinstance(extra, dict) else None
    if isinstance(numeric, int | float) and not isinstance(numeric, bool):
        return float(numeric)
    parsed = _iso(_extra(task).get("taskUpdateTime"))
    return parsed.timestamp() if parsed is not None else None


def task_cells(task: TaskMetadataResponse, zone: tzinfo | None) -> list[str]:
    """The table cells of one task; times in ``zone`` (None: this machine's local zone).

    A creation time that is not ISO 8601 (the guide's own example writes
    ``15.07.2025 10:30``) is shown as the server sent it.
    """
    created_text = _extra(task).get("taskCreationTime")
    created = _iso(created_text)
    updated = updated_epoch(task)
    return [
        task.taskId,
        _shorten(task.taskName or "", NAME_WIDTH),
        task.taskStatus,
        _local(created, zone) if created is not None else str(created_text or "-"),
        _local(datetime.fromtimestamp(updated, UTC), zone) if updated is not None else "-",
        str(len(task.meetings)),
        _remaining(task),
    ]


def render_table(
    listed: Sequence[ListedTask], *, show_tenant: bool, zone: tzinfo | None = None
) -> list[str]:
    """Aligned lines: a header, then one task per line, least recently updated first."""
    ordered = sorted(listed, key=lambda item: updated_epoch(item.task) or 0.0)
    header = [*HEADER, "TENANT"] if show_tenant else list(HEADER)
    rows = [header]
    for item in ordered:
        cells = task_cells(item.task, zone)
        rows.append([*cells, item.task.tenant or item.tenant] if show_tenant else cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    numeric = {HEADER.index("FILES"), HEADER.index("REMAINING")}
    return [
        _GAP.join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]


def render_json(listed: Sequence[ListedTask], *, ascii_only: bool = False) -> str:
    """The tasks as the server sent them, one JSON array (in the server's order, tenant by tenant).

    ``ascii_only`` escapes every non-ASCII character, for an output that
    cannot encode them; the JSON means the same either way.
    """
    documents = [item.task.model_dump(mode="json", exclude_unset=True) for item in listed]
    return json.dumps(documents, indent=2, ensure_ascii=ascii_only)


def _extra(task: TaskMetadataResponse) -> dict[str, Any]:
    return task.model_extra or {}


def _iso(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    # A server time without a zone is GMT, as the guide's epoch times are.
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


def _local(moment: datetime, zone: tzinfo | None) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _remaining(task: TaskMetadataResponse) -> str:
    if task.taskStatus in FINAL_STATUSES or task.sttRemainingTime is None:
        return "-"
    return f"{math.ceil(task.sttRemainingTime)}s"


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())  # a newline in a name would break the table
    return text if len(text) <= width else text[: width - 3] + "..."
