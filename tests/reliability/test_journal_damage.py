"""A damaged, unreadable or foreign journal: `hrec-ingest run` stops, says why and what to do.

It must never start from an empty journal (that would send the files in
flight a second time), and it must leave the journal exactly as it found it:
the bytes an operator is told to keep and recover from. tests/pipeline/
test_journal.py covers Journal.open itself; here the real command runs.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from figures import record
from outcomes import journal_bytes

from e2e.harness import PASSWORD, make_wav
from hrec_ingest.journal.store import JOURNAL_NAME

pytestmark = pytest.mark.timeout(120)

# Tasks in flight written by a run that closed the journal (so they are in the main
# file), then more by one that died without closing it: those are still in the WAL
# beside it, as after kill -9.
_WRITE = r"""
import os, sys
from pathlib import Path
from hrec_ingest.journal import Journal
from hrec_ingest.journal.store import NewFile
journal = Journal.open(Path(sys.argv[1]))
first, count, die = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "die"
for t in range(first, first + count):
    files = [NewFile("demo", f"{t}-{i}.wav", 100, 1, i, "ab" * 32, None) for i in range(5)]
    journal.create_intent(f"task{t:04d}", "demo", "English", "Task", files)
if die:
    os._exit(0)
journal.close()
"""
TASKS = 45


def _write_journal(state: Path, *, died: bool) -> None:
    state.mkdir(parents=True)
    for first, count, end in ((0, 40, "close"), (40, TASKS - 40, "die" if died else "close")):
        command = [sys.executable, "-c", _WRITE, str(state), str(first), str(count), end]
        subprocess.run(command, check=True, timeout=60)
    assert (state / f"{JOURNAL_NAME}-wal").exists() == died


@pytest.fixture(scope="module")
def journals(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """Two journals of TASKS intents, made once: stopped cleanly, and killed (a WAL beside it)."""
    root = tmp_path_factory.mktemp("journals")
    made = {died: root / ("killed" if died else "stopped") for died in (False, True)}
    for died, state in made.items():
        _write_journal(state, died=died)
    return made


def _journal_in_flight(journals: dict[bool, Path], state: Path, *, died: bool = True) -> Path:
    """A copy of a made journal in ``state``; with ``died``, its last intents only in its WAL."""
    shutil.copytree(journals[died], state)
    return state / JOURNAL_NAME


def _overwrite(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as journal:
        journal.seek(offset)
        journal.write(data)


def header_overwritten(path: Path) -> None:
    _overwrite(path, 0, b"not SQLite here")


def truncated(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2 + 1000)


def page_scrambled(path: Path) -> None:
    _overwrite(path, 2 * 4096, b"\xff" * 4096)


def a_folder_in_its_place(path: Path) -> None:
    # Unreadable even to root (chmod does not stop root): a directory is no file.
    for journal_file in path.parent.glob(f"{JOURNAL_NAME}*"):
        journal_file.unlink()
    path.mkdir()


def a_foreign_database(path: Path) -> None:
    for journal_file in path.parent.glob(f"{JOURNAL_NAME}*"):
        journal_file.unlink()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE invoices(id INTEGER PRIMARY KEY, amount REAL)")
    db.execute("INSERT INTO invoices(amount) VALUES (12.5)")
    db.commit()
    db.close()


def from_a_newer_version(path: Path) -> None:
    for journal_file in path.parent.glob(f"{JOURNAL_NAME}*"):
        journal_file.unlink()
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE tasks(task_id TEXT); CREATE TABLE files(id INTEGER);"
        "INSERT INTO meta VALUES ('schema_version', '999');"
    )
    db.close()


Damage = Callable[[Path], None]
# How each damage is done, words of the way out the message must give, and whether
# the journal was left by a killed daemon (WAL beside it) or by a clean stop. A
# header damaged under a WAL that holds page 1 is no damage: SQLite reads page 1
# from the WAL, and the next checkpoint writes it back whole.
CASES: dict[str, tuple[Damage, str, bool]] = {
    "corrupted header": (header_overwritten, ".recover", False),
    "truncated file, WAL beside it": (truncated, ".recover", True),
    "scrambled page, WAL beside it": (page_scrambled, ".recover", True),
    "a folder where the file should be": (a_folder_in_its_place, "regular file", False),
    "foreign SQLite file": (a_foreign_database, "STATE_DIR", False),
    "written by a newer version": (from_a_newer_version, "upgrade hrec-ingest", False),
}


def _config(root: Path) -> Path:
    config = root / "config.env"
    settings = {
        # Never reached: the journal is opened before anything talks to the server.
        "KEYCLOAK_BASE_URL": "http://127.0.0.1:9",
        "API_BASE_URL": "http://127.0.0.1:9",
        "TENANT": "demo",
        "USERNAME": "user",
        "PASSWORD": PASSWORD,
        "SUPERVISOR_EMAIL": "supervisor@example.com",
        "BASE_LANGUAGE": "English",
        "FILES_DIR": str(root / "inbox"),
        "OUTPUT_DIR": str(root / "out"),
        "ARCHIVE_DIR": str(root / "archive"),
        "FAILED_DIR": str(root / "failed"),
        "STATE_DIR": str(root / "state"),
        "STABLE_SECONDS": "0.2",
        "METRICS_ADDR": "",
        "LOG_FORMAT": "json",
    }
    config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    return config


def _run(config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HREC_")}
    return subprocess.run(
        [sys.executable, "-m", "hrec_ingest", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=config.parent,
        timeout=60,
    )


@pytest.mark.parametrize("case", list(CASES))
def test_start_up_stops_and_leaves_the_journal_as_it_was(
    tmp_path: Path, journals: dict[bool, Path], case: str
) -> None:
    damage, way_out, died = CASES[case]
    journal = _journal_in_flight(journals, tmp_path / "state", died=died)
    damage(journal)
    before = journal_bytes(tmp_path / "state")
    audio = make_wav(tmp_path / "inbox" / "waiting.wav", seed=1)
    result = _run(_config(tmp_path))
    said = result.stdout + result.stderr
    record(
        "journal-damage",
        {"case": case, "exit_status": result.returncode, "message": said.strip()[-600:]},
    )
    assert result.returncode == 1, said
    assert str(journal) in said, "the message names the journal file"
    assert way_out in said, f"the message gives the way out ({way_out!r})"
    assert "Traceback" not in said
    assert "daemon.ready" not in said
    # Nothing changed: not the journal (minus SQLite's shared-memory index), not the inbox.
    after = journal_bytes(tmp_path / "state")
    shm = f"{JOURNAL_NAME}-shm"
    assert {k: v for k, v in after.items() if k != shm} == {
        k: v for k, v in before.items() if k != shm
    }
    assert (tmp_path / "inbox" / "waiting.wav").read_bytes() == audio
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_sound_journal_with_its_wal_starts(tmp_path: Path, journals: dict[bool, Path]) -> None:
    """The control case: the same journal, undamaged, is taken up (and its WAL with it)."""
    _journal_in_flight(journals, tmp_path / "state")
    with subprocess.Popen(
        [sys.executable, "-m", "hrec_ingest", "run", "--config", str(_config(tmp_path))],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("HREC_")},
    ) as proc:
        try:
            assert proc.stdout is not None
            ready = any("daemon.ready" in line for line in proc.stdout)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert ready, "the daemon stopped before it was ready"
    db = sqlite3.connect(tmp_path / "state" / JOURNAL_NAME)
    try:
        assert db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == TASKS
    finally:
        db.close()
