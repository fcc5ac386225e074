"""The checks of ``hrec-ingest check`` that need no server: settings, folders, journal, TLS files.

Each check returns a :class:`CheckResult`, one line of output. None of them
writes anything: folders exist once the settings have loaded (the loader
creates them, as ``run`` would), and the journal is opened read-only, or left
alone when there is none yet.
"""

from __future__ import annotations

import shutil
import sqlite3
import ssl
from dataclasses import dataclass
from pathlib import Path

from hrec_ingest.commands.explain import Explanation
from hrec_ingest.config import ConfigError, Problem, Settings, TenantSettings
from hrec_ingest.config.folders import FolderError, ensure_folder
from hrec_ingest.config.reference import FOLDER_KEYS
from hrec_ingest.journal import JOURNAL_NAME, Journal
from hrec_ingest.journal.schema import SCHEMA_VERSION
from hrec_ingest.miaop import TlsConfigError, make_ssl_context

# Folders the daemon fills with lasting data: where LOW_DISK_WARN_MB applies.
_GROWING = frozenset({"OUTPUT_DIR", "ARCHIVE_DIR"})


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome: its name, whether it passed, what was found, and what to do."""

    name: str
    ok: bool
    detail: str
    remedy: str = ""

    @classmethod
    def failed(cls, name: str, why: Explanation) -> CheckResult:
        """A failed check whose cause :func:`~hrec_ingest.commands.explain.explain` put in words."""
        return cls(name, False, why.problem, why.remedy)


def settings_problems(exc: ConfigError) -> list[CheckResult]:
    """One failed check per configuration problem, naming the key, its source and the fix."""
    return [_problem_result(problem) for problem in exc.problems]


def _problem_result(problem: Problem) -> CheckResult:
    key, source = problem.key, problem.source
    if key in FOLDER_KEYS:
        return CheckResult(
            f"folder {key}",
            False,
            f"{problem.message} ({source})",
            f"make it a folder this user can create, read and write, or point {key} elsewhere",
        )
    if source == "default":
        remedy = f"set {key} in the config file, or HREC_{key} in the environment"
    else:
        remedy = f"correct {key} where it is set ({source})"
    return CheckResult(f"setting {key}", False, f"{problem.message} ({source})", remedy)


def settings_check(settings: Settings) -> CheckResult:
    """The settings loaded: from where, and which tenants they define."""
    origin = (
        f"config file {settings.config_file}"
        if settings.config_file is not None
        else "no config file (environment and defaults)"
    )
    names = ", ".join(t.name for t in settings.tenants)
    mode = f"multi-tenant from {settings.tenants_file}" if settings.multi_tenant else "one tenant"
    detail = f"{origin}; {mode}: {names}"
    for warning in settings.warnings:
        detail += f"; note: {warning}"
    return CheckResult("settings", True, detail)


def folder_checks(settings: Settings) -> list[CheckResult]:
    """One check per folder: usable (listable and writable), free space, and archive moves."""
    return [
        _folder_check(settings, key, Path(getattr(settings, key.lower()))) for key in FOLDER_KEYS
    ]


def _folder_check(settings: Settings, key: str, path: Path) -> CheckResult:
    name = f"folder {key}"
    inboxes = [t.inbox for t in settings.tenants] if key == "FILES_DIR" else []
    for folder in [path, *inboxes]:
        try:
            ensure_folder(folder, settings.umask)
        except FolderError as exc:
            return CheckResult(
                name,
                False,
                f"{exc} ({settings.source_of(key)})",
                f"make it a folder this user can read and write, or point {key} elsewhere",
            )
    free = shutil.disk_usage(path).free
    detail = f"{path}: readable and writable, {_megabytes(free)} free"
    floor = settings.low_disk_warn_mb
    if key in _GROWING and floor and free < floor * 1_000_000:
        return CheckResult(
            name,
            False,
            f"{path}: only {_megabytes(free)} free, below LOW_DISK_WARN_MB={floor}",
            f"free space on that disk, or point {key} at a larger one",
        )
    if settings.multi_tenant and key == "FILES_DIR":
        detail += f"; tenant inboxes: {', '.join(t.inbox.name for t in settings.tenants)}"
    if key == "ARCHIVE_DIR" and path.stat().st_dev != settings.files_dir.stat().st_dev:
        detail += (
            "; note: on another file system than FILES_DIR, so archiving copies each file "
            "and then deletes it (slower, and briefly needs the space twice)"
        )
    return CheckResult(name, True, detail)


def _megabytes(size: int) -> str:
    if size >= 10_000_000_000:
        return f"{size / 1e9:.0f} GB"
    return f"{size / 1e9:.1f} GB" if size >= 1_000_000_000 else f"{size // 1_000_000} MB"


def journal_check(settings: Settings) -> CheckResult:
    """The journal opens (read-only) and is consistent; none yet is fine: ``run`` creates it."""
    path = settings.state_dir / JOURNAL_NAME
    if not path.is_file() or path.stat().st_size == 0:
        return CheckResult(
            "journal", True, f"none yet in {settings.state_dir}; `hrec-ingest run` creates it"
        )
    # Without a -wal file every page is in the main file, and an immutable read sees it all
    # without creating -wal/-shm files; with one (a daemon at work) share its -shm instead.
    wal = path.with_name(path.name + "-wal")
    uri = f"{path.as_uri()}?mode=ro" + ("" if wal.exists() else "&immutable=1")
    try:
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.DatabaseError as exc:
        return CheckResult("journal", False, f"cannot open {path}: {exc}", _JOURNAL_FIX)
    try:
        return _inspect_journal(db, path)
    except sqlite3.DatabaseError as exc:
        return CheckResult(
            "journal", False, f"{path} is damaged or not a journal ({exc})", _JOURNAL_FIX
        )
    finally:
        db.close()


_JOURNAL_FIX = (
    "check that STATE_DIR is the right folder; if it is, stop every hrec-ingest using it, keep "
    "a copy of the file, and repair it with `sqlite3 journal.sqlite3 .recover` (see the README)"
)


def _inspect_journal(db: sqlite3.Connection, path: Path) -> CheckResult:
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"meta", "tasks", "files"} <= tables:
        return CheckResult(
            "journal", False, f"{path} is not an hrec-ingest journal", "point STATE_DIR elsewhere"
        )
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None or int(row[0]) > SCHEMA_VERSION:
        return CheckResult(
            "journal",
            False,
            f"{path} was written by a newer hrec-ingest (schema {row[0] if row else '?'}, "
            f"this one reads {SCHEMA_VERSION})",
            "upgrade hrec-ingest",
        )
    journal = Journal(db, path)
    problems = journal.integrity_problems()
    if problems:
        return CheckResult(
            "journal", False, f"{path} is inconsistent: {'; '.join(problems[:3])}", _JOURNAL_FIX
        )
    files = sum(journal.file_counts().values())
    return CheckResult("journal", True, f"{path}: consistent, {files} files recorded")


def tls_check(settings: Settings) -> tuple[CheckResult, ssl.SSLContext | None]:
    """The TLS settings give an SSL context (CA_BUNDLE and client certificate files usable)."""
    try:
        context = make_ssl_context(
            verify=settings.tls_verify,
            ca_bundle=settings.ca_bundle,
            client_cert=settings.client_cert,
            client_key=settings.client_key,
        )
    except TlsConfigError as exc:
        return (
            CheckResult(
                "TLS",
                False,
                str(exc),
                "point it at a readable PEM file (CA_BUNDLE: CA certificates; CLIENT_CERT and "
                "CLIENT_KEY: the client certificate and its unencrypted private key)",
            ),
            None,
        )
    urls = [settings.keycloak_base_url or "", settings.api_base_url or ""]
    if not any(url.startswith("https:") for url in urls):
        detail = (
            "not used: KEYCLOAK_BASE_URL and API_BASE_URL are http://, so the password "
            "crosses the network unencrypted"
        )
    elif not settings.tls_verify:
        detail = "TLS_VERIFY=false: server certificates are NOT checked (for tests only)"
    else:
        detail = "server certificates are verified against the system CAs"
        if settings.ca_bundle is not None:
            detail += f" and CA_BUNDLE {settings.ca_bundle}"
    if settings.client_cert is not None:
        detail += f"; client certificate {settings.client_cert}"
    return CheckResult("TLS", True, detail), context


def language_check(tenant: TenantSettings) -> CheckResult:
    """BASE_LANGUAGE is written like the server's language names (capitalised, case-sensitive).

    The guide leaves the list of supported languages to the server's release
    notes, so the server itself decides when a task is sent; this catches
    the usual slip, a name in the wrong case (``hebrew``, ``ENGLISH``).
    """
    language = tenant.base_language
    name = f"language for tenant {tenant.name}"
    miscased = language[:1].islower() or (len(language) > 1 and language.isupper())
    if miscased or language != language.strip():
        return CheckResult(
            name,
            False,
            f"BASE_LANGUAGE {language!r} ({tenant.source_of('BASE_LANGUAGE')}) is not written "
            "like the server's language names, which are case-sensitive (Hebrew, English)",
            f"write it exactly as the server's release notes do, e.g. {language.strip().title()!r}",
        )
    return CheckResult(
        name, True, f"{language} (case-sensitive; the server checks it when a task is sent)"
    )
