"""Structured logging for the daemon, with secrets scrubbed from every line.

One handler on the root logger renders structlog events and stdlib records
(aiohttp, asyncio) alike: JSON lines when the stream is not a terminal
(journald, Docker), coloured console lines on a terminal. Context bound with
``structlog.contextvars.bind_contextvars(tenant=..., file=..., task_id=...)``
appears on every line logged while it is bound. Redaction runs after the
traceback has been formatted and just before rendering, so it covers fields,
event text and tracebacks.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import re
import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TextIO
from urllib.parse import quote, quote_plus

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from hrec_ingest.utctime import iso_micros

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6
LogFormat = Literal["auto", "json", "console"]

_HANDLER_NAME = "hrec-ingest"
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_FIRST_KEYS = ("timestamp", "level", "logger", "event")
_GENERATED_KEYS = frozenset(("timestamp", "level", "logger"))  # ours, never secret
_MAX_DEPTH = 8

# Key names whose values are secrets. A suffix match, so that access_token,
# client_secret, webhook_secret, x-api-key and set-cookie are covered while
# token_count or password_file (a path) are not.
_SECRET_WORD = r"(?:password|passwd|passphrase|secret|token|authorization|cookie|api[_-]?key)s?"
_SENSITIVE_KEY = re.compile(rf"{_SECRET_WORD}$", re.IGNORECASE)

# Patterns for secrets inside free text, applied in this order: a header's
# whole value first, so the generic key=value rule cannot stop at its space.
_HEADER_LINE = re.compile(
    r"\b(?P<key>(?:proxy-)?authorization|(?:set-)?cookie)(?P<sep>\s*:[ \t]*+)(?![\"'\[])[^\r\n]+",
    re.IGNORECASE,
)
_AUTH_SCHEME = re.compile(
    r"\b(?P<scheme>bearer|basic)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/-]{8,}=*", re.IGNORECASE
)
_KEY_VALUE = re.compile(
    rf"(?P<key>{_SECRET_WORD})(?P<close>\\?[\"']?)(?P<sep>\s*[:=]\s*)(?!\[REDACTED\])"
    r"(?P<value>\\\"(?:[^\"\\]|\\[^\"])*\\\"|\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'"
    r"|[^\s,;&\"')\]}]+)",
    re.IGNORECASE,
)
# Every _SECRET_WORD contains one of these; _HINTS adds the other patterns' keywords.
_KEY_HINTS = re.compile("pass|secret|token|authorization|cookie|key")
_HINTS = re.compile("pass|secret|token|authorization|cookie|key|bearer|basic|eyj")
# A JWT's header is base64url JSON, so it always starts "eyJ".
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def _mask_value(match: re.Match[str]) -> str:
    value = match["value"]
    quote_mark = next((q for q in ('\\"', '"', "'") if value.startswith(q)), "")
    return f"{match['key']}{match['close']}{match['sep']}{quote_mark}{REDACTED}{quote_mark}"


# Secrets at least _LONG characters long are found by looking up windows of
# _WINDOW characters sampled every _STRIDE positions: any occurrence covers one
# sampled position within its last _STRIDE windows, all of which are indexed.
# Cost per text is len/_STRIDE dict lookups, whatever the number of secrets;
# one alternation regex over a thousand tokens costs ~0.7 ms per line and
# over a second to compile. Shorter secrets (passwords, a handful) use a regex.
_WINDOW = 8
_LONG = 16
_STRIDE = _LONG - _WINDOW + 1


def _encoded_forms(value: str) -> set[str]:
    # A password also travels form-encoded (the Keycloak password grant) and
    # JSON- or repr-escaped (request bodies, exception messages).
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    forms.add(repr(value)[1:-1])
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def _replace_spans(text: str, spans: list[tuple[int, int]]) -> str:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts: list[str] = []
    done = 0
    for start, end in merged:
        parts += (text[done:start], REDACTED)
        done = end
    parts.append(text[done:])
    return "".join(parts)


class SecretRegistry:
    """The actual secret values to mask wherever they appear in a log line.

    Pinned values (the password, the webhook secret) stay for the life of the
    process; others (tokens, which expire) are kept in a ring of the most
    recent ``capacity`` values. Values shorter than ``MIN_SECRET_LENGTH`` are
    ignored: masking them would shred ordinary text. Adding or evicting a value
    updates the index in place, so registration stays cheap with a full ring.
    """

    def __init__(self, capacity: int = 1000) -> None:
        self._capacity = capacity
        # Taken by readers too: logging may happen on executor threads while
        # the loop registers a token. Uncontended, it costs well under a microsecond.
        self._lock = threading.Lock()
        self._pinned: dict[str, set[str]] = {}
        self._recent: OrderedDict[str, set[str]] = OrderedDict()
        self._form_counts: Counter[str] = Counter()  # two values may share a form
        self._windows: dict[str, list[tuple[str, int]]] = {}
        self._short: set[str] = set()
        self._short_pattern: re.Pattern[str] | None = None
        self._short_stale = False

    def add(self, value: str, *, pinned: bool = False) -> None:
        """Mask ``value`` (and its URL- and JSON-encoded forms) from now on."""
        forms = _encoded_forms(value)
        if not forms:
            return
        with self._lock:
            if value in self._pinned:
                return
            if pinned:
                if self._recent.pop(value, None) is None:
                    self._hold(forms)
                self._pinned[value] = forms
            elif value in self._recent:
                self._recent.move_to_end(value)
            else:
                self._recent[value] = forms
                self._hold(forms)
                while len(self._recent) > self._capacity:
                    self._release(self._recent.popitem(last=False)[1])

    def _hold(self, forms: set[str]) -> None:
        for form in forms:
            self._form_counts[form] += 1
            if self._form_counts[form] > 1:
                continue
            if len(form) < _LONG:
                self._short.add(form)
                self._short_stale = True
                continue
            last = len(form) - _WINDOW
            for offset in range(last - _STRIDE + 1, last + 1):
                window = form[offset : offset + _WINDOW]
                self._windows.setdefault(window, []).append((form, offset))

    def _release(self, forms: set[str]) -> None:
        for form in forms:
            self._form_counts[form] -= 1
            if self._form_counts[form] > 0:
                continue
            del self._form_counts[form]
            if len(form) < _LONG:
                self._short.discard(form)
                self._short_stale = True
                continue
            last = len(form) - _WINDOW
            for offset in range(last - _STRIDE + 1, last + 1):
                window = form[offset : offset + _WINDOW]
                entries = self._windows[window]
                entries.remove((form, offset))
                if not entries:
                    del self._windows[window]

    def __contains__(self, value: object) -> bool:
        return value in self._pinned or value in self._recent

    def __len__(self) -> int:
        return len(self._pinned) + len(self._recent)

    def _spans(self, text: str) -> list[tuple[int, int]]:
        if self._short_stale:
            # A lookahead finds overlapping occurrences too, so that a match of
            # one secret cannot hide the tail of another.
            alternatives = "|".join(map(re.escape, sorted(self._short, key=len, reverse=True)))
            self._short_pattern = re.compile(f"(?=({alternatives}))") if self._short else None
            self._short_stale = False
        spans: list[tuple[int, int]] = []
        if self._short_pattern is not None:
            spans += (
                (m.start(), m.start() + len(m[1])) for m in self._short_pattern.finditer(text)
            )
        if self._windows:
            for pos in range(0, len(text) - _WINDOW + 1, _STRIDE):
                for secret, offset in self._windows.get(text[pos : pos + _WINDOW], ()):
                    start = pos - offset
                    if start >= 0 and text.startswith(secret, start):
                        spans.append((start, start + len(secret)))
        return spans

    def redact(self, text: str) -> str:
        """Return ``text`` with every occurrence of a registered secret replaced."""
        if len(text) < MIN_SECRET_LENGTH or not self._form_counts:
            return text
        with self._lock:
            spans = self._spans(text)
        return _replace_spans(text, spans) if spans else text


_SECRETS = SecretRegistry()


def register_secret(value: str, *, pinned: bool = False) -> None:
    """Mask ``value`` in every log line from now on, whichever field or traceback holds it.

    Register the password (and other long-lived secrets) with ``pinned=True``,
    so that they are never evicted; tokens as they are obtained, without it:
    only the most recent 1000 unpinned values are kept. Values shorter than
    six characters are ignored; key names and patterns still catch them.
    """
    _SECRETS.add(value, pinned=pinned)


def redact_text(text: str) -> str:
    """Return ``text`` with registered secrets and secret-looking patterns masked.

    The same scrubbing the log lines get, for other text that leaves the
    process (error files, command output). Example:
    ``redact_text("password=hunter22 ok") == "password=[REDACTED] ok"``.
    """
    text = _SECRETS.redact(text)
    # One case-sensitive search over the lowered text first: most text holds
    # none of the keywords, and the case-insensitive patterns cost ~40 us a line.
    lowered = text.lower()
    if _HINTS.search(lowered) is None:
        return text
    if "authorization" in lowered or "cookie" in lowered:
        text = _HEADER_LINE.sub(rf"\g<key>\g<sep>{REDACTED}", text)
    if "bearer" in lowered or "basic" in lowered:
        text = _AUTH_SCHEME.sub(rf"\g<scheme> {REDACTED}", text)
    if _KEY_HINTS.search(lowered) is not None:
        text = _KEY_VALUE.sub(_mask_value, text)
    return _JWT.sub(REDACTED, text) if "eyJ" in text else text


@functools.lru_cache(maxsize=4096)
def _is_secret_key(key: str) -> bool:
    # Field names come from a small vocabulary, so the verdicts are cached.
    return _SENSITIVE_KEY.search(key) is not None


def _is_secret_field(key: object, value: object) -> bool:
    # None and booleans (has_token=True) cannot carry a secret.
    if value is None or isinstance(value, bool):
        return False
    return _is_secret_key(str(key))


def _redact(value: object, depth: int) -> object:
    if isinstance(value, str):
        # Nothing shorter can hold a registered secret or match a pattern.
        return value if len(value) < MIN_SECRET_LENGTH else redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth < _MAX_DEPTH and isinstance(value, Mapping):
        return {
            str(k): REDACTED if _is_secret_field(k, v) else _redact(v, depth + 1)
            for k, v in value.items()
        }
    if depth < _MAX_DEPTH and isinstance(value, list | tuple | set | frozenset):
        return [_redact(item, depth + 1) for item in value]
    # Anything else is turned into text here, as the renderer would, so that
    # a secret in an object's repr is still scrubbed.
    if isinstance(value, os.PathLike):
        return redact_text(str(value))
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return redact_text(repr(value))


def redact_event_dict(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secrets by key name and by value, in a new dict.

    Builds new containers rather than editing in place: nested values may be
    the application's own objects (request headers, for one).
    """
    redacted: EventDict = {key: event_dict[key] for key in _FIRST_KEYS if key in event_dict}
    redacted.update(event_dict)
    for key, value in redacted.items():
        if key in _GENERATED_KEYS:
            continue
        redacted[key] = REDACTED if _is_secret_field(key, value) else _redact(value, 0)
    return redacted


def _stamp_utc(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """``timestamp``: as structlog's ``TimeStamper(fmt="iso", utc=True)`` writes it, for less."""
    event_dict["timestamp"] = iso_micros(time.time())
    return event_dict


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


_LOG_JSON = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _json_line(event_dict: EventDict, **dumps_kw: Any) -> str:
    """A compact JSON line of ASCII alone, by orjson when it can, else the json module.

    orjson takes a fifth of the time. The json module escapes all that is not
    printable ASCII, as log readers expect, so a line orjson wrote otherwise
    is written again by it; so is what orjson refuses (integers beyond 64
    bits, keys that are not text). Dataclasses, datetimes and subclasses go
    to ``default`` as with the json module; NaN and infinities become null.
    """
    try:
        line = orjson.dumps(event_dict, default=dumps_kw.get("default"), option=_LOG_JSON)
    except orjson.JSONEncodeError:
        pass  # integers beyond 64 bits, keys that are not text: the json module writes them
    else:
        if line.isascii() and b"\x7f" not in line:
            return line.decode()
    return json.dumps(event_dict, **dumps_kw)


def _renderer_chain(fmt: Literal["json", "console"], colors: bool) -> list[Processor]:
    exceptions: Processor
    renderer: Processor
    if fmt == "json":
        # No locals in tracebacks: they would carry secrets the patterns cannot know.
        exceptions = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
        renderer = structlog.processors.JSONRenderer(serializer=_json_line, separators=(",", ":"))
    else:
        # Formatted to text before redaction; the renderer then prints it as is.
        exceptions = structlog.processors.format_exc_info
        renderer = structlog.dev.ConsoleRenderer(colors=colors)
    return [exceptions, redact_event_dict, renderer]


def _skip_unrendered_record_fields() -> None:
    """Stop the stdlib from working out what no line shows: caller, thread, process.

    These are the switches of the logging HOWTO's "Optimization" section. The
    caller's frame alone was found by walking the stack on every line.
    """
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


class LevelFirstBoundLogger(structlog.stdlib.BoundLogger):
    """structlog's stdlib logger, returning at once from a debug call below the level.

    ``filter_by_level`` would drop it anyway, but only after copying the
    context and raising DropEvent: the debug line of every HTTP request cost
    that much for nothing.
    """

    def debug(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        if not self._logger.isEnabledFor(logging.DEBUG):
            return None
        return super().debug(event, *args, **kw)


def configure_logging(
    fmt: LogFormat = "auto", level: str = "info", stream: TextIO | None = None
) -> None:
    """Send every log line (structlog's and the stdlib's) to ``stream``, rendered and redacted.

    ``fmt="auto"`` writes console lines when ``stream`` (default: standard
    error) is a terminal and JSON lines otherwise; colours only on a terminal
    and never with ``NO_COLOR`` set. ``level`` is a LOG_LEVEL name. Calling it
    again replaces the previous configuration. Raises ``ValueError`` for an
    unknown format or level.
    """
    out = sys.stderr if stream is None else stream
    numeric = _LEVELS.get(level.strip().lower())
    if numeric is None:
        raise ValueError(f"LOG_LEVEL: unknown level {level!r}; use one of {', '.join(_LEVELS)}")
    if fmt not in ("auto", "json", "console"):
        raise ValueError(f"LOG_FORMAT: unknown format {fmt!r}; use auto, json or console")
    tty = _is_tty(out)
    chosen: Literal["json", "console"] = ("console" if tty else "json") if fmt == "auto" else fmt
    colors = tty and "NO_COLOR" not in os.environ

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        _stamp_utc,
    ]
    rendering = _renderer_chain(chosen, colors)
    handler = _LineHandler(out, rendering)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
        )
    )
    _skip_unrendered_record_fields()
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    # One line per request (and per scrape) would drown everything else.
    logging.getLogger("aiohttp.access").setLevel(max(logging.WARNING, numeric))

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            _write_through_handler,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=LevelFirstBoundLogger,
        # The chain above does not depend on the arguments, so loggers cached
        # before a reconfiguration stay valid: output, level and format all
        # live in the stdlib handler.
        cache_logger_on_first_use=True,
    )


def _installed_handler() -> _LineHandler | None:
    return next(
        (
            h
            for h in logging.getLogger().handlers
            if isinstance(h, _LineHandler) and h.get_name() == _HANDLER_NAME
        ),
        None,
    )


def _write_through_handler(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> Any:
    """The last step of structlog's chain: render the event and write it, no stdlib record.

    Handing the event to the stdlib made two ``LogRecord`` objects and a
    formatter pass per line, half a line's cost (docs/benchmarks.md, twelfth
    round). The line is the same: the handler renders it with the formatter's
    own processors. Other handlers on the root logger now see stdlib records
    only. Without our handler there (logging not configured), the event goes
    to the stdlib's handlers as before.
    """
    handler = _installed_handler()
    if handler is None:
        return structlog.stdlib.ProcessorFormatter.wrap_for_formatter(
            logger, method_name, event_dict
        )
    handler.write_event(logger, method_name, event_dict)
    raise structlog.DropEvent  # written; nothing left for the stdlib logger to do


class _LineHandler(logging.StreamHandler[TextIO]):
    """The stdlib's stream handler, which can hold a thread's lines (``lines_together``).

    Stdlib records are rendered by its formatter; structlog's events by
    ``rendering`` directly (``write_event``), with the same processors.
    """

    def __init__(self, stream: TextIO, rendering: list[Processor]) -> None:
        super().__init__(stream)
        self._held = threading.local()
        self._rendering = rendering

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._write(line)

    def write_event(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> None:
        """Render a structlog event with the formatter's processors and write it."""
        try:
            rendered: Any = event_dict
            for processor in self._rendering:
                rendered = processor(logger, method_name, rendered)
            line = str(rendered) + self.terminator
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": f"log event {method_name}"}))
            return
        with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
            self._write(line)

    def _write(self, line: str) -> None:
        held: list[str] | None = getattr(self._held, "lines", None)
        if held is not None:
            held.append(line)
            return
        try:
            self.stream.write(line)
            self.flush()
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": "log line"}))

    @contextmanager
    def holding(self) -> Iterator[None]:
        if getattr(self._held, "lines", None) is not None:
            yield  # already held by an enclosing block, which writes them
            return
        held: list[str] = []
        self._held.lines = held
        try:
            yield
        finally:
            self._held.lines = None
            if held:
                with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
                    try:
                        self.stream.write("".join(held))
                        self.flush()
                    except Exception:
                        self.handleError(logging.makeLogRecord({"msg": "held log lines"}))


@contextmanager
def lines_together() -> Iterator[None]:
    """Write the lines this thread logs inside the block in one go, at its end.

    For a loop that logs a line per file: each write to the log stream gives
    the GIL up, and on the event loop that costs a hand-off to the worker
    threads and back (docs/benchmarks.md). Only for a block without ``await``:
    the lines are delayed until it ends, in their order.
    """
    handler = _installed_handler()
    if handler is None:
        yield
        return
    with handler.holding():
        yield
