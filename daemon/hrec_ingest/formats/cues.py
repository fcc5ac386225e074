"""Subtitle cues: paragraphs cut into short, timed pieces of at most a few lines.

:func:`split_cues` is the pure core shared by the SRT and WebVTT renderers;
the rules it follows are listed in the package docstring.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from hrec_ingest.formats.timing import TimedParagraph, Token, display_len, time_paragraphs
from hrec_ingest.miaop.models import ParagraphDesc

# A cue shorter than this (a one-word cue with a very short word) is lengthened into the
# silence after it, if there is any, so that it can be read at all.
MIN_SHOWN_MS = 500
# Hard floor: a cue always ends after it starts.
MIN_CUE_MS = 1


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle: times in milliseconds, the speaker as the server named it, the text lines.

    ``paragraph`` is the index of the paragraph the cue comes from.
    """

    start_ms: int
    end_ms: int
    speaker: str | None
    lines: tuple[str, ...]
    paragraph: int


def split_cues(
    paragraphs: Sequence[ParagraphDesc],
    max_seconds: float = 7.0,
    max_chars: int = 42,
    max_lines: int = 2,
) -> list[Cue]:
    """Cut paragraphs into cues: in time order, never overlapping, each ending after it starts.

    A cue holds the words of one paragraph only, lasts at most ``max_seconds``
    and holds at most ``max_lines`` lines of at most ``max_chars`` characters,
    except that a single word is never cut (a longer word stands on its own
    line, a longer-lasting word in its own cue). Paragraphs with no text give
    no cue.

    >>> from hrec_ingest.miaop.models import ParagraphDesc
    >>> [c.lines for c in split_cues([ParagraphDesc(location=0, duration=900, text="hi there")])]
    [('hi there',)]
    """
    return cues_of_timed(list(time_paragraphs(paragraphs)), max_seconds, max_chars, max_lines)


def cues_of_timed(
    timed_paragraphs: Iterable[TimedParagraph],
    max_seconds: float = 7.0,
    max_chars: int = 42,
    max_lines: int = 2,
) -> list[Cue]:
    """:func:`split_cues` from paragraphs already timed (so the .txt can share the timing)."""
    if not (math.isfinite(max_seconds) and max_seconds > 0):
        raise ValueError(f"max_seconds must be a positive number, not {max_seconds!r}")
    if max_chars < 1 or max_lines < 1:
        raise ValueError("max_chars and max_lines must be at least 1")
    max_ms = max(MIN_CUE_MS, round(max_seconds * 1000))
    cues = [
        cue
        for timed in timed_paragraphs
        for cue in _paragraph_cues(timed, max_ms, max_chars, max_lines)
    ]
    # Stable: cues starting together keep the paragraphs' order.
    cues.sort(key=lambda c: c.start_ms)
    return _lengthen_short(_resolve_overlaps(cues), min(MIN_SHOWN_MS, max_ms))


class _CueBuilder:
    """The cue being filled: its words, its lines and their widths, its latest end."""

    def __init__(self, timed: TimedParagraph) -> None:
        self.timed = timed
        self.words: list[Token] = []
        self.lines: list[str] = []
        self.widths: list[int] = []
        self.end_ms = 0

    def joins_last_line(self, width: int, max_chars: int) -> bool:
        return bool(self.widths) and self.widths[-1] + 1 + width <= max_chars

    def overflows(self, token: Token, width: int, limits: tuple[int, int, int]) -> bool:
        """Whether adding ``token`` would break a limit (never for the first word)."""
        max_ms, max_chars, max_lines = limits
        if not self.words:
            return False
        if not self.joins_last_line(width, max_chars) and len(self.lines) >= max_lines:
            return True
        return max(self.end_ms, token.end_ms) - self.words[0].start_ms > max_ms

    def add(self, token: Token, width: int, max_chars: int) -> None:
        if self.joins_last_line(width, max_chars):
            self.lines[-1] = f"{self.lines[-1]} {token.text}"
            self.widths[-1] += 1 + width
        else:
            self.lines.append(token.text)
            self.widths.append(width)
        self.words.append(token)
        self.end_ms = max(self.end_ms, token.end_ms)

    def cue(self) -> Cue:
        start = self.words[0].start_ms
        end = max(self.end_ms, start + MIN_CUE_MS)
        return Cue(start, end, self.timed.speaker, tuple(self.lines), self.timed.index)


def _paragraph_cues(
    timed: TimedParagraph, max_ms: int, max_chars: int, max_lines: int
) -> Iterable[Cue]:
    """Fill a cue word by word; close it when the next word would break a limit."""
    limits = (max_ms, max_chars, max_lines)
    building = _CueBuilder(timed)
    for token in timed.tokens:
        width = display_len(token.text)
        if building.overflows(token, width, limits):
            yield building.cue()
            building = _CueBuilder(timed)
        building.add(token, width, max_chars)
    if building.words:
        yield building.cue()


def _resolve_overlaps(cues: list[Cue]) -> list[Cue]:
    """Make sorted cues disjoint: the earlier one ends where the later one starts.

    When that would leave the earlier cue too short to read, it keeps
    ``MIN_SHOWN_MS`` (or its own length, if shorter) and the later cue moves
    back by the difference, keeping its length. Starts stay strictly increasing.
    """
    out: list[Cue] = []
    for cue in cues:
        if out and cue.start_ms < out[-1].end_ms:
            previous = out[-1]
            keep = min(MIN_SHOWN_MS, previous.end_ms - previous.start_ms)
            cut = max(cue.start_ms, previous.start_ms + keep)
            out[-1] = replace(previous, end_ms=cut)
            if cue.start_ms < cut:
                cue = replace(cue, start_ms=cut, end_ms=cut + (cue.end_ms - cue.start_ms))
        out.append(cue)
    return out


def _lengthen_short(cues: list[Cue], min_shown: int) -> list[Cue]:
    """Stretch cues shorter than ``min_shown`` into the silence that follows them."""
    out = list(cues)
    for i, cue in enumerate(out):
        if cue.end_ms - cue.start_ms >= min_shown:
            continue
        limit = out[i + 1].start_ms if i + 1 < len(out) else cue.start_ms + min_shown
        out[i] = replace(cue, end_ms=max(cue.end_ms, min(cue.start_ms + min_shown, limit)))
    return out
