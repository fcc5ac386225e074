"""Where values come from: the reference config.env, precedence and provenance, the environment."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from hrec_ingest.config import ConfigError, FlagValue, load_settings
from samples.config import MINIMAL

# The guide's section 3.3 config.env, exactly as the reference script ships it.
REFERENCE_CONFIG_ENV = """\
KEYCLOAK_BASE_URL=https://example.com:8443
API_BASE_URL=https://example.com
TENANT=my-tenant
SUPERVISOR_EMAIL=admin@example.com
TASK_NAME=Offline Upload Task
FILES_DIR=./files
USERNAME=user
PASSWORD=123
BASE_LANGUAGE=Hebrew
GENERIC_ADDITIONAL_INFO={'generic_prop1':"generic_val1"}
"""


def problems_of(error: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


def test_the_unmodified_reference_config_env_loads(workdir: Path) -> None:
    (workdir / "config.env").write_text(REFERENCE_CONFIG_ENV)

    settings = load_settings(None, {})

    assert settings.keycloak_base_url == "https://example.com:8443"
    assert settings.api_base_url == "https://example.com"
    assert not settings.multi_tenant
    (tenant,) = settings.tenants
    assert tenant.name == "my-tenant"
    assert tenant.username == "user"
    assert tenant.password.get_secret_value() == "123"
    assert tenant.supervisor_email == "admin@example.com"
    assert tenant.task_name == "Offline Upload Task"
    assert tenant.base_language == "Hebrew"
    assert tenant.generic_additional_info == '{"generic_prop1": "generic_val1"}'
    assert tenant.inbox == workdir / "files"
    assert settings.files_dir == workdir / "files"
    assert (workdir / "files").is_dir()
    assert settings.config_file == workdir / "config.env"
    assert settings.warnings == (
        "GENERIC_ADDITIONAL_INFO in config.env line 10 is not strict JSON; "
        'read as {"generic_prop1": "generic_val1"}',
    )
    assert settings.source_of("USERNAME") == "config.env line 7"
    assert settings.source_of("PASSWORD") == "config.env line 8"
    assert settings.source_of("KEYCLOAK_CLIENT_ID") == "default"
    assert tenant.source_of("BASE_LANGUAGE") == "config.env line 9"


def test_without_a_config_file_only_defaults_and_the_environment_count(workdir: Path) -> None:
    settings = load_settings(None, MINIMAL)

    assert settings.config_file is None
    assert settings.files_dir == workdir / "hrec-data" / "inbox"
    assert settings.batch_max_bytes == 2_000_000_000
    assert settings.export_formats == ("json", "txt", "srt", "vtt")
    assert settings.metrics_addr == ("127.0.0.1", 9464)
    assert settings.umask == 0o027
    assert settings.source_of("TENANT") == "environment HREC_TENANT"


LAYERS = ("file", "env", "flag")


@pytest.mark.parametrize(
    "present",
    [combo for n in range(4) for combo in itertools.combinations(LAYERS, n)],
    ids=lambda combo: "+".join(combo) or "default-only",
)
def test_the_latest_source_wins_and_is_named(workdir: Path, present: tuple[str, ...]) -> None:
    config = workdir / "my.env"
    config.write_text("# comment\n\nBATCH_MAX_FILES=11\n" if "file" in present else "")
    environ = dict(MINIMAL)
    if "env" in present:
        environ["HREC_BATCH_MAX_FILES"] = "12"
    flags = {"BATCH_MAX_FILES": FlagValue(13 if "flag" in present else None, "flag --max-files")}

    settings = load_settings(config, environ, flags)

    expected = {
        "default-only": (20, "default"),
        "file": (11, f"{config} line 3"),
        "env": (12, "environment HREC_BATCH_MAX_FILES"),
        "flag": (13, "flag --max-files"),
    }["default-only" if not present else present[-1]]
    assert (settings.batch_max_files, settings.source_of("BATCH_MAX_FILES")) == expected


def test_flags_are_labelled_as_the_cli_says(workdir: Path) -> None:
    flags = {
        "USERNAME": FlagValue("bob", "flag -u"),
        "TASK_NAME": FlagValue("My Offline Task", "flag --tn"),
        "FILES_DIR": FlagValue(workdir / "samples", "flag -d"),
        "SIMULATE": FlagValue(True, "flag --simulate"),
        "SUPERVISOR_NAME": FlagValue(None, "flag --not-given"),
    }

    settings = load_settings(None, MINIMAL, flags)

    assert settings.username == "bob"
    assert settings.tenants[0].username == "bob"
    assert settings.tenants[0].source_of("USERNAME") == "flag -u"
    assert settings.source_of("TASK_NAME") == "flag --tn"
    assert settings.files_dir == workdir / "samples"
    assert settings.simulate is True
    assert settings.source_of("SUPERVISOR_NAME") == "default"


def test_a_flag_for_an_unknown_key_is_a_problem(workdir: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(None, MINIMAL, {"COLOUR": FlagValue("red", "flag --colour")})
    assert problems_of(error) == ["COLOUR: is not a setting (flag --colour)"]


def test_unprefixed_environment_variables_are_never_read(workdir: Path) -> None:
    environ = {k: v for k, v in MINIMAL.items() if k != "HREC_USERNAME"}
    environ |= {"USERNAME": "os-user", "PASSWORD": "os-pw", "FILES_DIR": "/elsewhere"}

    settings = load_settings(None, environ, require_credentials=False)
    assert settings.username is None
    assert settings.password is not None
    assert settings.password.get_secret_value() == "pw"
    assert settings.files_dir == workdir / "hrec-data" / "inbox"

    with pytest.raises(ConfigError) as error:
        load_settings(None, environ)
    assert problems_of(error) == ["USERNAME: must be set (default)"]


def test_unknown_prefixed_variables_and_file_keys_are_warnings(workdir: Path) -> None:
    config = workdir / "c.env"
    config.write_text("FAVOURITE_COLOUR=blue\n")

    settings = load_settings(config, MINIMAL | {"HREC_FULL": "1", "HREC_FAILPOINTS": ""})

    assert f"{config} line 1: FAVOURITE_COLOUR is not a setting; ignored" in settings.warnings
    assert "environment HREC_FULL is not a setting; ignored" in settings.warnings
    # The crash tests' kill points are read by the program itself: no warning.
    assert not any("HREC_FAILPOINTS" in w for w in settings.warnings)


def test_the_file_accepts_prefixed_and_lower_case_keys_and_export(workdir: Path) -> None:
    config = workdir / "c.env"
    config.write_text(
        "HREC_TENANT=prefixed\nbase_language=Hebrew\nexport STABLE_SECONDS=0.5  # inline\n"
    )
    environ = {k: v for k, v in MINIMAL.items() if k not in ("HREC_TENANT", "HREC_BASE_LANGUAGE")}

    settings = load_settings(config, environ)

    assert settings.tenant == "prefixed"
    assert settings.source_of("TENANT") == f"{config} line 1"
    assert settings.base_language == "Hebrew"
    assert settings.stable_seconds == 0.5
    assert settings.source_of("STABLE_SECONDS") == f"{config} line 3"


def test_an_empty_value_overrides_and_means_unset(workdir: Path) -> None:
    config = workdir / "c.env"
    config.write_text("TENANT=from-file\nBASE_LANGUAGE=Hebrew\n")

    with pytest.raises(ConfigError) as error:
        load_settings(config, MINIMAL | {"HREC_TENANT": "", "HREC_BASE_LANGUAGE": ""})

    assert problems_of(error) == [
        "TENANT: must be set (environment HREC_TENANT)",
        "BASE_LANGUAGE: must be set (environment HREC_BASE_LANGUAGE)",
    ]


def test_a_key_set_twice_in_the_file_keeps_the_last_and_warns(workdir: Path) -> None:
    config = workdir / "c.env"
    config.write_text("BATCH_MAX_FILES=1\nBATCH_MAX_FILES=2\n")

    settings = load_settings(config, MINIMAL)

    assert settings.batch_max_files == 2
    assert settings.source_of("BATCH_MAX_FILES") == f"{config} line 2"
    assert f"BATCH_MAX_FILES is set on lines 1, 2 of {config}; line 2 wins" in settings.warnings


def test_a_broken_line_is_reported_by_number_without_its_text(workdir: Path) -> None:
    config = workdir / "c.env"
    config.write_text('TENANT=demo\nPASSWORD="s3cret-Unterminated\nJUST_A_WORD\n')

    with pytest.raises(ConfigError) as error:
        load_settings(config, MINIMAL)

    assert problems_of(error) == [
        f"config file: line 2 is not KEY=VALUE ({config} line 2)",
        f"config file: line 3 is not KEY=VALUE ({config} line 3)",
    ]
    assert "s3cret" not in str(error.value)


def test_an_explicit_config_file_that_is_missing_is_a_problem(workdir: Path) -> None:
    missing = workdir / "nope.env"
    with pytest.raises(ConfigError) as error:
        load_settings(missing, MINIMAL)
    assert problems_of(error) == [
        f"config file: cannot be read: No such file or directory (file {missing})"
    ]


def test_a_config_file_that_is_not_utf8_or_not_a_file_is_a_problem(workdir: Path) -> None:
    latin = workdir / "latin.env"
    latin.write_bytes("SUPERVISOR_NAME=J\xf6rg\n".encode("latin-1"))
    with pytest.raises(ConfigError) as error:
        load_settings(latin, MINIMAL)
    assert problems_of(error)[0].startswith("config file: is not UTF-8 text")

    with pytest.raises(ConfigError) as error:
        load_settings(workdir, MINIMAL)
    assert problems_of(error) == [
        f"config file: cannot be read: not a regular file (file {workdir})"
    ]


def test_a_commands_own_defaults_sit_between_built_in_defaults_and_the_file(
    workdir: Path,
) -> None:
    config = workdir / "c.env"
    config.write_text("TENANT=configured\n")
    demo = {"TENANT": "demo", "USERNAME": "user", "PASSWORD": "demo-pw", "STABLE_SECONDS": "1"}
    environ = {k: v for k, v in MINIMAL.items() if k not in ("HREC_TENANT", "HREC_USERNAME")}
    del environ["HREC_PASSWORD"]

    settings = load_settings(config, environ, defaults=demo)

    assert settings.tenant == "configured"
    assert settings.username == "user"
    assert settings.source_of("USERNAME") == "command default"
    assert settings.source_of("PASSWORD") == "command default"
    assert settings.stable_seconds == 1.0

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ, defaults={"NOT_A_KEY": "x"})
    assert "NOT_A_KEY: is not a setting (command default)" in problems_of(error)
