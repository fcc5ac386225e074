"""Each value's parsing and each validation rule: the message names the key and the source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hrec_ingest.config import ConfigError, FlagValue, load_settings
from hrec_ingest.config.parsing import BadValue, parse_size
from samples.config import MINIMAL


def problems_with(environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_settings(None, environ)
    return [str(problem) for problem in error.value.problems]


def env(key: str) -> str:
    return f"environment HREC_{key}"


BAD_VALUES = [
    ("POLL_INTERVAL_SECONDS", "ten", '"ten" is not a number'),
    ("POLL_INTERVAL_SECONDS", "0", "must be greater than 0, not 0"),
    ("POLL_INTERVAL_SECONDS", "nan", '"nan" is not a finite number'),
    ("STABLE_SECONDS", "-1", "must be 0 or more, not -1"),
    ("BATCH_MAX_FILES", "0", "must be 1 or more, not 0"),
    ("BATCH_MAX_FILES", "2.5", '"2.5" is not a whole number'),
    ("BATCH_MAX_BYTES", "2XB", '"2XB" is not a size (e.g. 2GB, 500MB, 1.5GiB or bytes)'),
    ("BATCH_MAX_BYTES", "0.5", "must be 1 or more, not 0"),
    ("HTTP_TIMEOUT_SECONDS", "0", "must be greater than 0, not 0"),
    ("HTTP_RETRY_ATTEMPTS", "0", "must be 1 or more, not 0"),
    ("LOW_DISK_WARN_MB", "-5", "must be 0 or more, not -5"),
    ("ARCHIVE_RETENTION_DAYS", "-2", "must be greater than 0, not -2"),
    ("EXPORT_FORMATS", "json,pdf", '"pdf" is not one of json, txt, srt, vtt'),
    ("EXPORT_FORMATS", " , ", "must name at least one of json, txt, srt, vtt"),
    ("AUDIO_EXTENSIONS", "wav,m p3", '"m p3" is not a file name extension'),
    ("LOG_FORMAT", "xml", '"xml" is not one of auto, json, console'),
    ("LOG_LEVEL", "verbose", '"verbose" is not one of debug, info, warning, error'),
    ("TLS_VERIFY", "maybe", '"maybe" is not a boolean (true/false/1/0/yes/no)'),
    ("SIMULATE", "perhaps", '"perhaps" is not a boolean (true/false/1/0/yes/no)'),
    ("UMASK", "0089", '"0089" is not an octal umask (e.g. 0027)'),
    ("UMASK", "0700", '"0700" would deny the daemon access to its own files'),
    ("METRICS_ADDR", "localhost", '"localhost" is not host:port (or empty to disable)'),
    ("METRICS_ADDR", "localhost:70000", '"localhost:70000" does not end in a port number 0-65535'),
    ("KEYCLOAK_BASE_URL", "ftp://kc.example.com", "is not an http(s) URL with a host"),
    ("API_BASE_URL", "https://", '"https://" is not an http(s) URL with a host'),
    ("API_BASE_URL", "https://example.com:99999", '"https://example.com:99999" is not a URL'),
    ("API_BASE_URL", "https://example.com/?x=1", "is a base URL and may not have a query"),
    ("WEBHOOK_URL", "hooks.example.com/x", "is not an http(s) URL with a host"),
    ("TENANT", "bad/name", '"bad/name" is not a tenant name'),
    ("TENANT", ".hidden", '".hidden" is not a tenant name'),
    ("SUPERVISOR_EMAIL", "nobody", '"nobody" is not an e-mail address'),
    ("TASK_NAME", "{user} task", '"{user} task" uses {user}; only {tenant}, {date}'),
    ("TASK_NAME", "{unclosed", '"{unclosed" is not a valid template'),
    ("TASK_NAME", "  ", "must not be empty"),
    ("KEYCLOAK_CLIENT_ID", "", "must not be empty"),
    ("GENERIC_ADDITIONAL_INFO", "[1, 2]", "must be a JSON object, not an array"),
    ("GENERIC_ADDITIONAL_INFO", "{oops", '"{oops" is not a JSON object'),
    ("GENERIC_ADDITIONAL_INFO", '{"a": NaN}', "holds a number that JSON cannot represent"),
    ("GENERIC_ADDITIONAL_INFO", "{'a': {1, 2}}", "holds a Python set, which JSON cannot"),
    ("GENERIC_ADDITIONAL_INFO", "{1: 'a'}", "has a key that is not a string"),
    ("CA_BUNDLE", "/nonexistent/ca.pem", "/nonexistent/ca.pem does not exist or is not a file"),
    ("FILES_DIR", "", "must not be empty"),
    ("OUTPUT_DIR", "out\x00put", "is not a usable path"),
]


@pytest.mark.parametrize(("key", "text", "message"), BAD_VALUES)
def test_a_bad_value_names_key_message_and_source(
    workdir: Path, key: str, text: str, message: str
) -> None:
    problems = problems_with(MINIMAL | {f"HREC_{key}": text})

    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{key}: ")
    assert message in problems[0]
    assert problems[0].endswith(f" ({env(key)})")


def test_the_briefs_own_examples_read_exactly(workdir: Path) -> None:
    environ = {k: v for k, v in MINIMAL.items() if k != "HREC_BASE_LANGUAGE"}
    environ["HREC_POLL_INTERVAL_SECONDS"] = "ten"

    assert problems_with(environ) == [
        'POLL_INTERVAL_SECONDS: "ten" is not a number (environment HREC_POLL_INTERVAL_SECONDS)',
        "BASE_LANGUAGE: must be set (default)",
    ]


def test_every_problem_is_reported_at_once(workdir: Path) -> None:
    environ = MINIMAL | {
        "HREC_STABLE_SECONDS": "soon",
        "HREC_BATCH_MAX_FILES": "-1",
        "HREC_EXPORT_FORMATS": "doc",
        "HREC_METRICS_ADDR": "nowhere",
        "HREC_GENERIC_ADDITIONAL_INFO": "[]",
        "HREC_CLIENT_CERT": str(workdir / "missing.pem"),
    }
    del environ["HREC_API_BASE_URL"]

    problems = problems_with(environ)

    keys = [problem.split(":", 1)[0] for problem in problems]
    assert sorted(keys) == sorted(
        [
            "API_BASE_URL",
            "STABLE_SECONDS",
            "BATCH_MAX_FILES",
            "EXPORT_FORMATS",
            "METRICS_ADDR",
            "GENERIC_ADDITIONAL_INFO",
            "CLIENT_CERT",
            "CLIENT_KEY",
        ]
    )
    assert "CLIENT_KEY: must be set together with CLIENT_CERT (default)" in problems
    assert "API_BASE_URL: must be set (default)" in problems


def test_credentials_and_urls_are_required_only_when_asked(workdir: Path) -> None:
    bare = {"HREC_BASE_LANGUAGE": "English"}

    assert problems_with(bare) == [
        "KEYCLOAK_BASE_URL: must be set (default)",
        "API_BASE_URL: must be set (default)",
        "TENANT: must be set (default)",
    ]
    settings = load_settings(None, bare, require_credentials=False)
    assert settings.tenants == ()
    assert settings.keycloak_base_url is None

    simulated = load_settings(
        None,
        {k: v for k, v in MINIMAL.items() if "URL" not in k},
        {"SIMULATE": FlagValue(True, "flag --simulate")},
    )
    assert simulated.simulate and simulated.api_base_url is None


def test_each_credential_is_required_for_the_tenant(workdir: Path) -> None:
    environ = {k: v for k, v in MINIMAL.items() if k not in ("HREC_USERNAME", "HREC_PASSWORD")}
    del environ["HREC_SUPERVISOR_EMAIL"]

    assert problems_with(environ) == [
        "USERNAME: must be set (default)",
        "SUPERVISOR_EMAIL: must be set (default)",
        "PASSWORD: must be set (or PASSWORD_FILE) (default)",
    ]


def test_polling_ceiling_below_the_interval_is_refused(workdir: Path) -> None:
    environ = MINIMAL | {"HREC_POLL_MAX_INTERVAL_SECONDS": "5"}
    assert problems_with(environ) == [
        "POLL_MAX_INTERVAL_SECONDS: must be at least POLL_INTERVAL_SECONDS (10) "
        "(environment HREC_POLL_MAX_INTERVAL_SECONDS)"
    ]


def test_values_are_parsed_into_their_types(workdir: Path) -> None:
    (workdir / "ca.pem").write_text("not checked here")
    environ = MINIMAL | {
        "HREC_BATCH_MAX_BYTES": "1.5GiB",
        "HREC_AUDIO_EXTENSIONS": ".WAV, mp3,,flac",
        "HREC_EXPORT_FORMATS": "TXT,json,txt",
        "HREC_METRICS_ADDR": "[::1]:0",
        "HREC_TLS_VERIFY": "No",
        "HREC_CA_BUNDLE": "ca.pem",
        "HREC_LOG_LEVEL": "DEBUG",
        "HREC_UMASK": "0o077",
        "HREC_KEYCLOAK_BASE_URL": "https://kc.example.com:8443/auth/",
        "HREC_ARCHIVE_RETENTION_DAYS": "0.5",
        "HREC_WEBHOOK_URL": "https://hooks.example.com/x?team=1",
        "HREC_WEBHOOK_SECRET": "hook-secret",
    }

    settings = load_settings(None, environ)

    assert settings.batch_max_bytes == 1_610_612_736
    assert settings.audio_extensions == frozenset({"wav", "mp3", "flac"})
    assert settings.export_formats == ("txt", "json")
    assert settings.metrics_addr == ("::1", 0)
    assert settings.tls_verify is False
    assert settings.ca_bundle == workdir / "ca.pem"
    assert settings.log_level == "debug"
    assert settings.umask == 0o077
    assert settings.keycloak_base_url == "https://kc.example.com:8443/auth"
    assert settings.archive_retention_days == 0.5
    assert settings.webhook_url == "https://hooks.example.com/x?team=1"
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == "hook-secret"
    assert "hook-secret" not in repr(settings)
    assert "TLS_VERIFY is false: server certificates are not checked" in settings.warnings
    assert "CA_BUNDLE is ignored because TLS_VERIFY is false" in settings.warnings


def test_an_empty_metrics_address_disables_the_endpoint(workdir: Path) -> None:
    settings = load_settings(None, MINIMAL | {"HREC_METRICS_ADDR": ""})
    assert settings.metrics_addr is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("FALSE", False), ("1", True), ("0", False), ("yes", True), ("No", False)],
)
def test_booleans(workdir: Path, text: str, expected: bool) -> None:
    settings = load_settings(None, MINIMAL | {"HREC_TLS_VERIFY": text})
    assert settings.tls_verify is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2GB", 2 * 10**9),
        ("500MB", 500 * 10**6),
        ("1.5GiB", 3 * 2**29),
        ("123", 123),
        ("1 kib", 1024),
        ("7b", 7),
        ("2T", 2 * 10**12),
    ],
)
def test_sizes(text: str, expected: int) -> None:
    assert parse_size(text) == expected


UNITS = {"": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


@given(st.integers(min_value=1, max_value=10**12), st.sampled_from(sorted(UNITS)))
def test_sizes_scale_by_their_unit(number: int, unit: str) -> None:
    assert parse_size(f"{number}{unit}") == number * UNITS[unit]


@given(st.text(max_size=30))
def test_size_parsing_either_gives_a_positive_size_or_says_why(text: str) -> None:
    try:
        assert parse_size(text) >= 1
    except BadValue as exc:
        assert str(exc)


def test_a_python_dict_literal_is_read_with_a_warning(workdir: Path) -> None:
    config = workdir / "c.env"
    config.write_text("GENERIC_ADDITIONAL_INFO={'a': [1, True, None], 'b': {'c': 'ש'}}\n")

    settings = load_settings(config, MINIMAL)

    assert json.loads(settings.generic_additional_info or "") == {
        "a": [1, True, None],
        "b": {"c": "ש"},
    }
    assert settings.warnings == (
        f"GENERIC_ADDITIONAL_INFO in {config} line 1 is not strict JSON; "
        'read as {"a": [1, true, null], "b": {"c": "ש"}}',
    )


def test_strict_json_is_normalised_without_a_warning(workdir: Path) -> None:
    environ = MINIMAL | {"HREC_GENERIC_ADDITIONAL_INFO": '{"k":"v",  "n": 1}'}
    settings = load_settings(None, environ)
    assert settings.generic_additional_info == '{"k": "v", "n": 1}'
    assert settings.warnings == ()


def test_additional_info_may_be_at_most_10_kb(workdir: Path) -> None:
    def info_of_size(size: int) -> str:
        text = json.dumps({"k": ""})
        return json.dumps({"k": "x" * (size - len(text))})

    exactly = load_settings(None, MINIMAL | {"HREC_GENERIC_ADDITIONAL_INFO": info_of_size(10240)})
    assert len((exactly.generic_additional_info or "").encode()) == 10240

    problems = problems_with(MINIMAL | {"HREC_GENERIC_ADDITIONAL_INFO": info_of_size(10241)})
    assert problems == [
        "GENERIC_ADDITIONAL_INFO: is 10241 bytes of JSON; at most 10240 are allowed "
        "(environment HREC_GENERIC_ADDITIONAL_INFO)"
    ]


def test_warnings_for_risky_but_valid_settings(workdir: Path) -> None:
    environ = MINIMAL | {
        "HREC_API_BASE_URL": "http://api.example.com",
        "HREC_KEYCLOAK_BASE_URL": "http://127.0.0.1:8080",
        "HREC_WEBHOOK_URL": "https://hooks.example.com/",
    }

    settings = load_settings(None, environ)

    assert settings.warnings == (
        "API_BASE_URL is plain http: the password travels unencrypted",
        "WEBHOOK_URL is set without WEBHOOK_SECRET: events are unsigned",
    )


def test_source_of_an_unknown_key_raises_key_error(workdir: Path) -> None:
    settings = load_settings(None, MINIMAL)
    assert settings.source_of("poll_interval_seconds") == "default"
    with pytest.raises(KeyError):
        settings.source_of("NO_SUCH_KEY")
