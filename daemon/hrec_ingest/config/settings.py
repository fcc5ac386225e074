"""The daemon's settings: loading them from every source, checking them, and the result's shape.

Sources, later wins: built-in defaults < a command's own defaults < config
file (dotenv syntax; the guide's reference ``config.env`` works unchanged) <
``HREC_*`` environment variables < command-line flags. Every value remembers
where it came from (``Settings.source_of``), and every problem found is
reported at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, SecretStr

from hrec_ingest.config.credentials import Credential, file_credential
from hrec_ingest.config.errors import ConfigError
from hrec_ingest.config.fields import Report, parse_values
from hrec_ingest.config.folders import FolderError, check_relations, ensure_folder
from hrec_ingest.config.parsing import BadValue
from hrec_ingest.config.reference import FOLDER_KEYS, SETTINGS_REFERENCE, TENANT_KEYS
from hrec_ingest.config.sources import (
    CommandDefaultsSource,
    ConfigFileSource,
    DefaultsSource,
    EnvironSource,
    FlagsSource,
    FlagValue,
    LayerSource,
    RawValue,
    merge,
)
from hrec_ingest.config.tenants import TenantDraft, resolve_tenants
from hrec_ingest.config.validate import check_settings, source_of

DEFAULT_CONFIG_FILE = Path("config.env")


class TenantSettings(BaseModel):
    """One tenant's effective settings: its own values, else the global ones.

    ``username`` and ``password`` are empty only when the settings were loaded
    with ``require_credentials=False``; ``inbox`` is ``FILES_DIR/<name>`` in
    multi-tenant mode and ``FILES_DIR`` itself otherwise.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    username: str
    password: SecretStr
    supervisor_email: str
    supervisor_name: str
    task_name: str
    base_language: str
    generic_additional_info: str | None
    inbox: Path
    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    def source_of(self, key: str) -> str:
        """Where this tenant's value of ``key`` (one of the tenant keys) came from."""
        return self._sources[key.upper()]


class Settings(BaseModel):
    """Everything the daemon and its commands are configured with, parsed and checked.

    Attribute names are the keys in snake case. Paths are absolute and
    resolved. The per-tenant values to use are in ``tenants``; ``username``,
    ``password`` and the other tenant keys here are the global values the
    tenants fall back to.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    keycloak_base_url: str | None
    keycloak_client_id: str
    api_base_url: str | None
    tenant: str | None
    username: str | None
    password: SecretStr | None
    password_file: Path | None
    supervisor_email: str | None
    supervisor_name: str
    task_name: str
    base_language: str | None
    generic_additional_info: str | None
    files_dir: Path
    output_dir: Path
    archive_dir: Path
    failed_dir: Path
    state_dir: Path
    tenants_file: Path | None
    audio_extensions: frozenset[str]
    stable_seconds: float
    batch_max_files: int
    batch_max_bytes: int
    batch_max_wait_seconds: float
    submit_concurrency: int
    poll_concurrency: int
    poll_initial_delay_seconds: float
    poll_interval_seconds: float
    poll_max_interval_seconds: float
    export_formats: tuple[str, ...]
    tls_verify: bool
    ca_bundle: Path | None
    client_cert: Path | None
    client_key: Path | None
    http_timeout_seconds: float
    metrics_addr: tuple[str, int] | None
    log_format: Literal["auto", "json", "console"]
    log_level: Literal["debug", "info", "warning", "error"]
    archive_retention_days: float | None
    webhook_url: str | None
    webhook_secret: SecretStr | None
    http_retry_attempts: int
    http_retry_max_seconds: float
    rescan_seconds: float
    shutdown_grace_seconds: float
    ready_max_api_age_seconds: float
    low_disk_warn_mb: int
    umask: int
    simulate: bool

    config_file: Path | None
    tenants: tuple[TenantSettings, ...]
    multi_tenant: bool
    warnings: tuple[str, ...]
    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    def source_of(self, key: str) -> str:
        """Where the value of ``key`` came from, e.g. ``"config.env line 7"``,
        ``"environment HREC_POLL_INTERVAL_SECONDS"``, ``"flag --tn"`` or ``"default"``."""
        try:
            return self._sources[key.upper()]
        except KeyError:
            raise KeyError(f"{key} is not a setting") from None


def load_settings(
    config_file: Path | None,
    environ: Mapping[str, str],
    flags: Mapping[str, FlagValue] | None = None,
    *,
    require_credentials: bool = True,
    defaults: Mapping[str, str] | None = None,
    create_folders: bool = True,
) -> Settings:
    """Load, check and return the settings, or raise ``ConfigError`` listing every problem.

    ``config_file`` is the ``--config`` file; ``None`` means ``./config.env``
    if it exists. ``environ`` is read for ``HREC_*`` variables only. ``flags``
    maps keys to command-line values, each labelled for messages. With
    ``require_credentials=False`` (commands that never log in) the URLs,
    TENANT, USERNAME, PASSWORD and SUPERVISOR_EMAIL may be missing. Relative
    paths resolve against the current working folder; missing folders are
    created unless ``create_folders=False`` (read-only commands such as
    ``status``, which an operator may run without write access). ``defaults``
    are a command's own defaults (KEY -> text, e.g. the demo tenant of
    ``run --simulate``): above the built-in defaults, below the config file. Example::

        settings = load_settings(None, os.environ, {"USERNAME": FlagValue("bob", "flag -u")})
    """
    if config_file is None and DEFAULT_CONFIG_FILE.is_file():
        config_file = DEFAULT_CONFIG_FILE
    sources: tuple[LayerSource, ...] = (
        DefaultsSource(),
        CommandDefaultsSource(defaults or {}),
        ConfigFileSource(config_file),
        EnvironSource(environ),
        FlagsSource(flags or {}),
    )
    raw = merge(sources)
    report = Report()
    for source in sources:
        report.problems.extend(source.problems)
        report.warnings.extend(source.warnings)
    values = parse_values(raw, report)
    credential = _global_credential(values, raw, report)
    check_settings(values, raw, report, require_credentials=require_credentials)
    multi, drafts = resolve_tenants(
        values, raw, credential, report, require_credentials=require_credentials
    )
    _prepare_folders(values, raw, drafts, report, create=create_folders)
    if report.problems:
        raise ConfigError(report.problems)
    return _assemble(values, raw, credential, multi, drafts, report, config_file)


def _global_credential(
    values: Mapping[str, object], raw: Mapping[str, RawValue], report: Report
) -> Credential:
    password, password_file = values.get("PASSWORD"), values.get("PASSWORD_FILE")
    if "PASSWORD_FILE" not in values:
        return Credential(None, "default", failed=True)  # its problem is reported
    given = raw["PASSWORD"] if isinstance(password, SecretStr) else None
    if isinstance(password_file, Path):
        file_source = raw["PASSWORD_FILE"]
        if given is not None and given.rank == file_source.rank:
            report.problem(
                "PASSWORD_FILE", "is set together with PASSWORD; keep one", file_source.source
            )
            return Credential(None, file_source.source, failed=True)
        if given is None or file_source.rank > given.rank:
            try:
                return file_credential(password_file, file_source.source)
            except BadValue as exc:
                report.problem("PASSWORD_FILE", str(exc), file_source.source)
                return Credential(None, file_source.source, failed=True)
    if isinstance(password, SecretStr) and given is not None:
        return Credential(password, given.source)
    return Credential(None, source_of(raw, "PASSWORD"))


def _prepare_folders(
    values: Mapping[str, object],
    raw: Mapping[str, RawValue],
    drafts: list[TenantDraft],
    report: Report,
    *,
    create: bool,
) -> None:
    folders = {
        key: (path, source_of(raw, key))
        for key in FOLDER_KEYS
        if isinstance(path := values.get(key), Path)
    }
    umask = values.get("UMASK")
    if len(folders) < len(FOLDER_KEYS) or not isinstance(umask, int):
        return  # a path or the umask is bad: that is reported, and nothing is created
    if not check_relations(folders, report) or not create:
        return
    failed = set()
    for key, (path, source) in folders.items():
        try:
            ensure_folder(path, umask)
        except FolderError as exc:
            report.problem(key, str(exc), source)
            failed.add(key)
    if "FILES_DIR" in failed:
        return
    for draft in drafts:
        if draft.inbox is not None and draft.inbox != folders["FILES_DIR"][0]:
            try:
                ensure_folder(draft.inbox, umask)
            except FolderError as exc:
                report.problem(
                    "FILES_DIR", f"inbox of tenant {draft.name}: {exc}", source_of(raw, "FILES_DIR")
                )


def _assemble(
    values: Mapping[str, object],
    raw: Mapping[str, RawValue],
    credential: Credential,
    multi: bool,
    drafts: list[TenantDraft],
    report: Report,
    config_file: Path | None,
) -> Settings:
    fields: dict[str, object] = {info.key.lower(): values[info.key] for info in SETTINGS_REFERENCE}
    fields["password"] = credential.password
    fields["config_file"] = config_file.absolute() if config_file is not None else None
    fields["tenants"] = tuple(_tenant_settings(draft) for draft in drafts)
    fields["multi_tenant"] = multi
    fields["warnings"] = tuple(report.warnings)
    settings = Settings.model_validate(fields)
    settings._sources = {info.key: source_of(raw, info.key) for info in SETTINGS_REFERENCE}
    settings._sources["PASSWORD"] = credential.source
    return settings


def _tenant_settings(draft: TenantDraft) -> TenantSettings:
    fields: dict[str, object] = {key.lower(): value for key, value in draft.values.items()}
    fields["username"] = fields.get("username") or ""
    fields["supervisor_email"] = fields.get("supervisor_email") or ""
    fields["password"] = draft.password or SecretStr("")
    fields["name"], fields["inbox"] = draft.name, draft.inbox
    tenant = TenantSettings.model_validate(fields)
    tenant._sources = {key: draft.sources.get(key, "default") for key in TENANT_KEYS}
    # The password's source already names the file it was read from, if any.
    tenant._sources["PASSWORD_FILE"] = tenant._sources["PASSWORD"]
    return tenant
