"""Logging: formats, context, stdlib routing, and secrets kept out of every line."""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Literal

import pytest
import structlog
from hypothesis import assume, given
from hypothesis import strategies as st
from structlog.contextvars import bind_contextvars, clear_contextvars

from hrec_ingest.logs import (
    REDACTED,
    SecretRegistry,
    configure_logging,
    lines_together,
    redact_text,
    register_secret,
)

pytestmark = pytest.mark.timeout(30)

ANSI = re.compile(r"\x1b\[[0-9;]*m")
Configure = Callable[..., io.StringIO]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def configure() -> Iterator[Configure]:
    """Factory: configure logging into a fresh stream; restores global logging afterwards."""
    root = logging.getLogger()
    access = logging.getLogger("aiohttp.access")
    saved = (list(root.handlers), root.level, access.level)

    def make(
        fmt: Literal["auto", "json", "console"] = "json",
        level: str = "debug",
        stream: io.StringIO | None = None,
    ) -> io.StringIO:
        out = io.StringIO() if stream is None else stream
        configure_logging(fmt, level, out)
        return out

    yield make
    handlers, level, access_level = saved
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    access.setLevel(access_level)
    structlog.reset_defaults()
    clear_contextvars()


def fresh_secret(prefix: str) -> str:
    # Unique per test, so the process-wide registry cannot make tests depend on each other.
    return f"{prefix}-{secrets.token_urlsafe(18)}"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_secrets_never_reach_the_output(
    configure: Configure, fmt: Literal["json", "console"]
) -> None:
    out = configure(fmt)
    password = fresh_secret("pw")
    nested_token = fresh_secret("nested")
    bearer = fresh_secret("bearer")
    registered = fresh_secret("registered")
    register_secret(password, pinned=True)
    register_secret(registered)
    log = structlog.get_logger("hrec.test")
    bind_contextvars(tenant="demo", file="sub/call.wav", task_id="task-42")

    log.info(
        f"upload done with registered {registered} inside",
        password=password,
        body={"items": [{"name": "call.wav", "refresh_token": nested_token}]},
        headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json"},
        files=3,
    )
    try:
        try:
            raise ConnectionError(f"server said no to {registered}")
        except ConnectionError as inner:
            raise RuntimeError(f"submit failed, password was {password}") from inner
    except RuntimeError:
        log.exception("task.submit_failed", attempt=2)

    text = out.getvalue()
    for secret in (password, nested_token, bearer, registered):
        assert secret not in text
    for kept in (
        "upload done with registered",
        "inside",
        "call.wav",
        "application/json",
        "task.submit_failed",
        "RuntimeError",
        "submit failed, password was",
        "ConnectionError",
        "server said no to",
        "demo",
        "sub/call.wav",
        "task-42",
        "hrec.test",
    ):
        assert kept in text
    assert text.count(REDACTED) >= 6
    if fmt == "console":
        assert "Traceback (most recent call last)" in text
        assert "test_logs.py" in text


def test_json_lines_carry_timestamp_level_event_logger_and_context(configure: Configure) -> None:
    out = configure("json")
    bind_contextvars(tenant="demo", file="a.wav", task_id="t-1")
    structlog.get_logger("hrec.pipeline").info("file.exported", formats=["json", "txt"])
    clear_contextvars()
    structlog.get_logger("hrec.pipeline").warning("inbox.unknown_tenant", folder="x")

    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["event"] == "file.exported"
    assert first["level"] == "info"
    assert first["logger"] == "hrec.pipeline"
    assert (first["tenant"], first["file"], first["task_id"]) == ("demo", "a.wav", "t-1")
    assert first["formats"] == ["json", "txt"]
    stamp = datetime.fromisoformat(first["timestamp"])
    assert stamp.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60
    assert second["level"] == "warning"
    assert "tenant" not in second


def test_json_exception_is_a_structured_traceback_without_locals(configure: Configure) -> None:
    out = configure("json")
    local_secret = fresh_secret("local")  # unregistered: only showing locals would leak it
    try:
        raise ValueError("bad value")
    except ValueError:
        structlog.get_logger("t").exception("failed")
    assert local_secret not in out.getvalue()
    (line,) = (json.loads(x) for x in out.getvalue().splitlines())
    (exc,) = line["exception"]
    assert exc["exc_type"] == "ValueError"
    assert exc["exc_value"] == "bad value"
    assert exc["frames"] and all("locals" not in frame for frame in exc["frames"])


def test_stdlib_records_share_renderer_context_and_redaction(configure: Configure) -> None:
    out = configure("json")
    registered = fresh_secret("std")
    register_secret(registered)
    bind_contextvars(tenant="demo")
    logging.getLogger("aiohttp.client").warning("retrying with %s", registered)
    try:
        raise OSError(f"token {registered} rejected")
    except OSError:
        logging.getLogger("asyncio").error("Task exception was never retrieved", exc_info=True)

    text = out.getvalue()
    assert registered not in text
    first, second = (json.loads(line) for line in text.splitlines())
    assert first == first | {"logger": "aiohttp.client", "level": "warning", "tenant": "demo"}
    assert first["event"] == f"retrying with {REDACTED}"
    assert second["logger"] == "asyncio"
    assert second["exception"][0]["exc_value"] == f"token {REDACTED} rejected"


def test_aiohttp_access_log_is_quieted_to_warning(configure: Configure) -> None:
    out = configure("json", level="debug")
    access = logging.getLogger("aiohttp.access")
    access.info('127.0.0.1 "GET /metrics HTTP/1.1" 200')
    access.warning("slow client")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["slow client"]


def test_level_filters_both_structlog_and_stdlib(configure: Configure) -> None:
    out = configure("json", level="WARNING")
    structlog.get_logger("a").info("hidden")
    logging.getLogger("b").info("hidden too")
    structlog.get_logger("a").error("shown")
    assert [json.loads(x)["event"] for x in out.getvalue().splitlines()] == ["shown"]


def test_debug_lines_follow_the_level_even_on_a_logger_made_earlier(
    configure: Configure,
) -> None:
    log = structlog.get_logger("early")  # as modules do at import
    quiet = configure("json", level="info")
    log.debug("hidden", task_id="T1")
    assert quiet.getvalue() == ""
    loud = configure("json", level="debug")
    log.debug("shown", task_id="T1", files=2)
    (line,) = [json.loads(x) for x in loud.getvalue().splitlines()]
    assert (line["event"], line["level"], line["task_id"], line["files"]) == (
        "shown",
        "debug",
        "T1",
        2,
    )


def test_auto_writes_json_to_a_pipe_and_coloured_console_to_a_terminal(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    pipe = configure("auto")
    structlog.get_logger("t").info("to.pipe", n=1)
    assert json.loads(pipe.getvalue())["event"] == "to.pipe"

    terminal = configure("auto", stream=FakeTerminal())
    structlog.get_logger("t").info("to.terminal", n=1)
    assert ANSI.search(terminal.getvalue())
    assert "to.terminal" in ANSI.sub("", terminal.getvalue())
    assert "to.terminal" not in pipe.getvalue()  # the old handler was replaced


def test_console_has_no_colours_off_a_terminal_or_with_no_color(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = configure("console")
    structlog.get_logger("t").info("plain.line", n=1)
    assert "plain.line" in plain.getvalue()
    assert not ANSI.search(plain.getvalue())

    monkeypatch.setenv("NO_COLOR", "1")
    terminal = configure("auto", stream=FakeTerminal())
    structlog.get_logger("t").info("no.colour", n=1)
    assert "no.colour" in terminal.getvalue()
    assert not ANSI.search(terminal.getvalue())


def test_reconfiguring_keeps_a_single_handler(configure: Configure) -> None:
    configure("json")
    configure("console")
    ours = [h for h in logging.getLogger().handlers if h.get_name() == "hrec-ingest"]
    assert len(ours) == 1


@pytest.mark.parametrize(
    ("fmt", "level"), [("json", "loud"), ("yaml", "info")], ids=["bad-level", "bad-format"]
)
def test_bad_settings_are_rejected_with_the_setting_name(fmt: str, level: str) -> None:
    with pytest.raises(ValueError, match="LOG_LEVEL" if level == "loud" else "LOG_FORMAT"):
        configure_logging(fmt, level, io.StringIO())  # type: ignore[arg-type]


def test_caller_objects_are_not_modified(configure: Configure) -> None:
    configure("json")
    headers = {"Authorization": "Bearer abcdefghijklmnop", "Host": "x"}
    structlog.get_logger("t").info("request", headers=headers)
    assert headers == {"Authorization": "Bearer abcdefghijklmnop", "Host": "x"}


def test_objects_are_scrubbed_through_their_repr(configure: Configure) -> None:
    out = configure("json")
    registered = fresh_secret("obj")
    register_secret(registered)

    class Credentials:
        def __repr__(self) -> str:
            return f"Credentials(user='u', secret='{registered}')"

    structlog.get_logger("t").info("using", creds=Credentials(), error=KeyError(registered))
    line = json.loads(out.getvalue())
    assert registered not in out.getvalue()
    assert line["creds"].startswith("Credentials(user='u', ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET / Authorization: Bearer abc.def-ghi", f"GET / Authorization: {REDACTED}"),
        ("sent bearer abcdefghijkl123 ok", f"sent bearer {REDACTED} ok"),
        (
            "grant_type=password&password=hunter22&x=1",
            f"grant_type=password&password={REDACTED}&x=1",
        ),
        ('{"password": "p a\\"ss", "user": "u"}', f'{{"password": "{REDACTED}", "user": "u"}}'),
        ("{'client_secret': 'abc'}", f"{{'client_secret': '{REDACTED}'}}"),
        ('{\\"password\\": \\"xyz\\"}', f'{{\\"password\\": \\"{REDACTED}\\"}}'),
        ("url?access_token=abc123&page=2", f"url?access_token={REDACTED}&page=2"),
        ("Cookie: session=abc; other=1", f"Cookie: {REDACTED}"),
        ("Login(user='u', password='pw')", f"Login(user='u', password='{REDACTED}')"),
        ("jwt eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl end", f"jwt {REDACTED} end"),
        # not secrets: left alone
        ("token_count=3 token_type=Bearer", "token_count=3 token_type=Bearer"),
        ("call.2024.wav and hrec_ingest.pipeline.submitter", None),
        ("basic auth failed for task_id=7e4c", None),
        ("token.renewed", None),
    ],
)
def test_redact_text_patterns(text: str, expected: str | None) -> None:
    assert redact_text(text) == (text if expected is None else expected)


def test_redaction_is_idempotent() -> None:
    once = redact_text('Authorization: Bearer abcdefghijk password="x" token=y')
    assert redact_text(once) == once


def test_registry_keeps_pinned_values_and_the_most_recent_others() -> None:
    registry = SecretRegistry(capacity=3)
    registry.add("the-password", pinned=True)
    tokens = [f"token-number-{i}" for i in range(5)]
    for token in tokens:
        registry.add(token)
    assert len(registry) == 4
    assert "the-password" in registry
    assert tokens[0] not in registry and tokens[1] not in registry
    text = " ".join(["the-password", *tokens])
    expected = f"{REDACTED} {tokens[0]} {tokens[1]} {REDACTED} {REDACTED} {REDACTED}"
    assert registry.redact(text) == expected


def test_registry_ignores_short_values_and_masks_encoded_forms() -> None:
    registry = SecretRegistry()
    registry.add("abcde")
    assert len(registry) == 0
    registry.add('p@ss w/rd&="1')
    assert registry.redact("password=p%40ss+w%2Frd%26%3D%221 end") == f"password={REDACTED} end"
    assert registry.redact('{"p": "p@ss w/rd&=\\"1"}') == f'{{"p": "{REDACTED}"}}'


def test_overlapping_secrets_are_both_masked() -> None:
    registry = SecretRegistry()
    registry.add("abcdefg")
    registry.add("efghijk")
    assert registry.redact("xx abcdefghijk yy") == f"xx {REDACTED} yy"


# No brackets: a secret made of them could be re-formed by the "[REDACTED]" marker itself.
_CHARS = st.characters(exclude_characters="[]", exclude_categories=["Cs"])
_TEXT = st.text(_CHARS, max_size=80)


@given(
    secret=st.text(_CHARS, min_size=6, max_size=120),
    others=st.lists(st.text(min_size=6, max_size=60), max_size=20),
    before=_TEXT,
    after=_TEXT,
)
def test_a_registered_secret_never_survives(
    secret: str, others: list[str], before: str, after: str
) -> None:
    assume(secret not in REDACTED)
    registry = SecretRegistry()
    for other in others:
        registry.add(other)
    registry.add(secret)
    assert secret not in registry.redact(before + secret + after + secret)


def test_many_long_tokens_are_all_found() -> None:
    registry = SecretRegistry()
    tokens = [secrets.token_urlsafe(24 + i % 50) for i in range(1000)]
    for token in tokens:
        registry.add(token)
    for token in tokens[::37]:
        line = f"renewed {token} for tenant demo, next {tokens[-1]}"
        assert registry.redact(line) == f"renewed {REDACTED} for tenant demo, next {REDACTED}"


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_lines_together_are_one_write_at_the_end_of_the_block(configure: Configure) -> None:
    out = CountingStream()
    configure("json", stream=out)
    log = structlog.get_logger("hrec.pipeline")
    secret = fresh_secret("held")
    register_secret(secret)
    with lines_together():
        for i in range(3):
            log.info("file.exported", n=i, password=secret)
        with lines_together():  # an inner block leaves the writing to the outer one
            log.info("file.exported", n=3)
        assert out.getvalue() == ""
        # Another thread's lines are not held.
        other = threading.Thread(target=lambda: log.warning("from.other"))
        other.start()
        other.join()
        assert json.loads(out.getvalue())["event"] == "from.other"
        writes_before = out.writes
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("n") for line in lines] == [None, 0, 1, 2, 3]
    assert out.writes == writes_before + 1
    assert secret not in out.getvalue()
    log.info("after")  # written at once again
    assert json.loads(out.getvalue().splitlines()[-1])["event"] == "after"


def test_lines_together_without_the_daemons_handler_changes_nothing() -> None:
    with lines_together():
        structlog.get_logger("x").info("nothing configured")


@pytest.mark.parametrize(
    "event",
    [
        {"event": "file.exported", "file": "calls/a b.wav", "size": 12, "ok": True, "x": None},
        {"event": "x", "nested": {"list": [1, 2.5, 'q"uote\\'], "tab": "a\tb\n\x01"}},
        {"event": "x", "hebrew": "שלום.wav"},  # not ASCII: the json module escapes it
        {"event": "x", "delete": "a\x7fb"},  # ASCII the json module escapes
        {"event": "x", "huge": 2**70},  # beyond orjson's integers
        {"event": "x", "keys": {1: "not text"}},  # a key orjson refuses
        {"event": "x", "when": datetime(2026, 11, 22, tzinfo=UTC)},  # through default
        {"event": "x", "number": 1e-07, "big": 1.5e300},
    ],
)
def test_json_lines_say_what_the_json_modules_say(event: dict[str, object]) -> None:
    from structlog.processors import _json_fallback_handler

    from hrec_ingest.logs import _json_line

    compact = {"default": _json_fallback_handler, "separators": (",", ":")}
    line = _json_line(event, **compact)  # type: ignore[arg-type]
    assert line.isascii() and "\n" not in line and "\x7f" not in line
    assert json.loads(line) == json.loads(json.dumps(event, **compact))  # type: ignore[arg-type]


def test_json_lines_of_plain_events_are_the_json_modules_bytes() -> None:
    from hrec_ingest.logs import _json_line

    event = {"event": "file.exported", "file": "calls/a b.wav", "n": 12, "ok": True, "x": None}
    assert _json_line(event, separators=(",", ":")) == json.dumps(event, separators=(",", ":"))
