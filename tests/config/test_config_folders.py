"""The five folders: resolved against the working folder, distinct, not nested in the inbox,
created with the mode UMASK allows."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from hrec_ingest.config import ConfigError, load_settings
from samples.config import MINIMAL

FOLDERS = ("FILES_DIR", "OUTPUT_DIR", "ARCHIVE_DIR", "FAILED_DIR", "STATE_DIR")


def problems_with(environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_settings(None, environ)
    return [str(problem) for problem in error.value.problems]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_missing_folders_are_created_with_the_mode_umask_allows(workdir: Path) -> None:
    settings = load_settings(None, MINIMAL)

    for key in FOLDERS:
        folder = getattr(settings, key.lower())
        assert folder.is_dir()
        assert folder.is_relative_to(workdir / "hrec-data")
        assert mode_of(folder) == 0o750, key
    assert mode_of(workdir / "hrec-data") == 0o750


def test_a_stricter_umask_gives_stricter_folders_and_leaves_existing_ones_alone(
    workdir: Path,
) -> None:
    (workdir / "in").mkdir(mode=0o755)
    os.chmod(workdir / "in", 0o755)

    settings = load_settings(None, MINIMAL | {"HREC_UMASK": "077", "HREC_FILES_DIR": "in"})

    assert mode_of(settings.output_dir) == 0o700
    assert mode_of(settings.files_dir) == 0o755


def test_relative_paths_resolve_against_the_working_folder(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "sub").mkdir()
    monkeypatch.chdir(workdir / "sub")
    monkeypatch.setenv("HOME", str(workdir / "home"))

    settings = load_settings(
        None, MINIMAL | {"HREC_FILES_DIR": "drop", "HREC_STATE_DIR": "~/state"}
    )

    assert settings.files_dir == workdir / "sub" / "drop"
    assert settings.output_dir == workdir / "sub" / "hrec-data" / "out"
    assert settings.state_dir == workdir / "home" / "state"


def test_the_inbox_inside_the_output_folder_is_refused(workdir: Path) -> None:
    environ = MINIMAL | {"HREC_OUTPUT_DIR": "data", "HREC_FILES_DIR": "data/inbox"}

    assert problems_with(environ) == [
        f"FILES_DIR: lies inside OUTPUT_DIR ({workdir / 'data'}) (environment HREC_FILES_DIR)"
    ]
    assert not (workdir / "data").exists(), "nothing is created while folders overlap"


def test_a_folder_inside_the_inbox_is_refused(workdir: Path) -> None:
    environ = MINIMAL | {"HREC_FILES_DIR": "inbox", "HREC_STATE_DIR": "inbox/.state"}

    assert problems_with(environ) == [
        f"STATE_DIR: lies inside FILES_DIR ({workdir / 'inbox'}): its files would be taken "
        "as audio (environment HREC_STATE_DIR)"
    ]


def test_overlap_is_judged_after_resolving_symbolic_links(workdir: Path) -> None:
    (workdir / "out").mkdir()
    (workdir / "link").symlink_to(workdir / "out")
    environ = MINIMAL | {"HREC_OUTPUT_DIR": "out", "HREC_FILES_DIR": "link/inbox"}

    assert problems_with(environ) == [
        f"FILES_DIR: lies inside OUTPUT_DIR ({workdir / 'out'}) (environment HREC_FILES_DIR)"
    ]


def test_the_folders_must_be_distinct(workdir: Path) -> None:
    environ = MINIMAL | {"HREC_OUTPUT_DIR": "same", "HREC_ARCHIVE_DIR": "./same/"}

    assert problems_with(environ) == [
        f"ARCHIVE_DIR: is the same folder as OUTPUT_DIR ({workdir / 'same'}) "
        "(environment HREC_ARCHIVE_DIR)"
    ]


def test_a_folder_that_cannot_be_created_names_the_key_and_the_os_error(workdir: Path) -> None:
    (workdir / "blocker").write_text("a file, not a folder")
    environ = MINIMAL | {"HREC_STATE_DIR": "blocker/state", "HREC_FAILED_DIR": "blocker"}

    assert problems_with(environ) == [
        f"FAILED_DIR: {workdir / 'blocker'} is not a folder (environment HREC_FAILED_DIR)",
        f"STATE_DIR: cannot create {workdir / 'blocker' / 'state'}: Not a directory "
        "(environment HREC_STATE_DIR)",
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_folder_that_cannot_be_written_is_a_problem(workdir: Path) -> None:
    (workdir / "ro").mkdir(mode=0o500)
    try:
        problems = problems_with(MINIMAL | {"HREC_OUTPUT_DIR": "ro"})
    finally:
        os.chmod(workdir / "ro", 0o700)
    assert problems == [
        f"OUTPUT_DIR: cannot write in {workdir / 'ro'}: Permission denied "
        "(environment HREC_OUTPUT_DIR)"
    ]


def test_the_write_check_leaves_nothing_behind(workdir: Path) -> None:
    settings = load_settings(None, MINIMAL)
    for key in FOLDERS:
        assert list(getattr(settings, key.lower()).iterdir()) == []


def test_a_refused_write_check_is_reported_even_as_root(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root writes anywhere, so the refusal is faked at the OS boundary.
    def refuse(**kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)

    problems = problems_with(MINIMAL)

    assert problems[0] == (
        f"FILES_DIR: cannot write in {workdir / 'hrec-data' / 'inbox'}: Permission denied (default)"
    )
    assert len(problems) == 5
