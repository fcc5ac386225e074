"""README.md stays true to the code: error names, log events, the tenants example, the schema.

The operator's sections of the README quote names the code writes: the
``.error.json`` error names, log event names, the journal's schema version.
These tests read them from the code (by parsing its source, so no name can be
added without the README hearing of it) and hold the README to them.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hrec_ingest.config import load_settings
from hrec_ingest.journal.schema import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PACKAGE = ROOT / "daemon" / "hrec_ingest"
# Where a file's failure is decided: the sniffer and the pipeline's stages.
FAILURE_SOURCES = [PACKAGE / "audio.py", *sorted((PACKAGE / "pipeline").glob("*.py"))]
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}
EVENT = re.compile(r"[a-z]+\.[a-z_]+")
# `name.ext` in the README is a file, not an event, even where `name` is an event's prefix.
FILE_SUFFIXES = {"env", "json", "jsonl", "md", "pem", "service", "sqlite3", "toml", "txt", "wav"}
ERROR_NAME = re.compile(r"[A-Z][A-Za-z0-9]+")


def readme() -> str:
    return README.read_text()


def section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next ``## ``."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", readme(), re.M | re.S)
    assert match, f"README.md has no section '## {title}'"
    return match[1]


def _called(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _names_in(node: ast.AST) -> Iterator[str]:
    """Error names an expression can produce: its string constants, f-string prefixes."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if ERROR_NAME.fullmatch(node.value):
            yield node.value
    elif isinstance(node, ast.JoinedStr):
        head = node.values[0] if node.values else None
        if isinstance(head, ast.Constant) and isinstance(head.value, str):
            yield f"{head.value}<"  # f"Rejected{status}" -> "Rejected<"
    else:
        for child in ast.iter_child_nodes(node):
            yield from _names_in(child)


def _name_arguments(node: ast.AST) -> Iterator[ast.AST]:
    """The expressions that give a failure its name, where ``node`` is one."""
    if isinstance(node, ast.ClassDef) and node.name == "NotAudioError":
        # The name the error carries when a raise gives none.
        for init in node.body:
            if isinstance(init, ast.FunctionDef) and init.name == "__init__":
                yield from init.args.defaults
    elif isinstance(node, ast.Call):
        called = _called(node)
        if called == "NotAudioError" and len(node.args) > 1:
            yield node.args[1]
        elif called == "_fail" and len(node.args) > 3:  # the exporter's
            yield node.args[3]
        elif called == "error_doc":
            yield from (k.value for k in node.keywords if k.arg == "name")


def error_names_in_code() -> set[str]:
    """Every ``.error.json`` error name the code can write, read from its source."""
    names: set[str] = set()
    for path in FAILURE_SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for argument in _name_arguments(node):
                names |= set(_names_in(argument))
    return names


def log_events_in_code() -> set[str]:
    """Every event name the daemon logs: the first argument of ``log.<level>(...)``, or of
    a plain function call (``report = log.error if ... else log.warning; report(...)``)."""
    events: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            logs = isinstance(node.func, ast.Name) or (
                isinstance(node.func, ast.Attribute) and node.func.attr in LOG_METHODS
            )
            if logs and isinstance(first, ast.Constant) and isinstance(first.value, str):
                if EVENT.fullmatch(first.value):
                    events.add(first.value)
    return events


def test_the_code_scan_finds_the_known_names() -> None:
    names = error_names_in_code()
    # A scan that silently found nothing would pass everything below.
    assert {"NotAudio", "EmptyFile", "TooLarge", "Rejected<", "MissingMeeting"} <= names
    assert {"file.failed", "export.disk_refused", "journal.unusable"} <= log_events_in_code()


def test_every_error_name_is_explained() -> None:
    table = section("How a file travels")
    for name in sorted(error_names_in_code()):
        quoted = f"`{name}" if name.endswith("<") else f"`{name}`"
        assert quoted in table, f"README's .error.json table does not explain {name}"


def test_every_quoted_log_event_exists() -> None:
    events = log_events_in_code()
    namespaces = {event.split(".")[0] for event in events if "." in event}
    text = readme()
    quoted = set(re.findall(r"`([a-z]+\.[a-z_]+)`", text))
    quoted |= set(re.findall(r"^    ([a-z]+\.[a-z_]+) \(", text, re.M))
    quoted = {
        q for q in quoted if q.split(".")[0] in namespaces and q.split(".")[1] not in FILE_SUFFIXES
    }
    assert quoted, "no log event found in the README"
    unknown = quoted - events
    assert not unknown, f"README quotes log events the code never logs: {sorted(unknown)}"


def test_the_schema_version_is_the_journals() -> None:
    (stated,) = re.findall(r"This version writes schema (\d+)\.", section("Upgrading"))
    assert int(stated) == SCHEMA_VERSION


def test_the_tenants_example_loads(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", section("Configuration"), re.S)
    assert len(blocks) == 1, "expected one TOML example under Configuration"
    example = tomllib.loads(blocks[0])
    # The example's credential paths exist only on a server: point them at a file here.
    password = tmp_path / "password"
    password.write_text("secret\n")
    text = re.sub(r'(?m)^PASSWORD_FILE = ".*"$', f'PASSWORD_FILE = "{password}"', blocks[0])
    tenants_file = tmp_path / "tenants.toml"
    tenants_file.write_text(text)
    environ = {
        "HREC_KEYCLOAK_BASE_URL": "https://miaop.example.com:8443",
        "HREC_API_BASE_URL": "https://miaop.example.com",
        "HREC_SUPERVISOR_EMAIL": "supervisor@example.com",
        "HREC_BASE_LANGUAGE": "English",
        "HREC_TENANTS_FILE": str(tenants_file),
    }
    for key in ("FILES_DIR", "OUTPUT_DIR", "ARCHIVE_DIR", "FAILED_DIR", "STATE_DIR"):
        environ[f"HREC_{key}"] = str(tmp_path / key.lower())

    settings = load_settings(None, environ)

    assert settings.multi_tenant
    assert [t.name for t in settings.tenants] == list(example["tenants"])
    by_name = {t.name: t for t in settings.tenants}
    # What the README says of the example: a table's own values, else the global ones.
    assert by_name["acme"].base_language == "Hebrew"
    assert by_name["globex"].base_language == "English"
    for tenant in settings.tenants:
        assert tenant.inbox == tmp_path / "files_dir" / tenant.name
        assert tenant.inbox.is_dir(), "each tenant's inbox is created at start"


@pytest.mark.parametrize("heading", ["Running in production", "Upgrading", "Troubleshooting"])
def test_operator_sections_exist(heading: str) -> None:
    assert section(heading).strip()


def test_troubleshooting_ends_by_pointing_at_check() -> None:
    last = section("Troubleshooting").strip().splitlines()[-1]
    assert last == "Run `hrec-ingest check` first: it names the setting to fix."
