"""``hrec-ingest retry``: failed files back to the inbox, safe to interrupt and to run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from command_site import Site

from e2e.harness import PASSWORD as E2E_PASSWORD
from e2e.harness import (
    Deployment,
    demo_settings,
    make_wav,
    visible_files,
    wait_for,
)
from hrec_ingest.cli import main
from hrec_ingest.commands.retry import retry_command
from hrec_ingest.journal import FileState, Journal, NewFile
from hrec_ingest.pipeline.layout import FAILED
from hrec_ingest.simulator import SimulatorOptions, running_simulator


def _run_retry_process(
    site: Site, *args: str, failpoints: str = ""
) -> subprocess.CompletedProcess[str]:
    """``python -m hrec_ingest retry`` as its own process, so a failpoint can kill it."""
    site.write_config()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HREC_")}
    env["HREC_FAILPOINTS"] = failpoints
    return subprocess.run(
        [sys.executable, "-m", "hrec_ingest", "retry", "--config", str(site.config), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=site.root,
        timeout=60,
        check=False,
    )


def _state_of(journal: Journal, row_id: int) -> FileState:
    return journal.require_file(row_id).state


async def test_a_failed_file_goes_back_to_its_inbox_place(site: Site) -> None:
    journal = site.journal()
    row = await site.fail(journal, "sub/call.wav", b"payload-1")
    audio, reason = site.failed / "demo/sub/call.wav", site.failed / "demo/sub/call.wav.error.json"
    assert audio.exists() and reason.exists()

    result = site.invoke(retry_command, "failed/demo/sub/call.wav")  # relative to the cwd
    assert result.exit_code == 0, result.output
    back = site.inbox / "sub" / "call.wav"
    assert result.stdout.splitlines() == [
        f"{audio} -> {back}",
        "1 file put back in the inbox.",
    ]
    assert back.read_bytes() == b"payload-1"
    assert not audio.exists() and not reason.exists()
    forgotten = journal.require_file(row.id)
    assert forgotten.state is FileState.RETRIED and forgotten.dest_rel is None
    # The failed-folder name is free again for the file's next failure.
    assert not journal.name_reserved("demo", dest=(FAILED, "sub/call.wav"))
    assert list(journal.active_paths()) == []
    journal.close()


async def test_naming_the_reason_file_or_both_retries_once(site: Site) -> None:
    journal = site.journal()
    await site.fail(journal, "a.wav", b"a")
    journal.close()
    reason = str(site.failed / "demo" / "a.wav.error.json")
    result = site.invoke(retry_command, reason, str(site.failed / "demo" / "a.wav"))
    assert result.exit_code == 0, result.output
    assert result.stdout.count(" -> ") == 1 and result.stderr == ""
    assert (site.inbox / "a.wav").read_bytes() == b"a"


async def test_all_puts_back_every_failed_file(site: Site) -> None:
    journal = site.journal()
    names = ["a.wav", "x/b.wav", "x/y/c.wav"]
    for i, name in enumerate(names):
        await site.fail(journal, name, f"data-{i}".encode())
    journal.close()
    result = site.invoke(retry_command, "--all")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "3 files put back in the inbox."
    for i, name in enumerate(names):
        assert (site.inbox / name).read_bytes() == f"data-{i}".encode()
    assert [p for p in site.failed.rglob("*") if p.is_file()] == []
    again = site.invoke(retry_command, "--all")
    assert again.exit_code == 0 and again.stdout == "No failed files to put back.\n"


async def test_a_taken_inbox_name_gets_a_free_name_beside_it(site: Site) -> None:
    journal = site.journal()
    await site.fail(journal, "call.wav", b"the failed one")
    (site.inbox / "call.wav").write_bytes(b"a newer drop")
    (site.inbox / "call.retry.wav").write_bytes(b"and another")
    journal.close()

    result = site.invoke(retry_command, "--all")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].endswith(f" -> {site.inbox / 'call.retry.2.wav'}")
    assert (site.inbox / "call.wav").read_bytes() == b"a newer drop"
    assert (site.inbox / "call.retry.wav").read_bytes() == b"and another"
    assert (site.inbox / "call.retry.2.wav").read_bytes() == b"the failed one"


async def test_a_name_the_daemon_holds_is_not_used(site: Site) -> None:
    journal = site.journal()
    await site.fail(journal, "call.wav", b"failed")
    # A newer call.wav is on its way out of the inbox: its audio has left, its row is open.
    new = NewFile("demo", "call.wav", 3, 1, 2, "ef" * 32, None)
    (row,) = journal.create_intent("T9", "demo", "English", "Task", [new])
    journal.set_file_state(row.id, FileState.EXPORTED)
    journal.close()
    result = site.invoke(retry_command, "--all")
    assert result.exit_code == 0, result.output
    assert (site.inbox / "call.retry.wav").read_bytes() == b"failed"
    assert not (site.inbox / "call.wav").exists()


async def test_without_its_journal_row_the_reason_says_where_it_came_from(site: Site) -> None:
    journal = site.journal()
    await site.fail(journal, "deep/er/call.wav", b"x")
    journal.close()
    for leftover in site.state.iterdir():
        leftover.unlink()  # the journal was started afresh

    result = site.invoke(retry_command, str(site.failed / "demo/deep/er/call.wav"))
    assert result.exit_code == 0, result.output
    assert (site.inbox / "deep/er/call.wav").read_bytes() == b"x"
    assert not (site.failed / "demo/deep/er/call.wav.error.json").exists()
    assert list(site.state.iterdir()) == []  # no journal was made just for this

    # And with a fresh, empty journal, --all finds such orphans on disk.
    Journal.open(site.state).close()
    (site.failed / "demo/o.wav").write_bytes(b"o")
    doc = {"source": {"tenant": "demo", "path": "old/o.wav"}, "stage": "validate"}
    (site.failed / "demo/o.wav.error.json").write_text(json.dumps(doc))
    result = site.invoke(retry_command, "--all")
    assert result.exit_code == 0, result.output
    assert (site.inbox / "old/o.wav").read_bytes() == b"o"


@pytest.mark.parametrize(
    "source",
    [
        {"tenant": "demo", "path": "../../escape.wav"},
        {"tenant": "demo", "path": "/etc/passwd"},
        {"tenant": "other", "path": "a.wav"},
        "not an object",
    ],
)
def test_a_reason_file_cannot_send_audio_outside_the_inbox(site: Site, source: object) -> None:
    (site.failed / "demo").mkdir(parents=True)
    (site.failed / "demo/a.wav").write_bytes(b"a")
    (site.failed / "demo/a.wav.error.json").write_text(json.dumps({"source": source}))
    result = site.invoke(retry_command, "--all")
    assert result.exit_code == 0
    assert "source" in result.stderr and "0 files put back" in result.stdout
    assert (site.failed / "demo/a.wav").read_bytes() == b"a"
    assert not (site.root / "escape.wav").exists()


async def test_paths_that_are_not_failed_files_are_reported_with_exit_0(site: Site) -> None:
    journal = site.journal()
    await site.fail(journal, "good.wav", b"g")
    journal.close()
    (site.failed / "demo/stray.wav").write_bytes(b"no reason, no row")
    outside = site.root / "elsewhere.wav"
    outside.write_bytes(b"e")
    args = [
        str(outside),
        str(site.failed / "demo/missing.wav"),
        str(site.failed / "demo"),
        str(site.failed / "demo/stray.wav"),
        str(site.failed / "demo/good.wav"),
    ]
    result = site.invoke(retry_command, *args)
    assert result.exit_code == 0, result.output
    problems = result.stderr.splitlines()
    assert len(problems) == 4
    assert f"{outside}: not in FAILED_DIR ({site.failed})" in problems[0]
    assert "no such failed file" in problems[1]
    assert "is a folder" in problems[2]
    assert "where it came from is unknown" in problems[3]
    assert result.stdout.splitlines()[-1] == (
        "1 file put back in the inbox; 4 not retried (see above)."
    )
    assert (site.inbox / "good.wav").exists() and outside.exists()


async def test_a_file_the_daemon_is_failing_right_now_is_left_alone(site: Site) -> None:
    journal = site.journal()
    new = NewFile("demo", "busy.wav", 1, 1, 2, "ab" * 32, None)
    journal.insert_failing(new, dest_rel="busy.wav", error={"stage": "validate"})
    journal.close()
    result = site.invoke(retry_command, str(site.failed / "demo/busy.wav"))
    assert result.exit_code == 0
    assert "moving it to FAILED_DIR right now" in result.stderr


def test_neither_paths_nor_all_is_a_usage_error(site: Site) -> None:
    result = site.invoke(retry_command)
    assert result.exit_code == 2
    assert "name the failed files to put back" in result.stderr and "--all" in result.stderr
    both = site.invoke(retry_command, "x.wav", "--all")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_help_says_what_it_does_with_an_example() -> None:

    result = CliRunner().invoke(main, ["retry", "--help"])
    assert result.exit_code == 0
    assert "back in the inbox" in result.output and "Example: hrec-ingest retry" in result.output


# --- interrupted runs -------------------------------------------------------------------------


@pytest.mark.parametrize("failpoint", ["retry_after_move", "retry_after_reason_removed"])
async def test_a_retry_killed_midway_is_finished_by_the_next(site: Site, failpoint: str) -> None:
    journal = site.journal()
    row = await site.fail(journal, "call.wav", b"precious")
    audio = site.failed / "demo/call.wav"

    killed = _run_retry_process(site, str(audio), failpoints=failpoint)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # Nothing is lost at the kill: the audio is in the inbox, the row still says failed.
    assert (site.inbox / "call.wav").read_bytes() == b"precious"
    assert _state_of(journal, row.id) is FileState.FAILED
    assert (site.failed / "demo/call.wav.error.json").exists() == (failpoint == "retry_after_move")

    rerun = site.invoke(retry_command, "--all")
    assert rerun.exit_code == 0, rerun.output
    assert "already gone from FAILED_DIR; its failure is forgotten" in rerun.stdout
    assert "1 earlier retry finished" in rerun.stdout
    assert [p.name for p in site.inbox.iterdir()] == ["call.wav"]
    assert list((site.failed / "demo").iterdir()) == []
    assert _state_of(journal, row.id) is FileState.RETRIED
    journal.close()


async def test_a_move_cut_between_link_and_unlink_is_finished_not_doubled(site: Site) -> None:
    journal = site.journal()
    await site.fail(journal, "call.wav", b"once only")
    journal.close()
    # move_file links the new name first and unlinks the old one after: die in between.
    os.link(site.failed / "demo/call.wav", site.inbox / "call.wav")

    result = site.invoke(retry_command, "--all")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].endswith(f" -> {site.inbox / 'call.wav'}")
    assert [p.name for p in site.inbox.iterdir()] == ["call.wav"]
    assert not (site.failed / "demo/call.wav").exists()


# --- with the daemon running -----------------------------------------------------------------


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    options = SimulatorOptions(
        users={"demo": {"user": E2E_PASSWORD}}, pending_seconds=0.2, processing_seconds=0.3
    )
    async with running_simulator(options) as sim:
        d = Deployment(tmp_path, sim)
        d.settings = demo_settings(d)
        try:
            yield d
        finally:
            for daemon in d.daemons:
                daemon.kill()


def _command(d: Deployment, *args: str) -> Result:
    """``hrec-ingest ARGS --config ...`` in this process, beside the daemon's process.

    It blocks this event loop, and so the simulator, for the few milliseconds
    it runs: the daemon sees a slow server, which it must bear anyway.
    """
    return CliRunner().invoke(main, [*args, "--config", str(d.write_config())])


def _files_in(d: Deployment, state: FileState) -> int:
    journal = Journal.open_read_only(d.state)
    if journal is None:
        return 0
    try:
        return sum(n for (_, s), n in journal.file_counts().items() if s == state)
    finally:
        journal.close()


def _failures(d: Deployment) -> dict[str, dict[str, Any]]:
    result = _command(d, "status", "--json")
    assert result.exit_code == 0, result.output
    assert E2E_PASSWORD not in result.output
    return {f["path"]: f for f in json.loads(result.stdout)["recentFailures"]}


async def test_while_the_daemon_runs_status_shows_failures_and_retry_recovers_them(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = deployment
    for key in [k for k in os.environ if k.startswith("HREC_")]:
        monkeypatch.delenv(key)
    d.sim.options.task_error_files = ("doomed.wav",)
    d.inbox.mkdir(parents=True)
    (d.inbox / "notaudio.wav").write_text("a text file with an audio name\n")
    doomed = make_wav(d.inbox / "doomed.wav", seed=3)
    daemon = d.start()
    failed = d.failed / "demo"
    await wait_for(lambda: _files_in(d, FileState.FAILED) == 2, 30, "both files failed", 0.2)

    failures = _failures(d)
    assert failures["notaudio.wav"]["stage"] == "validate"
    assert failures["doomed.wav"]["stage"] == "process"
    assert failures["doomed.wav"]["failedPath"] == str(failed / "doomed.wav")
    for failure in failures.values():
        assert failure["state"] == "failed" and failure["error"]["name"]

    d.sim.options.task_error_files = ()  # the server is fixed
    result = _command(
        d, "retry", str(failed / "doomed.wav"), str(failed / "notaudio.wav.error.json")
    )
    assert result.exit_code == 0, result.output
    assert "2 files put back in the inbox." in result.stdout

    # doomed.wav is transcribed now; notaudio.wav, still not audio, fails again.
    await wait_for(
        lambda: _files_in(d, FileState.ARCHIVED) == 1 and _files_in(d, FileState.FAILED) == 1,
        30,
        "doomed.wav archived and notaudio.wav failed again",
        0.2,
    )
    assert (d.archive / "demo" / "doomed.wav").read_bytes() == doomed
    assert (d.out / "demo" / "doomed.json").exists()
    # It fails under its own name again: retry had freed it.
    assert sorted(p.name for p in visible_files(d.failed)) == [
        "notaudio.wav",
        "notaudio.wav.error.json",
    ]
    totals = json.loads(_command(d, "status", "--json").stdout)["files"]["total"]
    assert (totals["retried"], totals["failed"], totals["archived"]) == (2, 1, 1)
    assert await d.stop(daemon) == 0
