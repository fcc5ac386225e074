"""The progress display of submit and fetch: one live line on a terminal, sparse lines elsewhere."""

from __future__ import annotations

import io
import logging

from hrec_ingest.commands.progress import (
    ProgressDisplay,
    UploadMeter,
    WaitMeter,
    human_bytes,
    human_seconds,
    upload_text,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_sizes_and_durations_read_at_a_glance() -> None:
    assert [human_bytes(n) for n in (0, 999, 1000, 12_345_678, 2_000_000_000)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "12.3 MB",
        "2.0 GB",
    ]
    assert [human_seconds(s) for s in (0.4, 59, 125, 3725)] == [
        "0 s",
        "59 s",
        "2 min 05 s",
        "1 h 02 min",
    ]
    assert upload_text(250, 1000, 2.0) == "uploading 250 B of 1.0 kB (25%), 125 B/s"


def test_live_line_is_redrawn_in_place_at_most_ten_times_a_second() -> None:
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, live=True, clock=clock, width=lambda: 30)

    display.phase("uploading")
    display.update("sent 1")  # within 0.1 s of the last draw: skipped
    clock.now += 0.2
    display.update("a line much longer than the terminal is wide")
    display.note("done")

    assert stream.getvalue() == (
        "\r\x1b[Kuploading\r\x1b[Ka line much longer than th...\r\x1b[Kdone\n"
    )


def test_off_a_terminal_only_phases_and_notes_are_printed() -> None:
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, live=False, clock=clock)
    meter = UploadMeter(display, 10_000_000, clock=clock)

    display.phase("uploading 1 file")
    for sent in range(100_000, 10_000_001, 100_000):
        clock.now += 0.5
        meter(sent)
    display.note(meter.summary())

    assert stream.getvalue().splitlines() == [
        "uploading 1 file",
        "uploaded 10.0 MB in 50 s (200 kB/s)",
    ]


def test_a_retried_upload_restarts_the_rate() -> None:
    clock = Clock()
    meter = UploadMeter(ProgressDisplay(io.StringIO(), live=False), 1000, clock=clock)
    meter(800)
    clock.now += 100
    meter(0)  # the next attempt starts from the first byte
    clock.now += 1
    meter(1000)

    assert meter.summary() == "uploaded 1.0 kB in 1 s (1.0 kB/s)"


def test_waiting_prints_each_status_once_and_the_outcome() -> None:
    stream, clock = io.StringIO(), Clock()
    meter = WaitMeter(ProgressDisplay(stream, live=False), "t1", clock=clock)

    for status, remaining in [("sttPending", 30), ("sttPending", 30), ("sttProcessing", 20)]:
        clock.now += 5
        meter(status, remaining)
    clock.now += 20
    meter("sttDone", 0)

    assert stream.getvalue().splitlines() == [
        "task t1: sttPending, about 30 s left (waited 5 s)",
        "task t1: sttProcessing, about 20 s left (waited 15 s)",
        "task t1: sttDone after 35 s",
    ]


def test_log_records_clear_the_live_line_first() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, live=True, width=lambda: 80)
    handler = logging.StreamHandler(display.log_stream())
    logger = logging.getLogger("test_progress")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        display.phase("waiting")
        logger.warning("server slow")
    finally:
        logger.removeHandler(handler)

    assert stream.getvalue() == "\r\x1b[Kwaiting\r\x1b[Kserver slow\n"
