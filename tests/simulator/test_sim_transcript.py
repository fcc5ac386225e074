"""Transcriptions: consistent timings, deterministic per content, shaped by the audio."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aiohttp
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_helpers import bearer, get_json, submit, wait_until, wav_bytes

from hrec_ingest.miaop.models import Transcription
from hrec_ingest.simulator import RunningSimulator
from hrec_ingest.simulator.transcript import (
    ENGLISH_WORDS,
    HEBREW_WORDS,
    generate_transcription,
    transcription_body,
)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _check_timings(paragraphs: list[dict[str, Any]], total_ms: int) -> None:
    end_of_previous = 0
    for paragraph in paragraphs:
        words = paragraph["words"]
        assert words
        assert words[0]["location"] == paragraph["location"]
        for word, following in zip(words, words[1:], strict=False):
            assert following["location"] == word["location"] + word["duration"]
        assert sum(w["duration"] for w in words) == paragraph["duration"]
        assert paragraph["text"] == " ".join(w["word"] for w in words)
        assert paragraph["location"] >= end_of_previous
        end_of_previous = paragraph["location"] + paragraph["duration"]
        for value in (
            paragraph["location"],
            paragraph["duration"],
            *(w["duration"] for w in words),
        ):
            assert isinstance(value, int) and value >= 0
    assert end_of_previous <= total_ms


@settings(max_examples=60, deadline=None)
@given(
    content=st.text(max_size=20),
    language=st.sampled_from(["Hebrew", "English", "Arabic"]),
    seconds=st.floats(min_value=0, max_value=7200, allow_nan=False),
)
def test_word_timings_add_up_within_the_audio(content: str, language: str, seconds: float) -> None:
    paragraphs = generate_transcription(_sha(content), language, seconds)
    _check_timings(paragraphs, int(seconds * 1000))


def test_same_content_same_text_other_content_other_text() -> None:
    first = generate_transcription(_sha("a"), "English", 60)
    assert generate_transcription(_sha("a"), "English", 60) == first
    assert generate_transcription(_sha("b"), "English", 60) != first


def test_speakers_alternate_and_words_follow_the_language() -> None:
    hebrew = generate_transcription(_sha("a"), "Hebrew", 120)
    assert [p["Id"] for p in hebrew[:4]] == ["דובר-1", "דובר-2", "דובר-1", "דובר-2"]
    assert all(w["word"] in HEBREW_WORDS for p in hebrew for w in p["words"])
    english = generate_transcription(_sha("a"), "English", 120)
    assert [p["Id"] for p in english[:2]] == ["Speaker-1", "Speaker-2"]
    assert all(w["word"] in ENGLISH_WORDS for p in english for w in p["words"])
    # Section 2.6.1.1 spells the speaker field "Id".
    assert all("id" not in p for p in english)


def test_long_audio_stays_small_and_spans_the_audio() -> None:
    paragraphs = generate_transcription(_sha("long"), "Hebrew", 3600)
    assert len(transcription_body(_sha("long"), "Hebrew", 3_600_000)) < 400_000
    last = paragraphs[-1]
    assert last["location"] + last["duration"] > 3_400_000


async def _transcript(
    http: aiohttp.ClientSession, sim: RunningSimulator, headers: dict[str, str], task_id: str
) -> list[dict[str, Any]]:
    url = f"{sim.url}/api/stt/1.{task_id}/0"

    async def ready() -> bool:
        return (await get_json(http, url, headers))[0] == 200

    await wait_until(ready)
    body = (await get_json(http, url, headers))[1]
    Transcription.model_validate(body)
    paragraphs: list[dict[str, Any]] = body["transcription"]
    return paragraphs


async def test_transcription_endpoint(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    headers = await bearer(http, sim)
    audio = wav_bytes(12.0, seed=5)
    task_id = await submit(http, sim, headers, {"a.wav": audio})
    status, body = await get_json(http, f"{sim.url}/api/stt/1.{task_id}/0", headers)
    assert status == 409 and "sttDone" in body["message"]
    paragraphs = await _transcript(http, sim, headers, task_id)
    _check_timings(paragraphs, 12_000)
    # The WAV's real length shapes the transcript: it ends near 12 s.
    assert paragraphs[-1]["location"] + paragraphs[-1]["duration"] > 10_000
    assert paragraphs[0]["Id"] == "דובר-1"
    # Same bytes under another name in another task: the same transcript.
    again = await submit(http, sim, headers, {"copy.wav": audio})
    assert await _transcript(http, sim, headers, again) == paragraphs


async def test_transcription_follows_each_wav_length(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, sim)
    short = await submit(http, sim, headers, {"s.wav": wav_bytes(3.0, seed=1)}, language="English")
    long = await submit(http, sim, headers, {"l.wav": wav_bytes(40.0, seed=1)}, language="English")
    short_end = (await _transcript(http, sim, headers, short))[-1]
    long_end = (await _transcript(http, sim, headers, long))[-1]
    assert short_end["location"] + short_end["duration"] <= 3_000
    assert 38_000 < long_end["location"] + long_end["duration"] <= 40_000
    assert short_end["Id"].startswith("Speaker-")


def test_body_is_utf8_json() -> None:
    body = transcription_body(_sha("x"), "Hebrew", 5_000)
    assert json.loads(body.decode("utf-8"))["transcription"][0]["Id"] == "דובר-1"
