"""Paragraph and word times made usable: every word gets a start and an end in whole milliseconds.

The rules are listed in the package docstring (:mod:`hrec_ingest.formats`);
this module implements them and nothing else. It is pure: paragraphs in,
:class:`TimedParagraph` out.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from hrec_ingest.miaop.models import ParagraphDesc, Word

# Times beyond ~317 years are garbage; clamping keeps the arithmetic finite and exact enough.
MAX_TIME_MS = 10**13
# A paragraph with no usable duration is shown for as long as it takes to read it:
# 60 ms a character is about 17 characters a second, a usual subtitle reading speed.
NOMINAL_MS_PER_CHAR = 60.0
NOMINAL_MIN_MS = 1000.0
# Word times read as absolute that start this far before their paragraph, while they fit
# inside it read as relative, are taken as relative to the paragraph.
RELATIVE_TOLERANCE_MS = 250.0
# How far ahead the text-to-words matcher looks for a token's word.
MATCH_LOOKAHEAD = 8

Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Token:
    """One whitespace-separated piece of a paragraph's text, with its time in milliseconds."""

    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class TimedParagraph:
    """A paragraph with usable times: ``start_ms`` for its line in the .txt, tokens for cues."""

    index: int
    speaker: str | None
    start_ms: int
    end_ms: int
    tokens: tuple[Token, ...]


def display_len(text: str) -> int:
    """Characters as a reader counts them: combining marks (Hebrew points, accents) add nothing."""
    return sum(1 for ch in text if not unicodedata.combining(ch))


def usable_ms(value: float | None) -> float | None:
    """A time the server sent, or None when it is missing or not a number; negatives become 0."""
    if value is None or not math.isfinite(value):
        return None
    return min(max(float(value), 0.0), float(MAX_TIME_MS))


def nominal_ms(chars: int) -> float:
    """How long text of ``chars`` characters stays on screen when nothing says how long it took."""
    return max(NOMINAL_MIN_MS, chars * NOMINAL_MS_PER_CHAR) if chars > 0 else 0.0


def time_paragraphs(paragraphs: Sequence[ParagraphDesc]) -> Iterator[TimedParagraph]:
    """Yield one :class:`TimedParagraph` per paragraph, in the order given.

    A paragraph without any usable time starts where the latest one so far
    ended (the cursor), so the cursor is carried from paragraph to paragraph.
    """
    cursor = 0.0
    for index, paragraph in enumerate(paragraphs):
        timed = _time_paragraph(index, paragraph, cursor)
        cursor = max(cursor, float(timed.end_ms), *(float(t.end_ms) for t in timed.tokens))
        yield timed


def _time_paragraph(index: int, paragraph: ParagraphDesc, cursor: float) -> TimedParagraph:
    location = usable_ms(paragraph.location)
    duration = usable_ms(paragraph.duration)
    words = paragraph.words
    word_spans = _word_spans(words, location, duration)
    texts = paragraph.text.split() or [piece for w in words for piece in w.word.split()]
    spans = _align(texts, words, word_spans)
    known = [s for s in spans if s is not None]

    if location is not None:
        start = location
    elif known:
        start = min(s[0] for s in known)
    else:
        start = cursor
    end = _paragraph_end(start, duration, texts, spans)
    filled = _fill(texts, spans, start, end)
    tokens = _to_tokens(texts, filled)
    return TimedParagraph(
        index=index,
        speaker=paragraph.speaker,
        start_ms=round(start),
        end_ms=max(round(end), round(start)),
        tokens=tokens,
    )


def _paragraph_end(
    start: float, duration: float | None, texts: list[str], spans: list[Span | None]
) -> float:
    """The paragraph's end: by its duration, else its last timed word plus reading time."""
    known_ends = [s[1] for s in spans if s is not None]
    if duration is not None:
        return min(max(start + duration, *known_ends, start), float(MAX_TIME_MS))
    last_timed = max((i for i, s in enumerate(spans) if s is not None), default=-1)
    untimed_chars = sum(display_len(t) for t in texts[last_timed + 1 :])
    base = max([start, *known_ends])
    return min(base + nominal_ms(untimed_chars), float(MAX_TIME_MS))


def _word_span(word: Word) -> Span | None:
    location = usable_ms(word.location)
    duration = usable_ms(word.duration)
    if location is None or duration is None:
        return None
    return location, min(location + duration, float(MAX_TIME_MS))


def _word_spans(
    words: Sequence[Word], location: float | None, duration: float | None
) -> list[Span | None]:
    """Each word's span, absolute (the usual case) or made so when given relative to the paragraph.

    The guide does not say which; its only example cannot tell them apart.
    Words are read as relative only when reading them as absolute is
    impossible: they start before the paragraph and fit inside its duration.
    """
    spans = [_word_span(w) for w in words]
    known = [s for s in spans if s is not None]
    if location is None or location <= RELATIVE_TOLERANCE_MS or not known:
        return spans
    first = min(s[0] for s in known)
    last = max(s[1] for s in known)
    limit = duration if duration is not None else math.inf
    if first >= location - RELATIVE_TOLERANCE_MS or last > limit + RELATIVE_TOLERANCE_MS:
        return spans
    top = float(MAX_TIME_MS)
    return [
        None if s is None else (min(s[0] + location, top), min(s[1] + location, top)) for s in spans
    ]


def _key(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _align(texts: list[str], words: Sequence[Word], spans: list[Span | None]) -> list[Span | None]:
    """The span of each text token: pair them with words one to one, or match by letters.

    When the counts agree, token i is word i (punctuation that only the text
    carries does not matter). Otherwise each token takes the next word, a few
    ahead at most, with the same letters and digits; tokens with no match stay
    untimed and are interpolated later.
    """
    if len(texts) == len(words):
        return spans
    keys = [_key(w.word) for w in words]
    aligned: list[Span | None] = []
    next_word = 0
    for text in texts:
        key = _key(text)
        found = None
        if key:
            window = range(next_word, min(next_word + MATCH_LOOKAHEAD, len(words)))
            found = next((m for m in window if keys[m] == key), None)
        if found is None:
            aligned.append(None)
        else:
            aligned.append(spans[found])
            next_word = found + 1
    return aligned


def _fill(texts: list[str], spans: list[Span | None], start: float, end: float) -> list[Span]:
    """Give untimed tokens the time between their timed neighbours, in proportion to characters."""
    filled: list[Span] = []
    i = 0
    while i < len(spans):
        span = spans[i]
        if span is not None:
            filled.append(span)
            i += 1
            continue
        j = i
        while j < len(spans) and spans[j] is None:
            j += 1
        left = filled[-1][1] if filled else start
        next_span = spans[j] if j < len(spans) else None
        right = next_span[0] if next_span is not None else end
        filled.extend(_share(texts[i:j], left, max(left, right)))
        i = j
    return filled


def _share(texts: list[str], left: float, right: float) -> list[Span]:
    # Punctuation standing alone is not spoken: it takes no time, where it stands.
    weights = [display_len(t) if _key(t) else 0 for t in texts]
    total = sum(weights) or 1
    shares: list[Span] = []
    done = 0
    for weight in weights:
        a = left + (right - left) * done / total
        done += weight
        shares.append((a, left + (right - left) * done / total))
    return shares


def _to_tokens(texts: list[str], spans: list[Span]) -> tuple[Token, ...]:
    """Whole milliseconds, starts never going back, ends never before their start."""
    tokens: list[Token] = []
    previous = 0
    for text, (a, b) in zip(texts, spans, strict=True):
        start = max(round(a), previous)
        end = max(round(b), start)
        tokens.append(Token(text, start, end))
        previous = start
    return tuple(tokens)
