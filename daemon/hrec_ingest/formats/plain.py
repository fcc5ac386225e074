"""The .txt transcript: one line per paragraph, ``[HH:MM:SS] <speaker>: <text>``."""

from __future__ import annotations

import re
from collections.abc import Sequence

from hrec_ingest.formats.timing import TimedParagraph, time_paragraphs
from hrec_ingest.miaop.models import ParagraphDesc

# Shown when the server names no speaker, so that every line keeps the same shape.
UNKNOWN_SPEAKER = "Speaker"

# Everything Python's str.splitlines() breaks on: one paragraph must stay one line.
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with line breaks turned into spaces and outer whitespace removed."""
    return _LINE_BREAKS.sub(" ", text).strip()


def speaker_label(speaker: str | None) -> str:
    """The speaker id as the server sent it (on one line), or ``UNKNOWN_SPEAKER``."""
    label = one_line(speaker or "")
    return label or UNKNOWN_SPEAKER


def clock(ms: int) -> str:
    """``HH:MM:SS`` (hours keep growing past 99), from whole milliseconds, rounded down."""
    seconds = max(0, ms) // 1000
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def render_txt(paragraphs: Sequence[ParagraphDesc]) -> str:
    """One line per paragraph, in the server's order; empty text gives an empty line body.

    The time is the paragraph's start as the cue rules establish it, so the
    .txt, .srt and .vtt of a transcript agree.

    >>> from hrec_ingest.miaop.models import ParagraphDesc
    >>> render_txt([ParagraphDesc(id="A", location=61_500, duration=900, text="hi")])
    '[00:01:01] A: hi\\n'
    """
    return txt_of_timed(paragraphs, list(time_paragraphs(paragraphs)))


def txt_of_timed(paragraphs: Sequence[ParagraphDesc], timed: Sequence[TimedParagraph]) -> str:
    """:func:`render_txt` from the paragraphs and their timing (shared with the cues)."""
    lines = []
    for paragraph, timing in zip(paragraphs, timed, strict=True):
        text = one_line(paragraph.text) or " ".join(t.text for t in timing.tokens)
        lines.append(f"[{clock(timing.start_ms)}] {speaker_label(paragraph.speaker)}: {text}\n")
    return "".join(lines)
