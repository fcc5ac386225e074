"""PASSWORD and PASSWORD_FILE: which wins, how the file is read, and that the secret never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from hrec_ingest.config import ConfigError, FlagValue, load_settings

SECRET = "pw-Zq8-never-print-me"

BASE = {
    "HREC_KEYCLOAK_BASE_URL": "https://kc.example.com",
    "HREC_API_BASE_URL": "https://api.example.com",
    "HREC_TENANT": "demo",
    "HREC_USERNAME": "user",
    "HREC_SUPERVISOR_EMAIL": "boss@example.com",
    "HREC_BASE_LANGUAGE": "English",
}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (f"{SECRET}\n", SECRET),
        (f"{SECRET}\r\n", SECRET),
        (f"{SECRET}\n\n", f"{SECRET}\n"),
        (f" {SECRET} ", f" {SECRET} "),
        (SECRET, SECRET),
    ],
)
def test_password_file_strips_one_trailing_newline(
    workdir: Path, content: str, expected: str
) -> None:
    (workdir / "pw").write_bytes(content.encode())

    settings = load_settings(None, BASE | {"HREC_PASSWORD_FILE": "pw"})

    assert settings.tenants[0].password.get_secret_value() == expected
    assert settings.password_file == workdir / "pw"
    assert settings.source_of("PASSWORD") == (
        f"file {workdir / 'pw'} (PASSWORD_FILE from environment HREC_PASSWORD_FILE)"
    )


def test_an_unreadable_password_file_is_a_problem_naming_password_file(workdir: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(None, BASE | {"HREC_PASSWORD_FILE": "missing-pw"})

    assert [str(problem) for problem in error.value.problems] == [
        f"PASSWORD_FILE: cannot read {workdir / 'missing-pw'}: No such file or directory "
        "(environment HREC_PASSWORD_FILE)"
    ]


def test_a_password_file_that_is_a_folder_is_a_problem(workdir: Path) -> None:
    (workdir / "secrets").mkdir()
    with pytest.raises(ConfigError) as error:
        load_settings(None, BASE | {"HREC_PASSWORD_FILE": "secrets"})
    (problem,) = error.value.problems
    assert problem.key == "PASSWORD_FILE"
    assert problem.message == f"cannot read {workdir / 'secrets'}: not a regular file"


def test_the_higher_source_wins_between_password_and_password_file(workdir: Path) -> None:
    (workdir / "pw").write_text("from-file\n")
    config = workdir / "c.env"
    config.write_text("PASSWORD=from-config\n")

    settings = load_settings(config, BASE | {"HREC_PASSWORD_FILE": "pw"})
    assert settings.tenants[0].password.get_secret_value() == "from-file"

    flags = {"PASSWORD": FlagValue("from-flag", "flag -p")}
    settings = load_settings(config, BASE | {"HREC_PASSWORD_FILE": "pw"}, flags)
    assert settings.tenants[0].password.get_secret_value() == "from-flag"
    assert settings.source_of("PASSWORD") == "flag -p"


def test_password_and_password_file_in_the_same_source_is_a_problem(workdir: Path) -> None:
    (workdir / "pw").write_text("from-file\n")

    with pytest.raises(ConfigError) as error:
        load_settings(None, BASE | {"HREC_PASSWORD_FILE": "pw", "HREC_PASSWORD": SECRET})

    assert [str(problem) for problem in error.value.problems] == [
        "PASSWORD_FILE: is set together with PASSWORD; keep one (environment HREC_PASSWORD_FILE)"
    ]


def test_the_password_never_shows_in_settings_or_problems(workdir: Path) -> None:
    settings = load_settings(None, BASE | {"HREC_PASSWORD": SECRET})
    for text in (repr(settings), str(settings), repr(settings.tenants), *settings.warnings):
        assert SECRET not in text
    assert SECRET not in settings.model_dump_json()

    config = workdir / "c.env"
    config.write_text(f"PASSWORD={SECRET}\nPASSWORD_FILE=elsewhere\nBATCH_MAX_FILES=x\n")
    with pytest.raises(ConfigError) as error:
        load_settings(config, BASE)
    assert len(error.value.problems) == 2
    assert SECRET not in str(error.value)
    assert all(SECRET not in repr(problem) for problem in error.value.problems)


def test_an_empty_password_counts_as_missing(workdir: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(None, BASE | {"HREC_PASSWORD": ""})
    assert [str(p) for p in error.value.problems] == [
        "PASSWORD: must be set (or PASSWORD_FILE) (environment HREC_PASSWORD)"
    ]
