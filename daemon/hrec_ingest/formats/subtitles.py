"""SubRip (.srt) and WebVTT (.vtt) transcripts, both built from :func:`split_cues`."""

from __future__ import annotations

from collections.abc import Sequence

from hrec_ingest.formats.cues import Cue, split_cues
from hrec_ingest.formats.plain import clock, speaker_label
from hrec_ingest.miaop.models import ParagraphDesc


def timestamp(ms: int, separator: str) -> str:
    """``HH:MM:SS<separator>mmm``; hours have two digits or more, as both formats allow."""
    ms = max(0, ms)
    return f"{clock(ms)}{separator}{ms % 1000:03d}"


def vtt_escape(text: str) -> str:
    """Escape what WebVTT cue text reserves: ``&``, ``<`` and ``>`` (so ``-->`` cannot occur)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_srt(paragraphs: Sequence[ParagraphDesc]) -> str:
    """Numbered cues from 1, ``HH:MM:SS,mmm`` times, the first line prefixed ``<speaker>: ``.

    >>> from hrec_ingest.miaop.models import ParagraphDesc
    >>> print(render_srt([ParagraphDesc(id="A", location=0, duration=900, text="hi")]), end="")
    1
    00:00:00,000 --> 00:00:00,900
    A: hi
    <BLANKLINE>
    """
    return srt_of_cues(split_cues(paragraphs))


def srt_of_cues(cues: Sequence[Cue]) -> str:
    """:func:`render_srt` from cues already split (shared with the .vtt)."""
    blocks = []
    for number, cue in enumerate(cues, start=1):
        first, *rest = cue.lines
        text = "\n".join([f"{speaker_label(cue.speaker)}: {first}", *rest])
        start, end = timestamp(cue.start_ms, ","), timestamp(cue.end_ms, ",")
        blocks.append(f"{number}\n{start} --> {end}\n{text}\n\n")
    return "".join(blocks)


def render_vtt(paragraphs: Sequence[ParagraphDesc]) -> str:
    """``WEBVTT`` then cues with ``HH:MM:SS.mmm`` times, the speaker as a ``<v speaker>`` tag.

    >>> from hrec_ingest.miaop.models import ParagraphDesc
    >>> print(render_vtt([ParagraphDesc(id="A&B", location=0, duration=900, text="<hi>")]), end="")
    WEBVTT
    <BLANKLINE>
    00:00:00.000 --> 00:00:00.900
    <v A&amp;B>&lt;hi&gt;
    <BLANKLINE>
    """
    return vtt_of_cues(split_cues(paragraphs))


def vtt_of_cues(cues: Sequence[Cue]) -> str:
    """:func:`render_vtt` from cues already split (shared with the .srt)."""
    blocks = ["WEBVTT\n\n"]
    for cue in cues:
        first, *rest = (vtt_escape(line) for line in cue.lines)
        # The voice span is left open: WebVTT closes it at the end of the cue text.
        text = "\n".join([f"<v {vtt_escape(speaker_label(cue.speaker))}>{first}", *rest])
        start, end = timestamp(cue.start_ms, "."), timestamp(cue.end_ms, ".")
        blocks.append(f"{start} --> {end}\n{text}\n\n")
    return "".join(blocks)
