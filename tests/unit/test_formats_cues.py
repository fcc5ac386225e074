"""split_cues and the timing rules behind it (hrec_ingest.formats)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrec_ingest.formats import Cue, split_cues
from hrec_ingest.formats.timing import display_len, time_paragraphs
from hrec_ingest.miaop.models import ParagraphDesc, Word

GUIDE_EXAMPLE = {
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


def para(**fields: Any) -> ParagraphDesc:
    return ParagraphDesc.model_validate(fields)


def timed_words(texts: list[str], start: int, step: int, length: int) -> list[dict[str, Any]]:
    return [
        {"word": w, "location": start + i * step, "duration": length} for i, w in enumerate(texts)
    ]


def cue_words(cues: list[Cue], paragraph: int) -> list[str]:
    return [w for c in cues if c.paragraph == paragraph for line in c.lines for w in line.split()]


def assert_well_formed(cues: list[Cue], max_chars: int = 42, max_lines: int = 2) -> None:
    for cue in cues:
        assert cue.start_ms >= 0
        assert cue.end_ms > cue.start_ms
        assert 1 <= len(cue.lines) <= max_lines
        for line in cue.lines:
            assert line == line.strip() and line
            # Only a single word may exceed the line length.
            assert display_len(line) <= max_chars or " " not in line
    for earlier, later in zip(cues, cues[1:], strict=False):
        assert earlier.start_ms < later.start_ms
        assert earlier.end_ms <= later.start_ms


# --- examples ---------------------------------------------------------------------------------


def test_guide_example_is_one_cue_with_the_text_as_returned() -> None:
    cues = split_cues([para(**GUIDE_EXAMPLE)])
    assert cues == [Cue(0, 2200, "דובר-1", ("היי שלום לכולם",), 0)]


def test_speaker_is_read_from_Id_as_section_2_names_it() -> None:
    cues = split_cues([para(Id="S1", location=0, duration=1000, text="hello")])
    assert cues[0].speaker == "S1"


def test_word_timings_split_at_seven_seconds() -> None:
    words = [f"w{i}" for i in range(20)]  # one word a second
    p = para(
        location=0, duration=20_000, text=" ".join(words), words=timed_words(words, 0, 1000, 900)
    )
    cues = split_cues([p])
    assert_well_formed(cues)
    assert [c.start_ms for c in cues] == [0, 7000, 14000]
    assert all(c.end_ms - c.start_ms <= 7000 for c in cues)
    assert cue_words(cues, 0) == words


def test_lines_are_split_at_42_characters_and_two_lines() -> None:
    words = ["abcdefghi"] * 12  # 10 characters with the space: four a line
    p = para(location=0, duration=3000, text=" ".join(words))
    cues = split_cues([p])
    assert_well_formed(cues)
    assert [len(c.lines) for c in cues] == [2, 1]
    assert cues[0].lines[0] == " ".join(words[:4])
    assert cue_words(cues, 0) == words


def test_a_word_longer_than_a_line_stands_alone() -> None:
    long_word = "x" * 60
    p = para(location=0, duration=3000, text=f"a {long_word} b")
    cues = split_cues([p])
    assert [c.lines for c in cues] == [("a", long_word), ("b",)]


def test_a_word_longer_than_seven_seconds_keeps_its_own_cue() -> None:
    p = para(
        location=0,
        duration=12_000,
        text="so long",
        words=[
            {"word": "so", "location": 0, "duration": 500},
            {"word": "long", "location": 500, "duration": 10_000},
        ],
    )
    cues = split_cues([p])
    assert [(c.start_ms, c.end_ms, c.lines) for c in cues] == [
        (0, 500, ("so",)),
        (500, 10_500, ("long",)),
    ]


def test_without_word_timings_time_is_shared_by_characters() -> None:
    p = para(location=1000, duration=4000, text="aaa b")
    cues = split_cues([p], max_chars=3)
    assert [(c.start_ms, c.end_ms, c.lines) for c in cues] == [(1000, 5000, ("aaa", "b"))]
    cues = split_cues([p], max_chars=3, max_lines=1)
    assert [(c.start_ms, c.end_ms) for c in cues] == [(1000, 4000), (4000, 5000)]


def test_text_punctuation_does_not_break_word_timings() -> None:
    # Counts differ (a lone dash in the text): tokens are matched to words by their letters.
    p = para(
        location=0,
        duration=9000,
        text="Hello, world - again!",
        words=[
            {"word": "hello", "location": 0, "duration": 500},
            {"word": "world", "location": 600, "duration": 500},
            {"word": "again", "location": 8000, "duration": 500},
        ],
    )
    cues = split_cues([p])
    assert [(c.start_ms, c.lines) for c in cues] == [(0, ("Hello, world -",)), (8000, ("again!",))]


def test_relative_word_times_are_recognised() -> None:
    words = timed_words(["a", "b", "c"], 0, 1000, 900)  # relative: start before the paragraph
    cues = split_cues([para(location=60_000, duration=3000, text="a b c", words=words)])
    assert (cues[0].start_ms, cues[-1].end_ms) == (60_000, 62_900)


def test_absolute_word_times_are_kept() -> None:
    words = timed_words(["a", "b"], 60_000, 1000, 900)
    cues = split_cues([para(location=60_000, duration=2000, text="a b", words=words)])
    assert (cues[0].start_ms, cues[0].end_ms) == (60_000, 61_900)


def test_words_stand_in_for_missing_text() -> None:
    words = timed_words(["one", "two"], 100, 500, 400)
    cues = split_cues([para(location=None, duration=None, text="", words=words)])
    assert [(c.start_ms, c.end_ms, c.lines) for c in cues] == [(100, 1000, ("one two",))]


def test_negative_times_are_clamped_to_zero() -> None:
    cues = split_cues([para(location=-500, duration=1500, text="hi")])
    assert (cues[0].start_ms, cues[0].end_ms) == (0, 1500)


@pytest.mark.parametrize("location", [None, math.nan, math.inf])
def test_untimed_paragraph_follows_the_previous_cue_for_a_reading_time(
    location: float | None,
) -> None:
    first = para(location=10_000, duration=2000, text="first")
    second = para(location=location, duration=None, text="x" * 50)
    cues = split_cues([first, second])
    assert_well_formed(cues)
    assert cues[1].start_ms == 12_000
    assert cues[1].end_ms - cues[1].start_ms == 3000  # 50 characters at 60 ms
    assert (
        next(
            time_paragraphs(
                [first, second],
            )
        ).start_ms
        == 10_000
    )


def test_short_untimed_paragraph_lasts_at_least_a_second() -> None:
    cues = split_cues([para(text="hi")])
    assert (cues[0].start_ms, cues[0].end_ms) == (0, 1000)


def test_paragraph_without_text_gives_no_cue() -> None:
    cues = split_cues(
        [para(location=0, duration=1000, text="  "), para(location=1000, duration=1000, text="b")]
    )
    assert [c.paragraph for c in cues] == [1]


def test_overlapping_paragraphs_do_not_overlap_as_cues() -> None:
    a = para(id="A", location=0, duration=5000, text="alpha")
    b = para(id="B", location=3000, duration=4000, text="beta")
    cues = split_cues([a, b])
    assert [(c.speaker, c.start_ms, c.end_ms) for c in cues] == [("A", 0, 3000), ("B", 3000, 7000)]


def test_simultaneous_paragraphs_both_stay_readable() -> None:
    a = para(id="A", location=1000, duration=2000, text="alpha")
    b = para(id="B", location=1000, duration=2000, text="beta")
    cues = split_cues([a, b])
    assert_well_formed(cues)
    assert [(c.speaker, c.start_ms, c.end_ms) for c in cues] == [
        ("A", 1000, 1500),
        ("B", 1500, 3500),
    ]


def test_out_of_order_paragraphs_come_out_in_time_order() -> None:
    late = para(location=9000, duration=1000, text="late")
    early = para(location=1000, duration=1000, text="early")
    cues = split_cues([late, early])
    assert [c.paragraph for c in cues] == [1, 0]


def test_very_short_cue_is_stretched_into_silence_only() -> None:
    a = para(location=0, duration=0, text="a")
    b = para(location=300, duration=1000, text="b")
    c = para(location=5000, duration=10, text="c")
    cues = split_cues([a, b, c])
    assert [(x.start_ms, x.end_ms) for x in cues] == [(0, 300), (300, 1300), (5000, 5500)]


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        split_cues([], max_seconds=0)
    with pytest.raises(ValueError):
        split_cues([], max_seconds=math.nan)
    with pytest.raises(ValueError):
        split_cues([], max_chars=0)


# --- properties -------------------------------------------------------------------------------

times = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-5000, max_value=10**7).map(float),
)
alphabet = st.sampled_from(list("ab xyz אבגד שלום,.-\n\t\u05b0")) | st.characters(codec="utf-8")
texts = st.text(alphabet, max_size=200)
words = st.lists(
    st.builds(Word, word=st.text(alphabet, max_size=12), location=times, duration=times),
    max_size=25,
)
paragraphs = st.lists(
    st.builds(
        ParagraphDesc,
        speaker=st.none() | st.text(max_size=8),
        location=times,
        duration=times,
        text=texts,
        words=words,
    ),
    max_size=8,
)


def expected_words(p: ParagraphDesc) -> list[str]:
    return p.text.split() or [piece for w in p.words for piece in w.word.split()]


@settings(max_examples=300, deadline=None)
@given(paragraphs, st.integers(min_value=1, max_value=50), st.integers(min_value=1, max_value=3))
def test_any_input_gives_ordered_disjoint_cues_with_every_word(
    ps: list[ParagraphDesc], max_chars: int, max_lines: int
) -> None:
    cues = split_cues(ps, max_chars=max_chars, max_lines=max_lines)
    assert_well_formed(cues, max_chars, max_lines)
    for index, p in enumerate(ps):
        assert cue_words(cues, index) == expected_words(p)
    for cue in cues:
        words_in_cue = sum(len(line.split()) for line in cue.lines)
        if words_in_cue > 1:
            assert cue.end_ms - cue.start_ms <= 7000


@st.composite
def realistic(draw: st.DrawFn) -> list[ParagraphDesc]:
    """Paragraphs one after another, each word timed, as a server would send them."""
    out = []
    clock = draw(st.integers(0, 10_000))
    for _ in range(draw(st.integers(1, 6))):
        texts_ = draw(
            st.lists(
                st.text(st.sampled_from("abcdefgשלום"), min_size=1, max_size=15),
                min_size=1,
                max_size=40,
            )
        )
        ws = []
        start = clock
        for t in texts_:
            clock += draw(st.integers(0, 800))
            length = draw(st.integers(1, 1500))
            ws.append({"word": t, "location": clock, "duration": length})
            clock += length
        out.append(
            para(
                id=draw(st.sampled_from(["A", "B"])),
                location=start,
                duration=clock - start,
                text=" ".join(texts_),
                words=ws,
            )
        )
    return out


@settings(max_examples=200, deadline=None)
@given(realistic())
def test_timed_speech_keeps_its_word_times(ps: list[ParagraphDesc]) -> None:
    cues = split_cues(ps)
    assert_well_formed(cues)
    for index, p in enumerate(ps):
        assert cue_words(cues, index) == p.text.split()
    # Each cue starts exactly when its first word starts.
    starts = {(i, w.location) for i, p in enumerate(ps) for w in p.words}
    assert all((c.paragraph, c.start_ms) in starts for c in cues)
