"""Made-up but plausible transcriptions, the same every time for the same audio.

The generator is seeded from the file's sha256, so a re-upload of the same
bytes reads back the same text. Two speakers take turns; paragraphs of a few
seconds are separated by pauses and stay within the audio's length. Long
audio gets longer pauses rather than more paragraphs, which keeps an hour of
audio to a few hundred kilobytes of JSON.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache
from typing import Any

MAX_PARAGRAPHS = 150
MAX_WORDS_PER_PARAGRAPH = 20
_SHORTEST_WORD_MS = 120
# Mean paragraph (about 4.5 s of speech) plus mean pause: sets when pauses stretch.
_NATURAL_SLOT_MS = 5_400

ENGLISH_WORDS = (
    "hello everyone thanks for joining the call today we need to talk about "
    "project schedule customer order team budget meeting next week I think "
    "that is right yes no maybe good great so let's start with update "
    "from sales support please send me report numbers again later okay sure "
    "question answer problem solution time account phone office plan review "
    "check this it was we will can should would could have done ready"
).split()

HEBREW_WORDS = (
    "שלום היי לכולם אני אתה זה לא כן מה איך טוב תודה בבקשה היום מחר אתמול "
    "עכשיו צריך רוצה יכול לדבר על עם של את הפגישה הלקוח המערכת הזמנה מספר "
    "שיחה בעיה פתרון שאלה תשובה בסדר אולי בדיוק נכון גם רק עוד כל הרבה קצת "
    "זמן שבוע חודש חשבון טלפון משרד צוות פרויקט לבדוק לשלוח לקבל להבין לעזור "
    "אנחנו הם שלנו כאן שם"
).split()


def speaker_label(language: str, number: int) -> str:
    """The speaker id the server would give speaker ``number`` in ``language``."""
    return f"דובר-{number}" if language == "Hebrew" else f"Speaker-{number}"


def _paragraph(
    rng: random.Random, words: tuple[str, ...] | list[str], start: int, budget: int
) -> list[dict[str, Any]]:
    """Words spoken back to back from ``start`` for at most ``budget`` ms."""
    items: list[dict[str, Any]] = []
    position = start
    end = start + budget
    while len(items) < MAX_WORDS_PER_PARAGRAPH:
        word = rng.choice(words)
        duration = 160 + 60 * len(word) + rng.randint(-40, 140)
        if position + duration > end:
            duration = end - position
            if duration < _SHORTEST_WORD_MS:
                break
        confidence = round(rng.uniform(0.82, 0.995), 3)
        items.append(
            {"word": word, "location": position, "duration": duration, "confidence": confidence}
        )
        position += duration
    return items


def generate_transcription(
    sha256: str, language: str, duration_seconds: float
) -> list[dict[str, Any]]:
    """ParagraphDesc objects (guide 2.6.1.1) for audio of this content, language and length.

    Each paragraph's words are contiguous: the first starts at the paragraph's
    ``location`` and their durations add up to its ``duration`` (integer ms).
    """
    rng = random.Random(int(sha256[:16], 16) if sha256 else 0)
    vocabulary = HEBREW_WORDS if language == "Hebrew" else ENGLISH_WORDS
    total_ms = int(duration_seconds * 1000)
    stretch = max(0, total_ms // MAX_PARAGRAPHS - _NATURAL_SLOT_MS)
    paragraphs: list[dict[str, Any]] = []
    position = rng.randint(0, 400)
    while len(paragraphs) < MAX_PARAGRAPHS and total_ms - position >= _SHORTEST_WORD_MS:
        budget = min(rng.randint(1_500, 7_500), total_ms - position)
        words = _paragraph(rng, vocabulary, position, budget)
        if not words:
            break
        duration = sum(word["duration"] for word in words)
        paragraphs.append(
            {
                "Id": speaker_label(language, len(paragraphs) % 2 + 1),
                "location": position,
                "duration": duration,
                "text": " ".join(word["word"] for word in words),
                "words": words,
            }
        )
        position += duration + rng.randint(200, 1_500) + stretch
    return paragraphs


@lru_cache(maxsize=64)
def transcription_body(sha256: str, language: str, duration_ms: int) -> bytes:
    """The JSON body of ``GET /api/stt/{meetingId}/0``, cached by what shapes it."""
    paragraphs = generate_transcription(sha256, language, duration_ms / 1000)
    return json.dumps({"transcription": paragraphs}, ensure_ascii=False).encode("utf-8")
