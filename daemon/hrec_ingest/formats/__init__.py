"""Transcript files from a meeting's paragraphs: json, txt, srt, vtt (interface.md section 5).

Everything here is pure: paragraphs (or the JSON document) in, text out; the
exporter writes the result with :func:`hrec_ingest.fsops.atomic_write`.

Times. ``location`` and ``duration`` of paragraphs and words are
milliseconds. A time is usable when it is a finite number; a negative one is
read as 0 (and absurdly large ones are capped), nothing is dropped.

- A paragraph starts at its ``location``; without one, at its first timed
  word; without any, where the latest paragraph so far ended (the first one
  at 0). It ends ``duration`` later (or at its last word, if later); without
  a duration, at its last timed word plus reading time for the words after
  it; with no time at all it lasts a nominal reading time: 60 ms per
  character, at least 1 s.
- Word times are absolute, like the paragraph's. Only when they cannot be
  (they start more than 250 ms before their paragraph) and they fit inside
  the paragraph's duration as offsets are they read as relative to it.
- The displayed words are the paragraph's ``text`` split at whitespace,
  exactly as the server wrote them (right-to-left text included: no marks
  added, nothing reordered); when ``text`` is empty, the ``words``. Text
  tokens take the times of ``words`` one to one when the counts agree, else
  by matching letters and digits (a few words ahead at most). Tokens left
  without a time share the time between their timed neighbours (or the
  paragraph's bounds) in proportion to their characters; a token without
  letters or digits (a lone dash) takes no time, where it stands.

Cues (.srt, .vtt), built by :func:`split_cues`:

- Words of one paragraph fill a cue in order until the next word would make
  it last more than 7 s or need more than two lines of 42 characters
  (combining marks do not count). A word is never cut: one longer than 42
  characters has a line of its own, one lasting longer than 7 s a cue of its
  own. A paragraph without text gives no cue (the .txt still has its line).
- Cues are sorted by start (ties keep the paragraphs' order). Where a cue
  overlaps the next, it ends when the next starts; if that would leave it
  shorter than 500 ms (or its own length, if shorter), it keeps that much and
  the next cue moves later by the difference, keeping its length. A cue
  shorter than 500 ms then stretches into the silence after it, up to 500 ms.
  So cues never overlap and every cue ends at least 1 ms after it starts.
- The speaker prefixes the first line of each cue: ``<speaker>: `` in SRT, a
  ``<v speaker>`` voice tag in VTT (``&``, ``<``, ``>`` escaped in VTT).
  With no speaker id, ``Speaker`` is written. The 42 characters count the
  spoken text only, not this label.

Files. The .txt has one line per paragraph, ``[HH:MM:SS] <speaker>: <text>``,
its time the paragraph's start by the rules above, line breaks inside the
text turned into spaces. All files are UTF-8 without BOM, lines end in
``\\n``; hours have two digits or more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from hrec_ingest.formats.cues import Cue, cues_of_timed, split_cues
from hrec_ingest.formats.jsondoc import render_json
from hrec_ingest.formats.plain import UNKNOWN_SPEAKER, render_txt, txt_of_timed
from hrec_ingest.formats.subtitles import render_srt, render_vtt, srt_of_cues, vtt_of_cues
from hrec_ingest.formats.timing import TimedParagraph, time_paragraphs
from hrec_ingest.miaop.models import ParagraphDesc

__all__ = [
    "FORMATS",
    "RENDERERS",
    "UNKNOWN_SPEAKER",
    "Cue",
    "ParagraphRenderer",
    "render",
    "render_all",
    "render_json",
    "render_srt",
    "render_txt",
    "render_vtt",
    "split_cues",
]

ParagraphRenderer = Callable[[Sequence[ParagraphDesc]], str]

#: The renderers that work from paragraphs alone. "json" needs the whole document.
RENDERERS: Mapping[str, ParagraphRenderer] = MappingProxyType(
    {"txt": render_txt, "srt": render_srt, "vtt": render_vtt}
)

#: Every format name EXPORT_FORMATS may hold, in the order they are best written.
FORMATS: tuple[str, ...] = ("json", "txt", "srt", "vtt")


def render(fmt: str, *, paragraphs: Sequence[ParagraphDesc], document: Mapping[str, Any]) -> bytes:
    """The bytes of one transcript file: ``render_json(document)`` or a paragraph renderer's text.

    Text that UTF-8 cannot hold (lone surrogates) is written as ``?``.
    Raises KeyError for a format name not in :data:`FORMATS`.
    """
    if fmt == "json":
        return render_json(document)
    return RENDERERS[fmt](paragraphs).encode("utf-8", errors="replace")


def render_all(
    formats: Iterable[str], *, paragraphs: Sequence[ParagraphDesc], document: Mapping[str, Any]
) -> Iterator[tuple[str, bytes]]:
    """``(fmt, render(fmt, ...))`` for each of ``formats``, one at a time, in order.

    The timing and the cues are worked out once for the .txt, .srt and .vtt
    together: they were a fifth of the daemon's rendering time, done three
    times over. Raises KeyError for a format name not in :data:`FORMATS`.
    """
    timed: list[TimedParagraph] | None = None
    cues: list[Cue] | None = None
    for fmt in formats:
        if fmt == "json":
            yield fmt, render_json(document)
            continue
        if fmt not in RENDERERS:
            raise KeyError(fmt)
        if timed is None:
            timed = list(time_paragraphs(paragraphs))
        if fmt == "txt":
            text = txt_of_timed(paragraphs, timed)
        else:
            if cues is None:
                cues = cues_of_timed(timed)
            text = srt_of_cues(cues) if fmt == "srt" else vtt_of_cues(cues)
        yield fmt, text.encode("utf-8", errors="replace")
