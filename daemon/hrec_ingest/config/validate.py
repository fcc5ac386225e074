"""Checks that look at more than one key, or at the file system, once every value is parsed.

``values`` maps each key to its parsed value; a key whose text could not be
parsed is absent (its problem is already reported), so each check here skips
what it cannot judge rather than report the same mistake twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from hrec_ingest.config.fields import Report
from hrec_ingest.config.sources import RawValue

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def source_of(raw: Mapping[str, RawValue], key: str) -> str:
    """Where the value of ``key`` came from; ``"default"`` when nothing set it."""
    entry = raw.get(key)
    return entry.source if entry is not None else "default"


def is_unset(values: Mapping[str, object], key: str) -> bool:
    """Whether ``key`` was parsed fine and has no value (not: whether it failed to parse)."""
    return key in values and values[key] is None


def check_settings(
    values: Mapping[str, object],
    raw: Mapping[str, RawValue],
    report: Report,
    *,
    require_credentials: bool,
) -> None:
    """Run every check that spans keys or touches files, except tenants' and folders'."""
    simulate = values.get("SIMULATE") is True
    for key in ("KEYCLOAK_BASE_URL", "API_BASE_URL"):
        if require_credentials and not simulate and is_unset(values, key):
            report.problem(key, "must be set", source_of(raw, key))
        url = values.get(key)
        if isinstance(url, str) and not simulate and urlsplit(url).scheme == "http":
            if urlsplit(url).hostname not in _LOOPBACK:
                report.warnings.append(f"{key} is plain http: the password travels unencrypted")
    _check_polling(values, raw, report)
    _check_tls(values, raw, report)
    if values.get("WEBHOOK_URL") is not None and is_unset(values, "WEBHOOK_SECRET"):
        report.warnings.append("WEBHOOK_URL is set without WEBHOOK_SECRET: events are unsigned")
    if values.get("TENANTS_FILE") is not None and values.get("TENANT") is not None:
        report.warnings.append("TENANT is ignored: TENANTS_FILE names the tenants")


def _check_polling(
    values: Mapping[str, object], raw: Mapping[str, RawValue], report: Report
) -> None:
    interval, ceiling = values.get("POLL_INTERVAL_SECONDS"), values.get("POLL_MAX_INTERVAL_SECONDS")
    if isinstance(interval, float) and isinstance(ceiling, float) and ceiling < interval:
        report.problem(
            "POLL_MAX_INTERVAL_SECONDS",
            f"must be at least POLL_INTERVAL_SECONDS ({interval:g})",
            source_of(raw, "POLL_MAX_INTERVAL_SECONDS"),
        )


def _check_tls(values: Mapping[str, object], raw: Mapping[str, RawValue], report: Report) -> None:
    for key in ("CA_BUNDLE", "CLIENT_CERT", "CLIENT_KEY"):
        path = values.get(key)
        if isinstance(path, Path):
            problem = _unreadable_file(path)
            if problem:
                report.problem(key, problem, source_of(raw, key))
    for key, other in (("CLIENT_CERT", "CLIENT_KEY"), ("CLIENT_KEY", "CLIENT_CERT")):
        if values.get(key) is not None and is_unset(values, other):
            report.problem(other, f"must be set together with {key}", source_of(raw, other))
    if values.get("TLS_VERIFY") is False:
        report.warnings.append("TLS_VERIFY is false: server certificates are not checked")
        if values.get("CA_BUNDLE") is not None:
            report.warnings.append("CA_BUNDLE is ignored because TLS_VERIFY is false")


def _unreadable_file(path: Path) -> str | None:
    try:
        if not path.is_file():
            return f"{path} does not exist or is not a file"
        with path.open("rb"):
            pass
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    return None
