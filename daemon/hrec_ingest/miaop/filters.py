"""The task list's filter (guide 2.4.1), built as pure data."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

# What JavaScript's encodeURIComponent leaves alone (the guide's reference code uses it).
_URI_COMPONENT_SAFE = "-_.!~*'()"


@dataclass(frozen=True, slots=True)
class TaskListFilter:
    """Which tasks ``GET /api/tasks`` returns; every field is optional.

    Times must be timezone-aware: the server compares GMT epoch seconds, and a
    naive time would silently mean the machine's local zone.
    """

    updated_since: datetime | None = None
    updated_before: datetime | None = None
    include_archived: bool = False
    tenant: str | None = None
    supervisor_email: str | None = None
    supervisor_name: str | None = None

    def __post_init__(self) -> None:
        for name in ("updated_since", "updated_before"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")


def filter_document(spec: TaskListFilter) -> dict[str, Any]:
    """The guide's ``{"$and": [...]}`` object for ``spec``, times as epoch seconds.

    Clauses come in the guide's order. The lower bound is rounded down and the
    upper bound up, so that a fractional second never drops a task. With no
    clause at all the filter is ``{}``: an empty ``$and`` is an error in
    MongoDB-style query languages.

    Example:
        >>> filter_document(TaskListFilter(tenant="demo"))
        {'$and': [{'extraData.archive': {'$ne': True}}, {'extraData.tenant': 'demo'}]}
    """
    clauses: list[dict[str, Any]] = []
    window: dict[str, int] = {}
    if spec.updated_since is not None:
        window["$gte"] = math.floor(spec.updated_since.timestamp())
    if spec.updated_before is not None:
        window["$lt"] = math.ceil(spec.updated_before.timestamp())
    if window:
        clauses.append({"extraData.taskUpdateTimeNumeric": window})
    if not spec.include_archived:
        clauses.append({"extraData.archive": {"$ne": True}})
    if spec.tenant is not None:
        clauses.append({"extraData.tenant": spec.tenant})
    if spec.supervisor_email is not None:
        clauses.append({"extraData.supervisor.email": spec.supervisor_email})
    if spec.supervisor_name is not None:
        clauses.append({"extraData.supervisor.name": spec.supervisor_name})
    return {"$and": clauses} if clauses else {}


def filter_query(spec: TaskListFilter) -> str:
    """The ``filter=...`` query for ``spec``: compact JSON, encoded like encodeURIComponent."""
    text = json.dumps(filter_document(spec), separators=(",", ":"), ensure_ascii=False)
    return "filter=" + quote(text, safe=_URI_COMPONENT_SAFE)
