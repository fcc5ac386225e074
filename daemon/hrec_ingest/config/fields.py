"""How each key's text becomes its value, and the running record of problems and warnings.

Relative paths resolve against the current working directory (not against the
config file's folder), ``~`` is expanded, and symbolic links are resolved, so
that every path the daemon holds is absolute and stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from pydantic import SecretStr

from hrec_ingest.config.errors import Problem
from hrec_ingest.config.parsing import (
    LOG_FORMAT_CHOICES,
    LOG_LEVEL_CHOICES,
    AdditionalInfo,
    BadValue,
    Parser,
    parse_additional_info,
    parse_address,
    parse_bool,
    parse_choice,
    parse_email,
    parse_export_formats,
    parse_extensions,
    parse_float,
    parse_int,
    parse_size,
    parse_task_name,
    parse_tenant_name,
    parse_umask,
    parse_url,
    show,
)
from hrec_ingest.config.reference import FOLDER_KEYS, SECRET_KEYS, SETTING_KEYS
from hrec_ingest.config.sources import RawValue


@dataclass
class Report:
    """Problems and warnings gathered while loading; nothing stops at the first problem."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, key: str, message: str, source: str) -> None:
        """Record that ``key`` (from ``source``) cannot be used, and why."""
        self.problems.append(Problem(key, message, source))


def parse_path(text: str) -> Path:
    """Make an absolute, resolved path of ``text``; a relative one starts at the working folder."""
    if not text.strip():
        raise BadValue("must not be empty")
    try:
        return (Path.cwd() / Path(text).expanduser()).resolve()
    except (OSError, ValueError, RuntimeError) as exc:
        # ValueError: a NUL byte; RuntimeError: an unknown ~user or a symlink loop.
        raise BadValue(f"{show(text)} is not a usable path ({exc})") from None


def _optional(parser: Parser) -> Parser:
    def parse(text: str) -> object:
        return None if not text.strip() else parser(text)

    return parse


def _text(text: str) -> str:
    return text.strip()


def _required_text(text: str) -> str:
    if not text.strip():
        raise BadValue("must not be empty")
    return text.strip()


def _secret(text: str) -> SecretStr | None:
    # Kept exactly as given: a secret's surrounding spaces may be intentional.
    return SecretStr(text) if text else None


def _int(minimum: int) -> Parser:
    return partial(parse_int, minimum=minimum)


def _seconds(*, zero_ok: bool) -> Parser:
    return partial(parse_float, minimum=0.0, exclusive=not zero_ok)


PARSERS: Mapping[str, Parser] = {
    "KEYCLOAK_BASE_URL": _optional(partial(parse_url, base=True)),
    "KEYCLOAK_CLIENT_ID": _required_text,
    "API_BASE_URL": _optional(partial(parse_url, base=True)),
    "TENANT": _optional(parse_tenant_name),
    "USERNAME": _optional(_text),
    "PASSWORD": _secret,
    "PASSWORD_FILE": _optional(parse_path),
    "SUPERVISOR_EMAIL": _optional(parse_email),
    "SUPERVISOR_NAME": _text,
    "TASK_NAME": parse_task_name,
    "BASE_LANGUAGE": _optional(_text),
    "GENERIC_ADDITIONAL_INFO": _optional(parse_additional_info),
    **{key: parse_path for key in FOLDER_KEYS},
    "TENANTS_FILE": _optional(parse_path),
    "AUDIO_EXTENSIONS": parse_extensions,
    "STABLE_SECONDS": _seconds(zero_ok=True),
    "BATCH_MAX_FILES": _int(1),
    "BATCH_MAX_BYTES": parse_size,
    "BATCH_MAX_WAIT_SECONDS": _seconds(zero_ok=True),
    "SUBMIT_CONCURRENCY": _int(1),
    "POLL_CONCURRENCY": _int(1),
    "POLL_INITIAL_DELAY_SECONDS": _seconds(zero_ok=True),
    "POLL_INTERVAL_SECONDS": _seconds(zero_ok=False),
    "POLL_MAX_INTERVAL_SECONDS": _seconds(zero_ok=False),
    "EXPORT_FORMATS": parse_export_formats,
    "TLS_VERIFY": parse_bool,
    "CA_BUNDLE": _optional(parse_path),
    "CLIENT_CERT": _optional(parse_path),
    "CLIENT_KEY": _optional(parse_path),
    "HTTP_TIMEOUT_SECONDS": _seconds(zero_ok=False),
    "METRICS_ADDR": parse_address,
    "LOG_FORMAT": partial(parse_choice, choices=LOG_FORMAT_CHOICES),
    "LOG_LEVEL": partial(parse_choice, choices=LOG_LEVEL_CHOICES),
    "ARCHIVE_RETENTION_DAYS": _optional(_seconds(zero_ok=False)),
    "WEBHOOK_URL": _optional(partial(parse_url, base=False)),
    "WEBHOOK_SECRET": _secret,
    "HTTP_RETRY_ATTEMPTS": _int(1),
    "HTTP_RETRY_MAX_SECONDS": _seconds(zero_ok=False),
    "RESCAN_SECONDS": _seconds(zero_ok=False),
    "SHUTDOWN_GRACE_SECONDS": _seconds(zero_ok=True),
    "READY_MAX_API_AGE_SECONDS": _seconds(zero_ok=False),
    "LOW_DISK_WARN_MB": _int(0),
    "UMASK": parse_umask,
    "SIMULATE": parse_bool,
}

if set(PARSERS) != SETTING_KEYS:  # pragma: no cover - caught by any test run
    raise AssertionError(f"parsers and reference differ: {set(PARSERS) ^ SETTING_KEYS}")


def parse_one(key: str, raw: RawValue, report: Report) -> tuple[bool, object]:
    """Parse one value, recording a problem (and a warning for non-strict JSON) on the way.

    Returns ``(True, value)`` on success and ``(False, None)`` after a problem.
    """
    try:
        value = PARSERS[key](raw.text)
    except BadValue as exc:
        message = str(exc) if key not in SECRET_KEYS else "cannot be used"
        report.problem(key, message, raw.source)
        return False, None
    if isinstance(value, AdditionalInfo):
        if not value.strict:
            report.warnings.append(
                f"{key} in {raw.source} is not strict JSON; read as {value.json}"
            )
        return True, value.json
    return True, value


def parse_values(raw: Mapping[str, RawValue], report: Report) -> dict[str, object]:
    """Parse every key; a key whose text is bad is left out, a key without text is ``None``."""
    values: dict[str, object] = {}
    for key in PARSERS:
        entry = raw.get(key)
        if entry is None:
            values[key] = None
            continue
        ok, value = parse_one(key, entry, report)
        if ok:
            values[key] = value
    return values
