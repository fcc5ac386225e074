"""The transcript renderers: txt, srt, vtt, json (interface.md section 5)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrec_ingest.formats import (
    FORMATS,
    RENDERERS,
    render,
    render_all,
    render_json,
    render_srt,
    render_txt,
    render_vtt,
    split_cues,
)
from hrec_ingest.miaop.models import ParagraphDesc, Transcription

GUIDE = {
    "transcription": [
        {
            "id": "דובר-1",
            "location": 0,
            "duration": 2200,
            "text": "היי שלום לכולם",
            "words": [
                {"word": "היי", "location": 0, "duration": 700, "confidence": 0.975},
                {"word": "שלום", "location": 700, "duration": 200, "confidence": 0.940},
                {"word": "לכולם", "location": 900, "duration": 1300, "confidence": 0.958},
            ],
        }
    ]
}


def paragraphs(raw: dict[str, Any] = GUIDE) -> list[ParagraphDesc]:
    return Transcription.model_validate(raw).transcription


def para(**fields: Any) -> ParagraphDesc:
    return ParagraphDesc.model_validate(fields)


# --- txt --------------------------------------------------------------------------------------


def test_txt_of_the_guide_example() -> None:
    assert render_txt(paragraphs()) == "[00:00:00] דובר-1: היי שלום לכולם\n"


def test_txt_one_line_per_paragraph_even_with_line_breaks_in_text() -> None:
    ps = [
        para(
            id="A", location=3_723_456, duration=1000, text="line one\nline two\r\nthree\u2028four"
        ),
        para(id=None, location=None, text=""),
    ]
    assert render_txt(ps) == "[01:02:03] A: line one line two three four\n[01:02:04] Speaker: \n"


def test_txt_hours_grow_past_99() -> None:
    assert render_txt(
        [para(id="A", location=360_000_000 + 59_999, duration=1, text="x")]
    ).startswith("[100:00:59] ")


def test_txt_empty() -> None:
    assert render_txt([]) == ""


# --- srt --------------------------------------------------------------------------------------


def test_srt_of_the_guide_example() -> None:
    assert (
        render_srt(paragraphs()) == "1\n00:00:00,000 --> 00:00:02,200\nדובר-1: היי שלום לכולם\n\n"
    )


def test_srt_numbers_cues_from_one_and_prefixes_each_cue() -> None:
    words = " ".join(["abcdefghi"] * 12)
    ps = [
        para(id="A", location=0, duration=3000, text=words),
        para(id="B", location=3_600_000, duration=1000, text="end"),
    ]
    blocks = render_srt(ps).split("\n\n")
    assert blocks[-1] == ""
    assert [b.split("\n")[0] for b in blocks[:-1]] == ["1", "2", "3"]
    assert blocks[0].split("\n")[2].startswith("A: abcdefghi")
    assert not blocks[0].split("\n")[3].startswith("A:")  # only the first line of a cue
    assert blocks[2] == "3\n01:00:00,000 --> 01:00:01,000\nB: end"


def test_srt_and_vtt_are_empty_but_valid_without_cues() -> None:
    assert render_srt([]) == ""
    assert render_vtt([para(location=0, duration=10, text="")]) == "WEBVTT\n\n"


# --- vtt --------------------------------------------------------------------------------------


def test_vtt_of_the_guide_example() -> None:
    assert render_vtt(paragraphs()) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.200\n<v דובר-1>היי שלום לכולם\n\n"
    )


def test_vtt_escapes_text_and_voice() -> None:
    ps = [para(id="<b>&co", location=0, duration=1000, text="a --> b & <i>c</i>")]
    assert (
        render_vtt(ps).split("\n")[3] == "<v &lt;b&gt;&amp;co>a --&gt; b &amp; &lt;i&gt;c&lt;/i&gt;"
    )


def test_unknown_speaker_is_labelled() -> None:
    ps = [para(location=0, duration=1000, text="hi")]
    assert "\nSpeaker: hi\n" in render_srt(ps)
    assert "\n<v Speaker>hi\n" in render_vtt(ps)


# --- round trip through a minimal parser ------------------------------------------------------

SRT_BLOCK = re.compile(
    r"(\d+)\n(\d{2,}):(\d\d):(\d\d),(\d{3}) --> (\d{2,}):(\d\d):(\d\d),(\d{3})\n((?:.+\n)+)\n"
)
VTT_BLOCK = re.compile(
    r"(\d{2,}):(\d\d):(\d\d)\.(\d{3}) --> (\d{2,}):(\d\d):(\d\d)\.(\d{3})\n((?:.+\n)+)\n"
)


def ms(h: str, m: str, s: str, f: str) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(f)


texts = st.text(st.sampled_from(list("ab cd שלום אבג,\n")), max_size=120)
times = st.none() | st.integers(min_value=-100, max_value=10**9).map(float)
paragraph_lists = st.lists(
    st.builds(
        ParagraphDesc,
        speaker=st.none() | st.sampled_from(["A", "דובר-2"]),
        location=times,
        duration=times,
        text=texts,
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(paragraph_lists)
def test_srt_and_vtt_parse_back_to_the_cues(ps: list[ParagraphDesc]) -> None:
    cues = split_cues(ps)
    srt = render_srt(ps)
    blocks = SRT_BLOCK.findall(srt)
    assert "".join(m.group(0) for m in SRT_BLOCK.finditer(srt)) == srt
    assert [int(b[0]) for b in blocks] == list(range(1, len(cues) + 1))
    assert [(ms(*b[1:5]), ms(*b[5:9])) for b in blocks] == [(c.start_ms, c.end_ms) for c in cues]

    vtt = render_vtt(ps)
    assert vtt.startswith("WEBVTT\n\n")
    body = vtt[len("WEBVTT\n\n") :]
    vblocks = VTT_BLOCK.findall(body)
    assert "".join(m.group(0) for m in VTT_BLOCK.finditer(body)) == body
    assert [(ms(*b[0:4]), ms(*b[4:8])) for b in vblocks] == [(c.start_ms, c.end_ms) for c in cues]

    txt = render_txt(ps)
    assert txt.count("\n") == len(ps)


# --- json -------------------------------------------------------------------------------------


def test_json_is_utf8_indented_with_trailing_newline_and_no_bom() -> None:
    document = {"transcription": GUIDE["transcription"], "exportedAt": "2026-11-21T10:05:00Z"}
    data = render_json(document)
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.endswith(b"}\n")
    assert "היי שלום לכולם".encode() in data
    assert data.decode("utf-8").split("\n")[1].startswith('  "transcription"')
    assert json.loads(data) == document


def test_json_writes_non_finite_numbers_as_null() -> None:
    data = render_json({"a": [math.nan, 1.5, {"b": math.inf}], "c": "x"})
    assert json.loads(data) == {"a": [None, 1.5, {"b": None}], "c": "x"}


def test_json_keeps_lone_surrogates_exact_with_escapes() -> None:
    data = render_json({"text": "\ud800 שלום"})
    assert data.isascii()
    assert json.loads(data) == {"text": "\ud800 שלום"}


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: "e" not in repr(f))
    | st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300)
@given(document=st.dictionaries(st.text(), JSON_VALUES, max_size=5))
def test_json_has_the_json_modules_layout_byte_for_byte(document: dict[str, Any]) -> None:
    # The fast encoder and the fallback must write the same file (floats with an exponent
    # aside, whose leading zero the fast one drops: same value, shorter text).
    expected = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    try:
        expected_bytes = expected.encode("utf-8")
    except UnicodeEncodeError:
        expected_bytes = (json.dumps(document, indent=2) + "\n").encode("ascii")
    assert render_json(document) == expected_bytes


def test_json_beyond_the_fast_encoder_falls_back_to_the_same_values() -> None:
    deep: Any = "leaf"
    for _ in range(300):
        deep = [deep]
    document = {"big": 2**70, "deep": deep, "tiny": 1e-7, "nan": math.nan}
    assert json.loads(render_json(document)) == {**document, "nan": None}


def test_render_dispatches_every_format() -> None:
    ps = paragraphs()
    document = {"transcription": GUIDE["transcription"]}
    assert set(FORMATS) == {"json", *RENDERERS}
    assert render("json", paragraphs=ps, document=document) == render_json(document)
    for fmt, renderer in RENDERERS.items():
        assert render(fmt, paragraphs=ps, document=document) == renderer(ps).encode("utf-8")
    with pytest.raises(KeyError):
        render("docx", paragraphs=ps, document=document)


@settings(max_examples=100, deadline=None)
@given(ps=paragraph_lists, formats=st.permutations(FORMATS))
def test_render_all_gives_each_format_exactly_what_render_gives(
    ps: list[ParagraphDesc], formats: list[str]
) -> None:
    document = {"n": len(ps)}
    rendered = list(render_all(formats, paragraphs=ps, document=document))
    assert rendered == [(f, render(f, paragraphs=ps, document=document)) for f in formats]


def test_render_all_refuses_an_unknown_format() -> None:
    with pytest.raises(KeyError):
        list(render_all(["txt", "docx"], paragraphs=paragraphs(), document={}))


def test_render_replaces_unencodable_text() -> None:
    ps = [para(location=0, duration=1000, text="a\udcff")]
    assert render("txt", paragraphs=ps, document={}) == b"[00:00:00] Speaker: a?\n"
