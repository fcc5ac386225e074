"""Whatever text the config file or the tenants file holds, loading gives Settings or ConfigError.

The five folders are pinned by the environment (which wins over the file) to a
temporary folder, so that no generated path can create folders elsewhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hrec_ingest.config import SETTINGS_REFERENCE, TENANT_KEYS, ConfigError, load_settings

PASSWORD = "pw-Hq3-unseen"
KEYS = [info.key for info in SETTINGS_REFERENCE]
FUZZ = settings(
    max_examples=1000 if os.environ.get("HREC_FULL") == "1" else 150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

INTERESTING_VALUES = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "1e999",
        "nan",
        "true",
        "2GB",
        "1.5GiB",
        "https://example.com",
        "http://[::1",
        "json,txt",
        "0027",
        "127.0.0.1:9464",
        "{'a': 1}",
        '{"a": [1, 2]}',
        "{",
        "demo",
        ".hidden",
        "a/b",
        "{tenant} {count}",
        "{x}",
        "x@y",
        "/dev/null",
        "/nonexistent/file",
        "\x00",
        "~nobody-such-user/x",
    ]
)
VALUES = st.one_of(INTERESTING_VALUES, st.text(max_size=40))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    base = tmp_path_factory.mktemp("fuzz")
    yield {
        "HREC_FILES_DIR": str(base / "in"),
        "HREC_OUTPUT_DIR": str(base / "out"),
        "HREC_ARCHIVE_DIR": str(base / "archive"),
        "HREC_FAILED_DIR": str(base / "failed"),
        "HREC_STATE_DIR": str(base / "state"),
        "HREC_UMASK": "0027",
    }


def check_outcome(config: Path | None, environ: dict[str, str], require_credentials: bool) -> None:
    try:
        loaded = load_settings(config, environ, require_credentials=require_credentials)
    except ConfigError as error:
        event("ConfigError")
        assert error.problems
        for problem in error.problems:
            assert problem.key and problem.message and problem.source
            assert "\n" not in problem.key
        assert PASSWORD not in str(error)
    else:
        event("loaded")
        assert PASSWORD not in repr(loaded)
        assert all(PASSWORD not in warning for warning in loaded.warnings)


SETTING_LINES = st.tuples(st.sampled_from(KEYS + [f"HREC_{k}" for k in KEYS[:5]]), VALUES)
CONFIG_LINES = st.one_of(
    SETTING_LINES.map(lambda pair: f"{pair[0]}={pair[1]}"),
    SETTING_LINES.map(lambda pair: f"{pair[0]}={json.dumps(pair[1])}"),
    st.sampled_from(["", "# comment", "export X=1"]),
    st.text(max_size=60),
)
# Required values from the environment let some examples load; the file's own
# values for these keys are then shadowed, all others still count.
BASICS = {
    "HREC_BASE_LANGUAGE": "Hebrew",
    "HREC_TENANT": "demo",
    "HREC_USERNAME": "u",
    "HREC_SUPERVISOR_EMAIL": "s@example.com",
    "HREC_KEYCLOAK_BASE_URL": "https://kc.example.com",
    "HREC_API_BASE_URL": "https://api.example.com",
}


@FUZZ
@given(
    text=st.one_of(st.text(), st.lists(CONFIG_LINES, max_size=8).map("\n".join)),
    require_credentials=st.booleans(),
    basics=st.booleans(),
)
def test_any_config_file_text_loads_or_raises_config_error(
    sandbox: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    text: str,
    require_credentials: bool,
    basics: bool,
) -> None:
    config = tmp_path_factory.getbasetemp() / "fuzz.env"
    config.write_text(f"PASSWORD={PASSWORD}\n{text}\n", encoding="utf-8")
    check_outcome(config, sandbox | (BASICS if basics else {}), require_credentials)


KNOWN_TOML_KEYS = st.sampled_from([*TENANT_KEYS, *(k.lower() for k in TENANT_KEYS)])
TOML_KEYS = st.one_of(KNOWN_TOML_KEYS, KNOWN_TOML_KEYS, st.text(max_size=10))
TOML_VALUES = st.one_of(
    VALUES.map(lambda value: json.dumps(value, ensure_ascii=False)),
    st.integers().map(str),
    st.sampled_from(["true", "[1, 2]", "{a = 1}", "{a = {b = [1]}}", "1979-05-27", "nan"]),
)
TENANT_NAMES = st.one_of(
    st.sampled_from(["demo", "a.b", "x_1", ".dot", "Demo"]),
    st.from_regex(r"[a-z0-9][a-z0-9._-]{0,12}", fullmatch=True),
    st.text(),
)


def render_tenants(tables: dict[str, dict[str, str]]) -> str:
    parts = []
    for name, table in tables.items():
        parts.append(f"[tenants.{json.dumps(name, ensure_ascii=False)}]")
        parts.extend(
            f"{json.dumps(key, ensure_ascii=False)} = {value}" for key, value in table.items()
        )
    return "\n".join(parts) + "\n"


@FUZZ
@given(
    text=st.one_of(
        st.text(),
        st.dictionaries(
            TENANT_NAMES, st.dictionaries(TOML_KEYS, TOML_VALUES, max_size=5), max_size=4
        ).map(render_tenants),
    ),
    require_credentials=st.booleans(),
)
def test_any_tenants_file_text_loads_or_raises_config_error(
    sandbox: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    text: str,
    require_credentials: bool,
) -> None:
    tenants = tmp_path_factory.getbasetemp() / "fuzz-tenants.toml"
    tenants.write_text(text, encoding="utf-8")
    environ = sandbox | BASICS | {"HREC_TENANTS_FILE": str(tenants), "HREC_PASSWORD": PASSWORD}
    # An explicit empty config file: a ./config.env in the working folder must not count.
    empty = tenants.with_name("empty.env")
    empty.write_text("")
    check_outcome(empty, environ, require_credentials)


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=200),
        st.tuples(st.text(max_size=60), st.binary(min_size=1, max_size=8)).map(
            lambda t: t[0].encode("utf-8") + t[1]
        ),
    ),
    tenants=st.booleans(),
)
def test_any_bytes_in_either_file_load_or_raise_config_error(
    sandbox: dict[str, str], tmp_path_factory: pytest.TempPathFactory, data: bytes, tenants: bool
) -> None:
    """Not UTF-8, NUL bytes, a BOM, stray carriage returns: a ConfigError, never a crash."""
    base = tmp_path_factory.getbasetemp()
    config, tenants_file = base / "fuzz-bytes.env", base / "fuzz-bytes.toml"
    environ = sandbox | BASICS | {"HREC_PASSWORD": PASSWORD}
    if tenants:
        config.write_text("")
        tenants_file.write_bytes(data)
        environ["HREC_TENANTS_FILE"] = str(tenants_file)
    else:
        config.write_bytes(data)
    check_outcome(config, environ, require_credentials=True)
