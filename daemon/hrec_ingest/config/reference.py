"""Every setting key, its default and its meaning, as data.

This table is the single list the loader, ``config.env.example`` and the
README are checked against (interface.md section 3 plus the operational keys
added with the daemon). A default is written exactly as it would appear in a
config file; ``None`` means the key has no default (unset or required).
"""

from __future__ import annotations

from dataclasses import dataclass

ENV_PREFIX = "HREC_"


@dataclass(frozen=True, slots=True)
class SettingInfo:
    """One setting: its key, its default as config-file text (``None``: none), and its meaning."""

    key: str
    default: str | None
    meaning: str
    secret: bool = False


SETTINGS_REFERENCE: tuple[SettingInfo, ...] = (
    SettingInfo(
        "KEYCLOAK_BASE_URL", None, "Keycloak base URL, e.g. https://miaop.example.com:8443"
    ),
    SettingInfo("KEYCLOAK_CLIENT_ID", "browser_client", "Keycloak client id of the token request"),
    SettingInfo(
        "API_BASE_URL", None, "Meeting Insights API base URL, e.g. https://miaop.example.com"
    ),
    SettingInfo("TENANT", None, "tenant (Keycloak realm) of the single-tenant setup"),
    SettingInfo("USERNAME", None, "user name for the token request"),
    SettingInfo("PASSWORD", None, "password for the token request", secret=True),
    SettingInfo("PASSWORD_FILE", None, "file holding the password (one trailing newline stripped)"),
    SettingInfo("SUPERVISOR_EMAIL", None, "e-mail of the task supervisor (the task owner)"),
    SettingInfo("SUPERVISOR_NAME", "", "name of the task supervisor"),
    SettingInfo(
        "TASK_NAME",
        "Offline Upload Task",
        "task name; may use {tenant}, {date}, {first_file}, {count}",
    ),
    SettingInfo("BASE_LANGUAGE", None, "transcription language, e.g. Hebrew (case-sensitive)"),
    SettingInfo("GENERIC_ADDITIONAL_INFO", None, "JSON object sent with each task, at most 10 KB"),
    SettingInfo("FILES_DIR", "./hrec-data/inbox", "the inbox (drop folder)"),
    SettingInfo("OUTPUT_DIR", "./hrec-data/out", "where transcripts are written"),
    SettingInfo("ARCHIVE_DIR", "./hrec-data/archive", "where processed audio is moved"),
    SettingInfo(
        "FAILED_DIR", "./hrec-data/failed", "where audio that failed goes, with its reason"
    ),
    SettingInfo("STATE_DIR", "./hrec-data/state", "the journal (SQLite)"),
    SettingInfo("TENANTS_FILE", None, "TOML file of tenants: multi-tenant mode"),
    SettingInfo(
        "AUDIO_EXTENSIONS",
        "wav,mp3,m4a,ogg,oga,opus,flac,aac,wma,webm,mp4",
        "file name extensions that count as audio (comma-separated)",
    ),
    SettingInfo("STABLE_SECONDS", "5", "a file must keep its size and mtime this long to be taken"),
    SettingInfo("BATCH_MAX_FILES", "20", "files per task at most"),
    SettingInfo("BATCH_MAX_BYTES", "2GB", "bytes per task at most (2GB, 500MB, 1.5GiB or bytes)"),
    SettingInfo(
        "BATCH_MAX_WAIT_SECONDS", "30", "a batch is sent at most this long after its first file"
    ),
    SettingInfo("SUBMIT_CONCURRENCY", "4", "uploads in flight at once"),
    SettingInfo("POLL_CONCURRENCY", "16", "status requests in flight at once"),
    SettingInfo("POLL_INITIAL_DELAY_SECONDS", "5", "first status request after submission"),
    SettingInfo("POLL_INTERVAL_SECONDS", "10", "steady polling interval"),
    SettingInfo("POLL_MAX_INTERVAL_SECONDS", "300", "ceiling of the polling back-off"),
    SettingInfo(
        "EXPORT_FORMATS", "json,txt,srt,vtt", "transcript files to write (of json,txt,srt,vtt)"
    ),
    SettingInfo("TLS_VERIFY", "true", "verify server certificates"),
    SettingInfo("CA_BUNDLE", None, "PEM file of extra trusted CAs (default: the system's)"),
    SettingInfo("CLIENT_CERT", None, "client certificate (PEM) for mutual TLS, with CLIENT_KEY"),
    SettingInfo("CLIENT_KEY", None, "client private key (PEM) for mutual TLS, with CLIENT_CERT"),
    SettingInfo("HTTP_TIMEOUT_SECONDS", "60", "per request (uploads: per read/write, not total)"),
    SettingInfo(
        "METRICS_ADDR",
        "127.0.0.1:9464",
        "host:port of /metrics, /healthz, /readyz; empty disables",
    ),
    SettingInfo("LOG_FORMAT", "auto", "auto (console on a TTY, JSON otherwise), json or console"),
    SettingInfo("LOG_LEVEL", "info", "debug, info, warning or error"),
    SettingInfo("ARCHIVE_RETENTION_DAYS", None, "delete archived audio older than this (days)"),
    SettingInfo("WEBHOOK_URL", None, "where event notifications are POSTed"),
    SettingInfo("WEBHOOK_SECRET", None, "HMAC key of the X-Hrec-Signature header", secret=True),
    SettingInfo("HTTP_RETRY_ATTEMPTS", "6", "attempts per HTTP request before giving up"),
    SettingInfo(
        "HTTP_RETRY_MAX_SECONDS",
        "300",
        "no retry of an HTTP request starts later than this after its first attempt",
    ),
    SettingInfo("RESCAN_SECONDS", "30", "period of the full rescan of the inbox"),
    SettingInfo("SHUTDOWN_GRACE_SECONDS", "10", "on SIGTERM, time for work in flight to finish"),
    SettingInfo(
        "READY_MAX_API_AGE_SECONDS",
        "300",
        "/readyz fails when no API call succeeded this long while work is pending",
    ),
    SettingInfo(
        "LOW_DISK_WARN_MB",
        "1024",
        "warn below this much free space (MB, 10^6 bytes) in OUTPUT_DIR/ARCHIVE_DIR; 0: never",
    ),
    SettingInfo("UMASK", "0027", "octal umask of files and folders written (0027: 0640, 0750)"),
    SettingInfo("SIMULATE", "false", "run against the built-in simulator"),
)

SETTING_KEYS: frozenset[str] = frozenset(info.key for info in SETTINGS_REFERENCE)
SECRET_KEYS: frozenset[str] = frozenset(info.key for info in SETTINGS_REFERENCE if info.secret)
DEFAULTS: dict[str, str] = {
    info.key: info.default for info in SETTINGS_REFERENCE if info.default is not None
}

# Keys a [tenants.<name>] table may set; the others are global only.
TENANT_KEYS: tuple[str, ...] = (
    "USERNAME",
    "PASSWORD",
    "PASSWORD_FILE",
    "SUPERVISOR_EMAIL",
    "SUPERVISOR_NAME",
    "TASK_NAME",
    "BASE_LANGUAGE",
    "GENERIC_ADDITIONAL_INFO",
)

FOLDER_KEYS: tuple[str, ...] = ("FILES_DIR", "OUTPUT_DIR", "ARCHIVE_DIR", "FAILED_DIR", "STATE_DIR")
