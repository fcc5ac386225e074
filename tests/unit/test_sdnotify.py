"""sd_notify client against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator

import pytest

from hrec_ingest.sdnotify import SystemdNotifier, watchdog_interval

Listener = Callable[[], tuple[str, socket.socket]]


@pytest.fixture
def listener() -> Iterator[Listener]:
    """Factory for bound datagram sockets: returns ($NOTIFY_SOCKET value, socket)."""
    opened: list[socket.socket] = []
    # pytest's tmp_path can exceed the 108-byte limit of AF_UNIX paths.
    with tempfile.TemporaryDirectory(prefix="sdn-", dir="/tmp") as folder:

        def make() -> tuple[str, socket.socket]:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            opened.append(sock)
            path = os.path.join(folder, f"{len(opened)}.sock")
            sock.bind(path)
            sock.settimeout(5)
            return path, sock

        yield make
        for sock in opened:
            sock.close()


def test_sends_each_state_as_one_datagram(listener: Listener) -> None:
    path, sock = listener()
    with SystemdNotifier({"NOTIFY_SOCKET": path}) as notifier:
        assert notifier.enabled
        assert notifier.ready()
        assert notifier.status("watching 3 files")
        assert notifier.watchdog()
        assert notifier.stopping()
    received = [sock.recv(4096) for _ in range(4)]
    assert received == [b"READY=1", b"STATUS=watching 3 files", b"WATCHDOG=1", b"STOPPING=1"]


def test_status_cannot_inject_fields(listener: Listener) -> None:
    path, sock = listener()
    with SystemdNotifier({"NOTIFY_SOCKET": path}) as notifier:
        notifier.status("line one\nREADY=1")
    assert sock.recv(4096) == b"STATUS=line one READY=1"


def test_notify_joins_fields_with_newlines(listener: Listener) -> None:
    path, sock = listener()
    with SystemdNotifier({"NOTIFY_SOCKET": path}) as notifier:
        notifier.notify("READY=1", "STATUS=up")
    assert sock.recv(4096) == b"READY=1\nSTATUS=up"


def test_abstract_namespace_socket() -> None:
    name = f"hrec-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        with SystemdNotifier({"NOTIFY_SOCKET": "@" + name}) as notifier:
            assert notifier.ready()
        assert sock.recv(4096) == b"READY=1"


@pytest.mark.parametrize("value", ["", "relative/path", "@", "vsock:2:1234"])
def test_no_op_without_a_usable_socket(value: str) -> None:
    env = {"NOTIFY_SOCKET": value} if value else {}
    notifier = SystemdNotifier(env)
    assert not notifier.enabled
    assert not notifier.ready()
    assert not notifier.watchdog()
    assert notifier.watchdog_interval() is None
    notifier.close()


def test_reads_the_process_environment_by_default(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, sock = listener()
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    with SystemdNotifier() as notifier:
        notifier.ready()
    assert sock.recv(4096) == b"READY=1"


def test_missing_socket_is_not_an_error() -> None:
    with SystemdNotifier({"NOTIFY_SOCKET": "/nonexistent/hrec/notify.sock"}) as notifier:
        assert notifier.enabled
        assert not notifier.ready()


def test_full_receive_queue_drops_instead_of_blocking(listener: Listener) -> None:
    path, sock = listener()
    with SystemdNotifier({"NOTIFY_SOCKET": path}) as notifier:
        # Nobody reads: the kernel queue fills up and sends start failing at once.
        results = [notifier.watchdog() for _ in range(10_000)]
    assert results[0]
    assert not all(results)


def test_reconnects_after_close(listener: Listener) -> None:
    path, sock = listener()
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    notifier.ready()
    notifier.close()
    notifier.watchdog()
    notifier.close()
    assert [sock.recv(4096), sock.recv(4096)] == [b"READY=1", b"WATCHDOG=1"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "60000000"}, 30.0),
        ({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())}, 0.5),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "nope"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(env) == expected


def test_watchdog_interval_method_needs_a_socket(listener: Listener) -> None:
    path, _ = listener()
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000000"}
    with SystemdNotifier(env) as notifier:
        assert notifier.watchdog_interval() == 10.0
