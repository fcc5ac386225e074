"""Multi-tenant mode: the TENANTS_FILE, a TOML file of ``[tenants.<name>]`` tables.

Each table may set any of ``TENANT_KEYS`` (in upper or lower case); what a
table leaves out falls back to the global setting. Everything wrong in the file
is reported, naming the tenant's table, the key and the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from hrec_ingest.config.credentials import Credential, file_credential
from hrec_ingest.config.fields import Report, parse_one
from hrec_ingest.config.files import UnreadableFile, read_small_file
from hrec_ingest.config.parsing import (
    BadValue,
    additional_info_json,
    parse_tenant_name,
    show,
    show_key,
)
from hrec_ingest.config.reference import TENANT_KEYS
from hrec_ingest.config.sources import RANK_FILE, RawValue
from hrec_ingest.config.validate import is_unset, source_of

_ALLOWED = ", ".join(TENANT_KEYS)


@dataclass
class TenantEntry:
    """One ``[tenants.<name>]`` table: the values it sets (parsed) and where they came from."""

    name: str
    source: str
    values: dict[str, object] = field(default_factory=dict)
    credential: Credential | None = None
    password_failed: bool = False


def read_tenants_file(path: Path, setting_source: str, report: Report) -> list[TenantEntry]:
    """Read and check the tenants file at ``path``; problems go to ``report``.

    ``setting_source`` is where TENANTS_FILE itself was set, named when the
    file cannot be read at all.
    """
    document = _load_toml(path, setting_source, report)
    if document is None:
        return []
    where = f"file {path}"
    for key in document:
        if key != "tenants":
            report.problem(
                show_key(key), "is not allowed at the top level; use [tenants.<name>]", where
            )
    tables = document.get("tenants")
    if not isinstance(tables, dict) or not tables:
        report.problem("TENANTS_FILE", f"{path} defines no [tenants.<name>] table", setting_source)
        return []
    entries: list[TenantEntry] = []
    folded: dict[str, str] = {}
    for name, table in tables.items():
        if not _check_name(name, path, folded, report):
            continue
        if not isinstance(table, dict):
            report.problem("TENANTS_FILE", f"tenants.{name} must be a table", where)
            continue
        entries.append(_read_table(name, table, f"{path} [tenants.{name}]", report))
    return entries


def _load_toml(path: Path, setting_source: str, report: Report) -> dict[str, Any] | None:
    try:
        text = read_small_file(path).decode("utf-8")
    except UnreadableFile as exc:
        report.problem("TENANTS_FILE", f"cannot read {path}: {exc}", setting_source)
        return None
    except UnicodeDecodeError:
        report.problem("TENANTS_FILE", f"{path} is not UTF-8 text", setting_source)
        return None
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        # tomllib names the line and column, never the text there (it may be a password).
        report.problem("TENANTS_FILE", f"{path} is not valid TOML: {exc}", setting_source)
        return None


def _check_name(name: str, path: Path, folded: dict[str, str], report: Report) -> bool:
    where = f"file {path}"
    try:
        if parse_tenant_name(name) != name:
            raise BadValue(f"{show(name)} has surrounding white space")
    except BadValue as exc:
        report.problem("TENANTS_FILE", str(exc), where)
        return False
    other = folded.setdefault(name.casefold(), name)
    if other != name:
        # Their inboxes would be one folder on case-insensitive file systems.
        report.problem("TENANTS_FILE", f"tenants {other} and {name} differ only in case", where)
        return False
    return True


def _read_table(name: str, table: dict[str, Any], source: str, report: Report) -> TenantEntry:
    entry = TenantEntry(name, source)
    spelled: dict[str, str] = {}
    for spelling, value in table.items():
        key = spelling.upper()
        if key not in TENANT_KEYS:
            report.problem(
                show_key(spelling),
                f"is not a tenant setting (a tenant may set {_ALLOWED})",
                source,
            )
            continue
        if key in spelled:
            report.problem(spelling, f"is set twice in the table (also as {spelled[key]})", source)
            continue
        spelled[key] = spelling
        parsed = _parse_value(spelling, key, value, source, report)
        if parsed is not None:
            entry.values[key] = parsed
    password, password_file = entry.values.get("PASSWORD"), entry.values.get("PASSWORD_FILE")
    if password is not None and password_file is not None:
        report.problem(spelled["PASSWORD_FILE"], "is set together with PASSWORD; keep one", source)
        entry.password_failed = True
    elif isinstance(password_file, Path):
        try:
            entry.credential = file_credential(password_file, source)
        except BadValue as exc:
            report.problem(spelled["PASSWORD_FILE"], str(exc), source)
            entry.password_failed = True
    elif isinstance(password, SecretStr):
        entry.credential = Credential(password, source)
    return entry


def _parse_value(spelling: str, key: str, value: object, source: str, report: Report) -> object:
    if key == "GENERIC_ADDITIONAL_INFO" and isinstance(value, dict):
        # A TOML table is the natural way to write a JSON object in this file.
        try:
            return additional_info_json(value)
        except BadValue as exc:
            report.problem(spelling, str(exc), source)
            return None
    if not isinstance(value, str):
        kind = "a string or a table" if key == "GENERIC_ADDITIONAL_INFO" else "a quoted string"
        report.problem(spelling, f"must be {kind}", source)
        return None
    ok, parsed = parse_one(key, RawValue(value, source, RANK_FILE), report)
    return parsed if ok else None


@dataclass
class TenantDraft:
    """A tenant's effective values (its own, else the global ones) and their sources."""

    name: str
    inbox: Path | None
    values: dict[str, object] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    password: SecretStr | None = None
    password_failed: bool = False


def resolve_tenants(
    values: Mapping[str, object],
    raw: Mapping[str, RawValue],
    credential: Credential,
    report: Report,
    *,
    require_credentials: bool,
) -> tuple[bool, list[TenantDraft]]:
    """Work out the tenants: those of TENANTS_FILE, else the single TENANT (inbox FILES_DIR).

    Returns whether this is multi-tenant mode, and one draft per tenant with
    the global values filled in where the tenant sets none. Missing required
    values are reported per tenant.
    """
    if "TENANTS_FILE" not in values:
        return True, []  # its problem is reported; which tenants were meant is unknown
    files_dir, tenants_file = values.get("FILES_DIR"), values["TENANTS_FILE"]
    multi = isinstance(tenants_file, Path)
    if isinstance(tenants_file, Path):
        entries = read_tenants_file(tenants_file, source_of(raw, "TENANTS_FILE"), report)
    elif isinstance(tenant := values.get("TENANT"), str):
        entries = [TenantEntry(tenant, source_of(raw, "TENANT"))]
    else:
        entries = []
        if require_credentials and is_unset(values, "TENANT"):
            report.problem("TENANT", "must be set", source_of(raw, "TENANT"))
        if is_unset(values, "BASE_LANGUAGE"):
            report.problem("BASE_LANGUAGE", "must be set", source_of(raw, "BASE_LANGUAGE"))
    drafts = []
    for entry in entries:
        inbox = None
        if isinstance(files_dir, Path):
            inbox = files_dir / entry.name if multi else files_dir
        draft = _draft(entry, inbox, values, raw, credential)
        _check_required(draft, values, report, multi=multi, require_credentials=require_credentials)
        drafts.append(draft)
    return multi, drafts


def _draft(
    entry: TenantEntry,
    inbox: Path | None,
    values: Mapping[str, object],
    raw: Mapping[str, RawValue],
    credential: Credential,
) -> TenantDraft:
    draft = TenantDraft(entry.name, inbox)
    for key in TENANT_KEYS:
        if key in ("PASSWORD", "PASSWORD_FILE"):
            continue
        if key in entry.values:
            draft.values[key], draft.sources[key] = entry.values[key], entry.source
        elif key in values:
            draft.values[key], draft.sources[key] = values[key], source_of(raw, key)
    own = entry.credential or credential
    draft.password, draft.sources["PASSWORD"] = own.password, own.source
    draft.password_failed = own.failed or entry.password_failed
    return draft


def _check_required(
    draft: TenantDraft,
    values: Mapping[str, object],
    report: Report,
    *,
    multi: bool,
    require_credentials: bool,
) -> None:
    required = ["BASE_LANGUAGE"]
    if require_credentials:
        required += ["USERNAME", "SUPERVISOR_EMAIL"]
    where = f" for tenant {draft.name}, in its table or globally" if multi else ""
    for key in required:
        # A key absent from draft.values failed to parse: already reported.
        if key in draft.values and draft.values[key] is None:
            report.problem(key, f"must be set{where}", draft.sources[key])
    if require_credentials and draft.password is None and not draft.password_failed:
        report.problem(
            "PASSWORD", f"must be set (or PASSWORD_FILE){where}", draft.sources["PASSWORD"]
        )
