"""Turning the text of one setting into its value: pure functions, no I/O.

Each parser takes the text a source gave and returns the value, or raises
``BadValue`` whose message is what an operator reads after the key. Messages
quote the offending text (never for secrets, which have no parser that quotes).
"""

from __future__ import annotations

import ast
import json
import math
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import urlsplit

GAI_MAX_BYTES = 10 * 1024
# Far above the 10 KB limit; stops pathological input before it reaches the parsers.
_GAI_MAX_INPUT = 1024 * 1024
EXPORT_FORMAT_CHOICES = ("json", "txt", "srt", "vtt")
LOG_FORMAT_CHOICES = ("auto", "json", "console")
LOG_LEVEL_CHOICES = ("debug", "info", "warning", "error")
TASK_NAME_FIELDS = ("tenant", "date", "first_file", "count")

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
# Decimal units are powers of 1000, binary ("i") units powers of 1024.
_SIZE = re.compile(r"(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?:(?P<prefix>[kmgt])(?P<binary>i?)b?|b)?")
_SIZE_POWER = {"k": 1, "m": 2, "g": 3, "t": 4}
_EXTENSION = re.compile(r"[a-z0-9][a-z0-9_+-]*")
_UMASK = re.compile(r"(?:0o)?[0-7]{1,4}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TENANT_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}")

Parser = Callable[[str], object]
_Number = TypeVar("_Number", int, float)


class BadValue(ValueError):
    """The text of a setting cannot be used; the message says why."""


def show_key(name: str) -> str:
    """A key as written, quoted like ``show`` unless it is a plain identifier."""
    return name if _IDENTIFIER.fullmatch(name) else show(name)


def show(text: str) -> str:
    """Quote a value for a message: JSON string syntax, shortened to one readable line."""
    shown = text if len(text) <= 60 else text[:57] + "..."
    return json.dumps(shown, ensure_ascii=False)


def parse_bool(text: str) -> bool:
    """Read true/false/1/0/yes/no, in any letter case."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise BadValue(f"{show(text)} is not a boolean (true/false/1/0/yes/no)")


def parse_int(text: str, minimum: int) -> int:
    """Read a whole number of at least ``minimum``."""
    try:
        value = int(text.strip())
    except ValueError:
        _parse_finite(text)  # says "not a number" when it is not one at all
        raise BadValue(f"{show(text)} is not a whole number") from None
    return _at_least(value, minimum)


def parse_float(text: str, minimum: float, *, exclusive: bool) -> float:
    """Read a finite number; above ``minimum`` when exclusive, else at least ``minimum``."""
    value = _parse_finite(text)
    if exclusive and value <= minimum:
        raise BadValue(f"must be greater than {minimum:g}, not {text.strip()}")
    return _at_least(value, minimum)


def parse_size(text: str) -> int:
    """Read a size in bytes: plain bytes, or KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB
    (powers of 1024), e.g. ``2GB``, ``500MB``, ``1.5GiB``; letter case does not matter."""
    match = _SIZE.fullmatch(text.strip().lower())
    if match is None:
        raise BadValue(f"{show(text)} is not a size (e.g. 2GB, 500MB, 1.5GiB or bytes)")
    try:
        number = Decimal(match["number"])
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimal numbers
        raise BadValue(f"{show(text)} is not a size") from None
    prefix = match["prefix"]
    if prefix:
        number *= (1024 if match["binary"] else 1000) ** _SIZE_POWER[prefix]
    return _at_least(int(number), 1)


def parse_list(text: str) -> list[str]:
    """Split comma-separated text into its non-empty, stripped items."""
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_extensions(text: str) -> frozenset[str]:
    """Read file name extensions, lower-case, without the dot (``.WAV`` and ``wav`` are alike)."""
    extensions = {item.lower().removeprefix(".") for item in parse_list(text)}
    for extension in sorted(extensions):
        if not _EXTENSION.fullmatch(extension):
            raise BadValue(f"{show(extension)} is not a file name extension")
    if not extensions:
        raise BadValue("must name at least one extension")
    return frozenset(extensions)


def parse_export_formats(text: str) -> tuple[str, ...]:
    """Read a list of transcript formats, in order, without repeats."""
    formats = tuple(dict.fromkeys(item.lower() for item in parse_list(text)))
    for fmt in formats:
        if fmt not in EXPORT_FORMAT_CHOICES:
            raise BadValue(f"{show(fmt)} is not one of {', '.join(EXPORT_FORMAT_CHOICES)}")
    if not formats:
        raise BadValue(f"must name at least one of {', '.join(EXPORT_FORMAT_CHOICES)}")
    return formats


def parse_choice(text: str, choices: tuple[str, ...]) -> str:
    """Read one of ``choices``, in any letter case."""
    word = text.strip().lower()
    if word not in choices:
        raise BadValue(f"{show(text)} is not one of {', '.join(choices)}")
    return word


def parse_umask(text: str) -> int:
    """Read an octal umask such as ``0027`` or ``0o027``; the owner must keep full access."""
    word = text.strip().lower()
    if not _UMASK.fullmatch(word) or int(word.removeprefix("0o"), 8) > 0o777:
        raise BadValue(f"{show(text)} is not an octal umask (e.g. 0027)")
    umask = int(word.removeprefix("0o"), 8)
    if umask & 0o700:
        raise BadValue(f"{show(text)} would deny the daemon access to its own files")
    return umask


def parse_url(text: str, *, base: bool) -> str:
    """Read an http(s) URL with a host; a base URL loses its trailing slashes and may not
    carry a query or fragment."""
    url = text.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise BadValue(f"{show(text)} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadValue(f"{show(text)} is not an http(s) URL with a host")
    if any(char.isspace() for char in url):
        raise BadValue(f"{show(text)} is not a URL (it contains white space)")
    if base and (parts.query or parts.fragment):
        raise BadValue(f"{show(text)} is a base URL and may not have a query or fragment")
    return url.rstrip("/") if base else url


def parse_address(text: str) -> tuple[str, int] | None:
    """Read ``host:port`` (``[::1]:9464`` for IPv6); empty text means disabled (``None``)."""
    word = text.strip()
    if not word:
        return None
    host, colon, port_text = word.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or any(char.isspace() for char in host):
        raise BadValue(f"{show(text)} is not host:port (or empty to disable)")
    if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
        raise BadValue(f"{show(text)} does not end in a port number 0-65535")
    return host, int(port_text)


def parse_email(text: str) -> str:
    """Read an e-mail address, checked only for the shape name@domain."""
    email = text.strip()
    name, at, domain = email.rpartition("@")
    if not at or not name or not domain or any(char.isspace() for char in email):
        raise BadValue(f"{show(text)} is not an e-mail address")
    return email


def parse_task_name(text: str) -> str:
    """Read a task name template; only {tenant}, {date}, {first_file} and {count} may appear."""
    name = text.strip()
    if not name:
        raise BadValue("must not be empty")
    try:
        fields = _template_fields(name)
    except ValueError as exc:
        raise BadValue(
            f"{show(text)} is not a valid template ({exc}; write {{{{ for a brace)"
        ) from None
    for field in fields:
        if field not in TASK_NAME_FIELDS:
            allowed = ", ".join("{" + known + "}" for known in TASK_NAME_FIELDS)
            raise BadValue(f"{show(text)} uses {{{field}}}; only {allowed} are known")
    return name


def _template_fields(template: str) -> list[str]:
    # A format spec may itself hold fields ("{date:{width}}"), so look inside it too.
    fields: list[str] = []
    for _, field, spec, _ in string.Formatter().parse(template):
        if field is not None:
            fields.append(field)
        if spec:
            fields.extend(_template_fields(spec))
    return fields


def parse_tenant_name(text: str) -> str:
    """Read a tenant name usable both as a folder name and as a Keycloak realm."""
    name = text.strip()
    if not TENANT_NAME.fullmatch(name):
        raise BadValue(
            f"{show(text)} is not a tenant name (letters, digits, '-', '_', '.'; "
            "not starting with a dot)"
        )
    return name


@dataclass(frozen=True, slots=True)
class AdditionalInfo:
    """A GENERIC_ADDITIONAL_INFO value as JSON text, and whether the input was strict JSON."""

    json: str
    strict: bool


def parse_additional_info(text: str) -> AdditionalInfo:
    """Read a JSON object; a Python dict literal (the guide's own example) is accepted too.

    The result is re-serialised with ``json.dumps`` and may not exceed 10 KB of UTF-8.
    """
    if len(text) > _GAI_MAX_INPUT:
        raise BadValue(f"is larger than {GAI_MAX_BYTES} bytes")
    strict = True
    try:
        value: Any = json.loads(text)
    except (ValueError, RecursionError):
        strict = False
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise BadValue(f"{show(text)} is not a JSON object") from None
    return AdditionalInfo(additional_info_json(value), strict)


def additional_info_json(value: object) -> str:
    """Serialise a parsed GENERIC_ADDITIONAL_INFO object, checking it is a JSON object of
    at most 10 KB."""
    if not isinstance(value, dict):
        raise BadValue(f"must be a JSON object, not {_json_kind(value)}")
    _check_json_compatible(value)
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (ValueError, RecursionError):
        raise BadValue("is not representable as JSON") from None
    try:
        size = len(encoded.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadValue("holds text that is not valid Unicode") from None
    if size > GAI_MAX_BYTES:
        raise BadValue(f"is {size} bytes of JSON; at most {GAI_MAX_BYTES} are allowed")
    return encoded


def _check_json_compatible(value: object, depth: int = 0) -> None:
    if depth > 100:
        raise BadValue("is nested too deeply")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise BadValue(f"has a key that is not a string: {show(repr(key))}")
            _check_json_compatible(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json_compatible(item, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise BadValue("holds a number that JSON cannot represent")
    elif value is not None and not isinstance(value, str | int | float | bool):
        raise BadValue(f"holds {_json_kind(value)}, which JSON cannot represent")


def _json_kind(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), f"a Python {type(value).__name__}")


def _parse_finite(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise BadValue(f"{show(text)} is not a number") from None
    if not math.isfinite(value):
        raise BadValue(f"{show(text)} is not a finite number")
    return value


def _at_least(value: _Number, minimum: _Number) -> _Number:
    if value < minimum:
        raise BadValue(f"must be {minimum:g} or more, not {value:g}")
    return value
