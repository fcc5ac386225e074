"""A minimal client for systemd's notification protocol (``sd_notify(3)``).

Written by hand rather than depending on libsystemd: the protocol is one
datagram of ``KEY=VALUE`` lines sent to the ``AF_UNIX`` socket named by
``$NOTIFY_SOCKET``. Outside systemd (no ``$NOTIFY_SOCKET``) every call is a
no-op, so the daemon calls it unconditionally.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

__all__ = ["SystemdNotifier", "watchdog_interval"]


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Return how often, in seconds, to send ``WATCHDOG=1``, or None if not asked to.

    Follows ``sd_watchdog_enabled(3)``: ``$WATCHDOG_USEC`` holds the unit's
    ``WatchdogSec=`` in microseconds, and ``$WATCHDOG_PID``, when set, must
    name this process (otherwise the request is for another process). The
    result is half the configured interval, as the man page recommends, so one
    late ping does not get the service killed.

    Example:
        >>> watchdog_interval({"WATCHDOG_USEC": "60000000"})
        30.0
    """
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid is not None:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    return usec / 2 / 1_000_000


def _socket_address(value: str) -> str | None:
    # "@name" is a socket in the abstract namespace, spelled with a leading NUL
    # byte for the kernel; anything else must be an absolute path. Other forms
    # (e.g. "vsock:...") are not supported and turn the notifier off.
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


class SystemdNotifier:
    """Sends state changes to the service manager named by ``$NOTIFY_SOCKET``.

    With no (or an unusable) ``$NOTIFY_SOCKET`` every method does nothing and
    returns False. Sending never raises and never blocks: a notification that
    cannot be delivered at once is dropped, because the daemon must keep
    working whatever the state of its supervisor.

    Example:
        >>> notifier = SystemdNotifier({})
        >>> notifier.ready()
        False
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self._watchdog_interval = watchdog_interval(env)
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        """True when running under a service manager that listens for notifications."""
        return self._address is not None

    def watchdog_interval(self) -> float | None:
        """Seconds between ``WATCHDOG=1`` pings, or None; see :func:`watchdog_interval`."""
        return self._watchdog_interval if self.enabled else None

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=VALUE`` fields as one datagram; return True if it was sent."""
        if self._address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto("\n".join(fields).encode(), self._address)
        except OSError:
            return False
        return True

    def ready(self) -> bool:
        """Tell systemd start-up is complete (``Type=notify`` units become active)."""
        return self.notify("READY=1")

    def status(self, text: str) -> bool:
        """Set the one-line status shown by ``systemctl status``."""
        # A newline would start a new field of the datagram.
        return self.notify("STATUS=" + " ".join(text.splitlines()))

    def watchdog(self) -> bool:
        """Ping the watchdog (``WatchdogSec=``); see :func:`watchdog_interval`."""
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """Tell systemd a graceful stop has begun."""
        return self.notify("STOPPING=1")

    def close(self) -> None:
        """Close the socket; the next notification opens a new one."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SystemdNotifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
