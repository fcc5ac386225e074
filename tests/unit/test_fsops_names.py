"""Collision names (interface.md section 4): free_name, stem_for, fit_bytes, temp names."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrec_ingest.fsops import (
    NAME_MAX_BYTES,
    fit_bytes,
    free_name,
    is_temporary,
    split_ext,
    stem_for,
    temp_name,
)

TASK = "123e4567-e89b-12d3-a456-426614174000"
FOLDER = Path("/nowhere")


def taken(*names: str) -> Callable[[Path], bool]:
    def exists(path: Path) -> bool:
        assert path.parent == FOLDER
        return path.name in names

    return exists


def size(name: str) -> int:
    return len(os.fsencode(name))


@pytest.mark.parametrize(
    ("name", "stem", "ext"),
    [
        ("call.wav", "call", ".wav"),
        ("call.tar.gz", "call.tar", ".gz"),
        ("call", "call", ""),
        (".hidden", ".hidden", ""),
        ("call.", "call.", ""),
        ("שיחה.mp3", "שיחה", ".mp3"),
    ],
)
def test_split_ext_takes_the_last_extension(name: str, stem: str, ext: str) -> None:
    assert split_ext(name) == (stem, ext)
    assert stem_for(name) == stem


def test_free_name_keeps_a_free_name() -> None:
    assert free_name(FOLDER, "call.wav", TASK, taken()) == "call.wav"


def test_free_name_puts_the_task_id_before_the_extension() -> None:
    assert free_name(FOLDER, "call.wav", TASK, taken("call.wav")) == f"call.{TASK}.wav"
    assert stem_for(f"call.{TASK}.wav") == f"call.{TASK}"


def test_free_name_then_counts() -> None:
    exists = taken("call.wav", f"call.{TASK}.wav", f"call.{TASK}.2.wav")
    assert free_name(FOLDER, "call.wav", TASK, exists) == f"call.{TASK}.3.wav"


def test_free_name_without_extension_and_with_two() -> None:
    assert free_name(FOLDER, "call", TASK, taken("call")) == f"call.{TASK}"
    assert free_name(FOLDER, "a.tar.gz", TASK, taken("a.tar.gz")) == f"a.tar.{TASK}.gz"


def test_free_name_uses_the_real_folder_by_default(tmp_path: Path) -> None:
    (tmp_path / "call.wav").write_bytes(b"x")
    (tmp_path / f"call.{TASK}.wav").symlink_to(
        tmp_path / "missing"
    )  # dangling still holds the name
    assert free_name(tmp_path, "call.wav", TASK) == f"call.{TASK}.2.wav"


def test_long_names_are_shortened_by_bytes_between_characters() -> None:
    name = "ש" * 127 + ".wav"  # 254 + 4 bytes: too long already, keep the extension
    assert size(name) > NAME_MAX_BYTES
    chosen = free_name(FOLDER, name, TASK, taken())
    assert chosen == "ש" * 125 + ".wav"
    again = free_name(FOLDER, name, TASK, taken(chosen))
    assert size(again) <= NAME_MAX_BYTES and again.endswith(f".{TASK}.wav")
    assert again == "ש" * ((NAME_MAX_BYTES - size(f".{TASK}.wav")) // 2) + f".{TASK}.wav"


def test_reserve_leaves_room_for_a_suffix() -> None:
    name = "a" * 250 + ".wav"
    chosen = free_name(FOLDER, name, TASK, taken(), reserve=len(".error.json"))
    assert size(chosen + ".error.json") == NAME_MAX_BYTES


def test_an_extension_too_long_to_keep_is_part_of_the_stem() -> None:
    name = "a." + "b" * 240
    chosen = free_name(FOLDER, name, TASK, taken(name))
    assert chosen.endswith(f".{TASK}") and size(chosen) == NAME_MAX_BYTES


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a\0b"])
def test_bad_names_and_task_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        free_name(FOLDER, bad, TASK, taken())
    with pytest.raises(ValueError):
        free_name(FOLDER, "call.wav", bad, taken())


def test_no_free_name_at_all() -> None:
    with pytest.raises(FileExistsError):
        free_name(FOLDER, "call.wav", TASK, lambda _: True)


def test_fit_bytes_counts_undecodable_bytes_as_one() -> None:
    raw = os.fsdecode(b"ab\xff\xfecd")
    assert fit_bytes(raw, 4) == os.fsdecode(b"ab\xff\xfe")
    assert fit_bytes("aש", 2) == "a"


def test_temp_names_are_hidden_bounded_and_recognised() -> None:
    name = temp_name("x" * 255, "0123456789abcdef")
    assert name.startswith(".") and size(name) == NAME_MAX_BYTES and is_temporary(name)
    assert is_temporary(temp_name("call.json", "move"))
    for other in [
        ".call.json.tmp",
        "call.0123456789abcdef.hrec.tmp",
        ".call.xyz.hrec.tmp",
        ".a.move.hrec.tmp.bak",
    ]:
        assert not is_temporary(other)


names = st.text(
    st.characters(
        codec="utf-8", exclude_characters="/\0", categories=("L", "M", "N", "P", "S", "Zs")
    ),
    min_size=1,
    max_size=140,
).filter(lambda n: n not in {".", ".."})


@settings(max_examples=300, deadline=None)
@given(names, st.sets(st.integers(0, 6), max_size=6), st.integers(0, 20))
def test_free_name_properties(name: str, occupied: set[int], reserve: int) -> None:
    limit = NAME_MAX_BYTES - reserve
    # Occupy the plain name and the first few candidates, as collisions would.
    firsts: list[str] = []
    seen: set[str] = set()
    for _ in range(8):
        candidate = free_name(FOLDER, name, TASK, lambda p: p.name in seen, reserve=reserve)
        firsts.append(candidate)
        seen.add(candidate)
    assert len(set(firsts)) == len(firsts)  # every candidate is new
    blocked = {firsts[i] for i in occupied}
    chosen = free_name(FOLDER, name, TASK, lambda p: p.name in blocked, reserve=reserve)
    assert chosen not in blocked
    assert size(chosen) <= limit
    assert "/" not in chosen and chosen.encode("utf-8")
    if size(name) <= limit and 0 not in occupied:
        assert chosen == name
    stem, ext = split_ext(name)
    if ext and chosen != name and size(ext) + size(f".{TASK}.9") < limit:
        assert chosen.endswith(ext)
        assert TASK in chosen
