"""What a one-shot command is doing, on standard error: one line updated in place, or one per phase.

On a terminal the current figure (bytes sent, server status, files
exported) rewrites a single line, at most ten times a second. Anywhere else
(a log file, a pipe, CI) only phase changes are printed, one line each, so a
long upload or a long wait never floods a log. Lasting messages
(:meth:`ProgressDisplay.note`) are printed in both modes, after clearing the
live line, and so are log records written through :meth:`log_stream`.
"""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable
from typing import TextIO, cast

from hrec_ingest.miaop.models import FINAL_STATUSES

MIN_REDRAW_SECONDS = 0.1
_CLEAR_LINE = "\r\x1b[K"


def human_bytes(n: float) -> str:
    """Bytes in decimal units, as disks and networks count them: ``12.3 MB``."""
    if n < 1000:
        return f"{int(n)} B"
    for unit in ("kB", "MB", "GB", "TB"):
        n /= 1000
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if n < 100 else f"{n:.0f} {unit}"
    raise AssertionError("unreachable")


def human_seconds(seconds: float) -> str:
    """A duration a person reads at a glance: ``4 s``, ``2 min 05 s``, ``1 h 02 min``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def upload_text(sent: int, total: int, seconds: float) -> str:
    """``uploading 12.3 MB of 45.6 MB (27%), 8.1 MB/s``."""
    percent = 100 * sent // total if total else 100
    rate = f", {human_bytes(sent / seconds)}/s" if seconds > 0 and sent else ""
    return f"uploading {human_bytes(sent)} of {human_bytes(total)} ({percent}%){rate}"


def wait_text(task_id: str, status: str, remaining: float | None, waited: float) -> str:
    """``task abc: sttProcessing, about 40 s left (waited 1 min 05 s)``."""
    left = f", about {human_seconds(remaining)} left" if remaining else ""
    return f"task {task_id}: {status}{left} (waited {human_seconds(waited)})"


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _terminal_width() -> int:
    return shutil.get_terminal_size((80, 24)).columns


class ProgressDisplay:
    """Progress of a command on ``stream`` (standard error): live on a terminal, sparse elsewhere.

    ``live`` defaults to whether ``stream`` is a terminal. :meth:`phase` says
    that something new has begun (always shown), :meth:`update` gives a
    running figure (shown only live, and throttled), :meth:`note` prints a
    line that stays. Call :meth:`close` at the end so that the terminal's
    prompt does not land on the live line.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        width: Callable[[], int] = _terminal_width,
    ) -> None:
        self.stream = stream
        self.live = _is_tty(stream) if live is None else live
        self._clock = clock
        self._width = width
        self._shown = ""  # the live line on screen now, if any
        self._last_draw = float("-inf")

    def phase(self, text: str) -> None:
        """Something new has begun: a line of its own off a terminal, the live line on one."""
        if self.live:
            self._draw(text)
        else:
            self._write_line(text)

    def due(self) -> bool:
        """Whether :meth:`update` would draw now: lets a hot loop skip building its text."""
        return self.live and self._clock() - self._last_draw >= MIN_REDRAW_SECONDS

    def update(self, text: str) -> None:
        """A running figure of the current phase; redrawn at most every 0.1 s, live only."""
        if self.due():
            self._draw(text)

    def note(self, text: str) -> None:
        """A line that stays (an outcome, a warning), printed in both modes."""
        self.clear()
        self._write_line(text)

    def clear(self) -> None:
        """Erase the live line, if one is shown, so that other output starts on a clean line."""
        if self._shown:
            self.stream.write(_CLEAR_LINE)
            self.stream.flush()
            self._shown = ""

    def close(self) -> None:
        """Leave the terminal clean: the live line is erased."""
        self.clear()

    def log_stream(self) -> TextIO:
        """A stream for log records that clears the live line before each write."""
        # logging's StreamHandler needs only write, flush (and isatty for the format).
        return cast(TextIO, _ClearingStream(self))

    def _draw(self, text: str) -> None:
        # One column is kept free: a line that fills the width wraps on some terminals,
        # and "\r" would then rewrite only the second half.
        limit = max(10, self._width() - 1)
        line = text if len(text) <= limit else text[: limit - 3] + "..."
        self.stream.write(_CLEAR_LINE + line)
        self.stream.flush()
        self._shown = line
        self._last_draw = self._clock()

    def _write_line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class _ClearingStream(io.TextIOBase):
    """Writes to the display's stream after erasing its live line (for the log handler)."""

    def __init__(self, display: ProgressDisplay) -> None:
        super().__init__()
        self._display = display

    def write(self, text: str) -> int:
        self._display.clear()
        return self._display.stream.write(text)

    def flush(self) -> None:
        self._display.stream.flush()

    def isatty(self) -> bool:
        return _is_tty(self._display.stream)


class UploadMeter:
    """The ``on_progress`` callback of an upload: bytes sent so far in the current attempt.

    A retried upload starts again from 0; the meter then restarts its clock so
    that the rate stays true.
    """

    def __init__(
        self,
        display: ProgressDisplay,
        total: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._display = display
        self._total = total
        self._clock = clock
        self._started = clock()
        self._sent = 0

    def __call__(self, sent: int) -> None:
        if sent < self._sent:
            self._started = self._clock()
        self._sent = sent
        # Called for every chunk the socket takes: the text is built only when it will be drawn.
        if self._display.due():
            self._display.update(upload_text(sent, self._total, self._clock() - self._started))

    def summary(self) -> str:
        """``uploaded 45.6 MB in 5 s (8.7 MB/s)``, for the note at the end of the upload."""
        seconds = self._clock() - self._started
        rate = f" ({human_bytes(self._sent / seconds)}/s)" if seconds > 0 else ""
        return f"uploaded {human_bytes(self._sent)} in {human_seconds(seconds)}{rate}"


class WaitMeter:
    """Shows each answer while a task is awaited: a new line when its status changes,
    and one that stays when it is final."""

    def __init__(
        self, display: ProgressDisplay, task_id: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._display = display
        self._task_id = task_id
        self._clock = clock
        self._started = clock()
        self._status: str | None = None

    def __call__(self, status: str, remaining: float | None) -> None:
        waited = self._clock() - self._started
        if status in FINAL_STATUSES:
            # The outcome stays on screen, the live line moves on to the export.
            self._display.note(f"task {self._task_id}: {status} after {human_seconds(waited)}")
        elif status != self._status:
            self._display.phase(wait_text(self._task_id, status, remaining, waited))
        else:
            self._display.update(wait_text(self._task_id, status, remaining, waited))
        self._status = status

    def trouble(self, reason: str, retry_in: float) -> None:
        """A status request failed and will be repeated: say so (once per failure)."""
        self._display.note(
            f"cannot ask about task {self._task_id} ({reason}); trying again in "
            f"{human_seconds(retry_in)}"
        )
