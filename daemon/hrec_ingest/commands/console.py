"""Text for a terminal or pipe that may not speak UTF-8: check marks with a plain fallback."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True, slots=True)
class Marks:
    """The two marks of a check line."""

    ok: str
    fail: str


UNICODE_MARKS = Marks("✔", "✘")
PLAIN_MARKS = Marks("OK  ", "FAIL")


def encoding_of(stream: TextIO) -> str:
    """The encoding ``stream`` writes with (UTF-8 when it does not say)."""
    name = getattr(stream, "encoding", None)
    return name if isinstance(name, str) and name else "utf-8"


def marks_for(encoding: str) -> Marks:
    """✔ and ✘ when ``encoding`` can write them, OK and FAIL otherwise (or if it is unknown)."""
    try:
        (UNICODE_MARKS.ok + UNICODE_MARKS.fail).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return PLAIN_MARKS
    return UNICODE_MARKS


def printable(text: str, encoding: str) -> str:
    """``text`` with every character ``encoding`` cannot write replaced by ``?``.

    A Hebrew task name on an ASCII terminal then prints as question marks
    instead of stopping the command with UnicodeEncodeError.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "ascii"
    return text.encode(encoding, errors="replace").decode(encoding, errors="replace")
