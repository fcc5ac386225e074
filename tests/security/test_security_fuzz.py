"""Property-based runs over what reads untrusted input: the server's answers and file names.

The server's answers go through the real client over a real socket: whatever
the body and status, a call returns its model or raises a ``MiaopError``
(the documented errors), and a transcription that parses renders in every
format. File names go through the rules and layout functions: whatever the
name, the outputs stay below the tenant's folders and fit in 255 bytes. The
config and tenants files are fuzzed in tests/config/test_config_fuzz.py.

Examples per test: FUZZ_EXAMPLES (default 60), 1000 with HREC_FULL=1.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from hrec_ingest.formats import FORMATS, render
from hrec_ingest.fsops import NAME_MAX_BYTES, stem_for
from hrec_ingest.miaop import MiaopClient, MiaopError, RetryPolicy, TaskListFilter, TokenManager
from hrec_ingest.pipeline.layout import (
    Folders,
    choose_export_names,
    choose_failed_name,
)
from hrec_ingest.pipeline.rules import ignore_reason
from hrec_ingest.pipeline.taskmeta import upload_names
from hrec_ingest.pipeline.watcher import InboxLayout

EXAMPLES = 1000 if os.environ.get("HREC_FULL") == "1" else 60
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ONE = RetryPolicy(attempts=1)
SECRET = "tok-SECRET-4411"

# --- the server's answers ---------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()  # NaN and infinities too: json.loads accepts them
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` 29 times in 30, else ``odd``: enough well-typed input to reach the renderers."""
    return st.integers(0, 29).flatmap(lambda n: odd if n == 0 else usual)


numbers = st.none() | st.integers(-(10**15), 10**15) | st.floats()
times = mostly(numbers, st.text(max_size=3) | json_values)
words = st.fixed_dictionaries(
    {},
    optional={
        "word": mostly(st.text(max_size=8), json_values),
        "location": times,
        "duration": times,
        "confidence": times,
    },
)
paragraphs = st.fixed_dictionaries(
    {},
    optional={
        "Id": mostly(st.text(max_size=8), json_values),
        "id": st.text(max_size=8),
        "location": times,
        "duration": times,
        "text": mostly(st.text(max_size=60), json_values),
        "words": mostly(st.lists(words, max_size=6), json_values),
    },
)
TEMPLATES: list[dict[str, Any]] = [
    {
        "taskId": "t1",
        "taskStatus": "sttDone",
        "sttRemainingTime": 0,
        "meetings": [{"meetingId": "1.t1"}],
    },
    {"meetingId": "1.t1", "metadata": {"status": "sttDone", "errorInfo": {"name": "x"}}},
    {"transcription": []},
]


@st.composite
def near_valid(draw: st.DrawFn) -> Any:
    """A document the guide promises, with fields changed, added or dropped."""
    document = dict(draw(st.sampled_from(TEMPLATES)))
    if "transcription" in document:
        document["transcription"] = draw(st.lists(paragraphs, max_size=5))
    for key in draw(st.lists(st.sampled_from(sorted(document)), max_size=2, unique=True)):
        del document[key]
    document.update(
        draw(st.dictionaries(st.sampled_from([*document, "x"]), json_values, max_size=2))
    )
    return document


def encoded(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


bodies = st.one_of(
    json_values.map(encoded),
    near_valid().map(encoded),
    st.lists(near_valid(), max_size=3).map(encoded),
    near_valid().map(encoded).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),
    st.binary(max_size=200),
    st.just(b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
)
statuses = st.sampled_from([200, 200, 200, 200, 201, 204, 302, 400, 401, 404, 409, 429, 500, 502])


@dataclass
class Answers:
    """What the fake server says next: to the token request and to every API request."""

    token: tuple[int, bytes] = (200, encoded({"access_token": SECRET, "expires_in": 300}))
    api: tuple[int, bytes] = (200, b"{}")


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Answers]]:
    answers = Answers()

    def reply(answer: tuple[int, bytes]) -> web.Response:
        status, body = answer
        return web.Response(status=status, body=body, content_type="application/json")

    async def token(_: web.Request) -> web.Response:
        return reply(answers.token)

    async def api(_: web.Request) -> web.Response:
        return reply(answers.api)

    app = web.Application()
    app.router.add_post("/realms/demo/protocol/openid-connect/token", token)
    app.router.add_get("/api/{tail:.*}", api)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", answers
    finally:
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def check_error(exc: MiaopError) -> None:
    event(type(exc).__name__)
    assert SECRET not in str(exc) and SECRET not in repr(exc)


@FUZZ
@given(status=statuses, body=bodies)
async def test_any_api_answer_gives_a_model_or_a_documented_error(
    server: tuple[str, Answers], session: aiohttp.ClientSession, status: int, body: bytes
) -> None:
    url, answers = server
    answers.api = (status, body)
    tokens = TokenManager(session, url, "demo", "user", "pw", retry=ONE)
    client = MiaopClient(session, url, tokens, retry=ONE)
    calls = {
        "task": client.get_task("t1"),
        "tasks": client.list_tasks(TaskListFilter()),
        "meeting": client.get_meeting("1.t1"),
        "stt": client.get_transcription("1.t1"),
    }
    for name, call in calls.items():
        try:
            await call
        except MiaopError as exc:
            check_error(exc)
            continue
        event(f"{name} parsed")


@FUZZ
@given(st.lists(paragraphs, max_size=8))
async def test_any_transcription_that_parses_renders_in_every_format(
    server: tuple[str, Answers], session: aiohttp.ClientSession, body: list[dict[str, Any]]
) -> None:
    url, answers = server
    answers.api = (200, encoded({"transcription": body}))
    tokens = TokenManager(session, url, "demo", "user", "pw", retry=ONE)
    client = MiaopClient(session, url, tokens, retry=ONE)
    try:
        result = await client.get_transcription("1.t1")
    except MiaopError as exc:
        check_error(exc)
        return
    event("parsed")
    assert len(result.raw) == len(result.paragraphs) == len(body)
    for fmt in FORMATS:
        rendered = render(fmt, paragraphs=result.paragraphs, document={"transcription": result.raw})
        rendered.decode("utf-8")
    lines = render("txt", paragraphs=result.paragraphs, document={}).decode().splitlines()
    assert len(lines) == len(body)


@FUZZ
@given(
    status=statuses,
    body=st.one_of(
        st.fixed_dictionaries(
            {"access_token": st.just(SECRET) | json_values},
            optional={"expires_in": json_values, "refresh_token": st.just(SECRET) | json_values},
        ).map(encoded),
        json_values.map(encoded),
        st.binary(max_size=100),
    ),
)
async def test_any_token_answer_gives_a_token_or_a_documented_error(
    server: tuple[str, Answers], session: aiohttp.ClientSession, status: int, body: bytes
) -> None:
    url, answers = server
    answers.token = (status, body)
    tokens = TokenManager(session, url, "demo", "user", "pw", retry=ONE)
    try:
        assert await tokens.access_token()
    except MiaopError as exc:
        check_error(exc)


# --- file names -------------------------------------------------------------------------------

# Names as a file system hands them over: any bytes but "/" and NUL, decoded as Python does.
fs_names = (
    st.lists(st.integers(1, 255).filter(lambda b: b != ord("/")), min_size=1, max_size=255)
    .map(bytes)
    .filter(lambda b: b not in (b".", b".."))
    .map(os.fsdecode)
)
text_names = st.text(
    st.characters(exclude_characters="/\0", exclude_categories=["Cs"]), min_size=1, max_size=200
).filter(lambda n: n not in (".", "..") and len(os.fsencode(n)) <= NAME_MAX_BYTES)
names = fs_names | text_names
extensions = st.sampled_from(["wav", "mp3", "opus", "webm", "m4a"])


def size(name: str) -> int:
    return len(os.fsencode(name))


@pytest.fixture
def folders(tmp_path: Path) -> Folders:
    layout = InboxLayout(tmp_path / "in", frozenset({"demo"}), multi_tenant=False)
    return Folders(
        layout, tmp_path / "out", tmp_path / "archive", tmp_path / "failed", ("json", "txt")
    )


@FUZZ
@given(folder_parts=st.lists(names, max_size=3), name=names, extension=extensions)
def test_output_names_stay_in_their_folder_and_fit(
    folders: Folders, folder_parts: list[str], name: str, extension: str
) -> None:
    assume(size(f"{name}.{extension}") <= NAME_MAX_BYTES)
    rel = "/".join([*folder_parts, f"{name}.{extension}"])
    reason = ignore_reason(rel.split("/"), {extension})
    assert reason is None or isinstance(reason, str)
    held: set[tuple[str, str]] = set()
    for _ in range(4):
        # Each name chosen is then held by that file, as a collision with the next would be.
        out_stem, dest_rel = choose_export_names(
            folders, "demo", rel, "t" * 16, lambda stem, dest: (stem, dest) in held
        )
        assert (out_stem, dest_rel) not in held
        held.add((out_stem, dest_rel))
        assert dest_rel.rpartition("/")[0] == rel.rpartition("/")[0]
        assert stem_for(dest_rel) == out_stem
        for fmt in ("json", "txt", "srt", "vtt"):
            assert size(folders.output("demo", out_stem, fmt).name) <= NAME_MAX_BYTES
        archived = folders.destination("archive", "demo", dest_rel)
        assert archived.parent == folders.archive_dir.joinpath("demo", *folder_parts)
        assert size(archived.name) <= NAME_MAX_BYTES
    failed = choose_failed_name(folders, "demo", rel, "t" * 16, lambda dest: False)
    error_file = folders.error_file("demo", failed)
    assert size(error_file.name) <= NAME_MAX_BYTES
    assert error_file.parent == folders.failed_dir.joinpath("demo", *folder_parts)


@FUZZ
@given(st.lists(st.lists(names, min_size=1, max_size=3).map("/".join), min_size=1, max_size=12))
def test_upload_names_are_unique_and_safe_in_a_header(rel_paths: list[str]) -> None:
    sent = upload_names(rel_paths)
    assert len(sent) == len(set(sent)) == len(rel_paths)
    for name in sent:
        assert name and not any(ch in name for ch in '"\\/\r\n\0')
