"""config.env.example and SETTINGS_REFERENCE agree: every key documented, defaults as stated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hrec_ingest.config import SETTINGS_REFERENCE, Settings, load_settings
from hrec_ingest.config.fields import PARSERS

EXAMPLE = Path(__file__).resolve().parents[2] / "config.env.example"
# "KEY=value" or "# KEY=value": a key's line, active or showing its default.
ASSIGNMENT = re.compile(r"^(?P<comment>#\s*)?(?P<key>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


def example_assignments() -> list[tuple[str, str, bool]]:
    found = []
    for line in EXAMPLE.read_text().splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            found.append((match["key"], match["value"], match["comment"] is None))
    return found


def test_the_example_lists_every_key_exactly_once_and_nothing_else() -> None:
    keys = [key for key, _, _ in example_assignments()]

    assert sorted(keys) == sorted(info.key for info in SETTINGS_REFERENCE)


def test_the_example_shows_each_default_as_it_is() -> None:
    shown = {key: (value, active) for key, value, active in example_assignments()}

    for info in SETTINGS_REFERENCE:
        value, active = shown[info.key]
        if info.default is not None:
            assert not active, f"{info.key} should show its default commented out"
            assert value == info.default, info.key


def test_the_example_holds_no_secret() -> None:
    shown = {key: (value, active) for key, value, active in example_assignments()}
    for info in SETTINGS_REFERENCE:
        if info.secret:
            assert shown[info.key] == ("", False), info.key


def test_the_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    settings = load_settings(EXAMPLE, {"HREC_PASSWORD": "from-the-environment"})

    assert settings.tenants[0].name == "demo"
    assert settings.base_language == "Hebrew"
    assert settings.source_of("TENANT").startswith(f"{EXAMPLE} line ")
    assert settings.source_of("BATCH_MAX_BYTES") == "default"
    assert settings.warnings == ()


def test_the_reference_is_consistent_with_the_parsers_and_settings() -> None:
    keys = [info.key for info in SETTINGS_REFERENCE]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(PARSERS)
    for info in SETTINGS_REFERENCE:
        assert info.key.lower() in Settings.model_fields, info.key
        assert info.meaning and "\n" not in info.meaning, info.key
        if info.default is not None:
            PARSERS[info.key](info.default)  # every default parses


def test_the_reference_holds_the_interface_table_and_the_added_keys() -> None:
    interface_keys = {
        "KEYCLOAK_BASE_URL", "KEYCLOAK_CLIENT_ID", "API_BASE_URL", "TENANT", "USERNAME",
        "PASSWORD", "PASSWORD_FILE", "SUPERVISOR_EMAIL", "SUPERVISOR_NAME", "TASK_NAME",
        "BASE_LANGUAGE", "GENERIC_ADDITIONAL_INFO", "FILES_DIR", "OUTPUT_DIR", "ARCHIVE_DIR",
        "FAILED_DIR", "STATE_DIR", "TENANTS_FILE", "AUDIO_EXTENSIONS", "STABLE_SECONDS",
        "BATCH_MAX_FILES", "BATCH_MAX_BYTES", "BATCH_MAX_WAIT_SECONDS", "SUBMIT_CONCURRENCY",
        "POLL_CONCURRENCY", "POLL_INITIAL_DELAY_SECONDS", "POLL_INTERVAL_SECONDS",
        "POLL_MAX_INTERVAL_SECONDS", "EXPORT_FORMATS", "TLS_VERIFY", "CA_BUNDLE", "CLIENT_CERT",
        "CLIENT_KEY", "HTTP_TIMEOUT_SECONDS", "METRICS_ADDR", "LOG_FORMAT", "LOG_LEVEL",
        "ARCHIVE_RETENTION_DAYS", "WEBHOOK_URL", "WEBHOOK_SECRET",
    }  # fmt: skip
    added = {
        "HTTP_RETRY_ATTEMPTS": "6",
        "HTTP_RETRY_MAX_SECONDS": "300",
        "RESCAN_SECONDS": "30",
        "SHUTDOWN_GRACE_SECONDS": "10",
        "READY_MAX_API_AGE_SECONDS": "300",
        "LOW_DISK_WARN_MB": "1024",
        "UMASK": "0027",
        "SIMULATE": "false",
    }
    defaults = {info.key: info.default for info in SETTINGS_REFERENCE}

    assert set(defaults) == interface_keys | set(added)
    assert {key: defaults[key] for key in added} == added
