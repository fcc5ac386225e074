"""The .json transcript: the document of interface.md section 5, serialised.

The caller builds the document (source, task, meeting, the server's raw
paragraphs, exportedAt); this module only turns it into bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import orjson


def render_json(document: Mapping[str, Any]) -> bytes:
    """UTF-8 JSON, non-ASCII kept as is, indented by 2, ending in a newline, no BOM.

    JSON has no NaN or Infinity: such numbers (which Python's own parser lets
    through from a server) are written as ``null`` so that the file stays
    valid JSON. Text that UTF-8 cannot hold (a lone surrogate from a ``\\ud800``
    escape) falls back to ASCII escapes for the whole file, which keeps it exact.

    >>> render_json({"text": "שלום"}).decode()
    '{\\n  "text": "שלום"\\n}\\n'
    """
    try:
        # The json module's layout below, fifty times faster (a float with an exponent
        # loses its leading zero: 1e-7, not 1e-07). It writes NaN and infinities as null by
        # itself, and refuses what the fallback handles: text that UTF-8 cannot hold,
        # integers beyond 64 bits, nesting deeper than 254.
        return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        pass
    try:
        text = json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False)
    except ValueError:
        # Out-of-range floats; a circular document raises again below, as it should.
        text = json.dumps(_finite(document), ensure_ascii=False, indent=2, allow_nan=False)
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(json.loads(text), indent=2) + "\n").encode("ascii")


def _finite(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with NaN and infinities replaced by None."""
    if depth > 500:
        raise ValueError("document is nested too deeply (or circular)")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v, depth + 1) for v in value]
    return value
