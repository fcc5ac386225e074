"""Server answers that break the guide's promises, in one daemon run.

Every route first answers badly (an HTML page, a 200 without taskId,
truncated JSON), then as the guide says; some files meet answers that stay
bad. The daemon retries what may heal, fails each file that cannot be
finished with a reason, exports everything else exactly once, and keeps going.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from e2e.harness import make_wav, sha256, visible_files, wait_for
from hrec_ingest.simulator.tasks import parse_meeting_id
from samples.deployments import StartDeployment
from samples.lying_server import Answer, LyingSimulator, html_page, json_answer, truncated

SRT_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)$")


def file_of(liar: LyingSimulator, answer: Answer) -> str:
    """The uploaded name of the file a meeting or transcription request is about."""
    parsed = parse_meeting_id(answer.request.match_info["meeting_id"])
    assert parsed is not None
    index, task_id = parsed
    return liar.sim.state.tasks[task_id].files[index].name


def broken_times(body: dict[str, Any]) -> dict[str, Any]:
    """Paragraphs and words with missing, negative and non-numeric times."""
    paragraphs = body["transcription"]
    del paragraphs[0]["location"], paragraphs[0]["duration"]
    paragraphs[1]["location"] = -5000
    paragraphs[1]["duration"] = -1
    for word in paragraphs[-1]["words"]:
        word["location"] = -word["location"]
        word.pop("duration")
    return body


def rules_for(liar: LyingSimulator) -> dict[str, Any]:
    def token(answer: Answer) -> web.Response | None:
        return html_page(502) if answer.nth == 1 else None

    def hrec(answer: Answer) -> web.Response | None:
        # The task was accepted; only the answer lacks the taskId the guide promises.
        return json_answer({"status": "ok"}) if answer.nth == 1 else None

    def task(answer: Answer) -> web.Response | None:
        if answer.nth == 1:
            return truncated(answer)
        document = answer.json()
        document["meetings"] = document["meetings"][:1]  # shorter than the files sent
        return json_answer(document)

    def meeting(answer: Answer) -> web.Response | None:
        if file_of(liar, answer) == "missing.wav":
            return json_answer({"message": "meeting not found"}, status=404)
        if answer.nth == 1:
            return html_page(200)  # a proxy's login page, with status 200
        return truncated(answer) if answer.nth == 2 else None

    def stt(answer: Answer) -> web.Response | None:
        name = file_of(liar, answer)
        if name == "garbled.wav":
            return truncated(answer)
        if name == "times.wav":
            return json_answer(broken_times(answer.json()))
        return html_page(503) if answer.nth == 1 else None

    return {"token": token, "hrec": hrec, "task": task, "meeting": meeting, "stt": stt}


def srt_times_are_sane(text: str) -> None:
    for line in text.splitlines():
        if "-->" in line:
            match = SRT_TIME.match(line)
            assert match, line
            h1, m1, s1, ms1, h2, m2, s2, ms2 = (int(g) for g in match.groups())
            start = ((h1 * 60 + m1) * 60 + s1) * 1000 + ms1
            assert start <= ((h2 * 60 + m2) * 60 + s2) * 1000 + ms2, line


async def test_bad_answers_are_retried_or_fail_their_file_and_the_rest_is_exported(
    deploy: StartDeployment,
) -> None:
    d, liar = await deploy()
    liar.rules.update(rules_for(liar))
    d.settings["BATCH_MAX_FILES"] = "4"
    names = ("good.wav", "times.wav", "garbled.wav", "missing.wav")
    drops = {name: make_wav(d.inbox / name, seconds=12, seed=i) for i, name in enumerate(names)}
    daemon = d.start()
    await wait_for(lambda: len(visible_files(d.archive)) == 2, 60, "two files archived")
    await wait_for(lambda: len(visible_files(d.failed)) == 4, 60, "two files failed")

    for name in ("good.wav", "times.wav"):
        assert (d.archive / "demo" / name).read_bytes() == drops[name]
        stem = d.out / "demo" / name.removesuffix(".wav")
        document = json.loads(stem.with_suffix(".json").read_text())
        assert document["source"]["sha256"] == sha256(drops[name])
        paragraphs = document["transcription"]
        assert len(stem.with_suffix(".txt").read_text().splitlines()) == len(paragraphs)
        srt_times_are_sane(stem.with_suffix(".srt").read_text())
        assert stem.with_suffix(".vtt").read_text().startswith("WEBVTT")
    raw = json.loads((d.out / "demo" / "times.json").read_text())["transcription"]
    assert "location" not in raw[0] and raw[1]["location"] == -5000  # kept exactly as sent

    garbled = json.loads((d.failed / "demo" / "garbled.wav.error.json").read_text())
    assert (garbled["stage"], garbled["error"]["name"]) == ("export", "BadTranscription")
    assert "not JSON" in garbled["error"]["message"]
    missing = json.loads((d.failed / "demo" / "missing.wav.error.json").read_text())
    assert (missing["stage"], missing["error"]["name"]) == ("process", "MissingMeeting")

    for data in drops.values():
        assert d.uploads_of(sha256(data)) == 1  # the 200 without taskId did not cause a resend
    assert all(liar.lies[route] for route in ("token", "hrec", "task", "meeting", "stt"))
    assert daemon.events("task.submitted") and not daemon.events("task.submit_crashed")
    assert not [e for e in daemon.log_lines() if "crashed" in str(e.get("event"))]

    later = make_wav(d.inbox / "later.wav", seed=9)
    await wait_for(lambda: (d.archive / "demo" / "later.wav").exists(), 30, "a later file")
    assert d.uploads_of(sha256(later)) == 1
    assert await d.stop(daemon) == 0
