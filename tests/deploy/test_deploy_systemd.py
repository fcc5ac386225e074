"""The systemd units: directives, ``systemd-analyze verify`` and the security exposure.

The tools come with Debian's ``systemd`` package; the tests that need them skip
(saying so) where it is not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "systemd"
UNIT = SYSTEMD / "hrec-ingest.service"
TEMPLATE = SYSTEMD / "hrec-ingest@.service"
SYSUSERS = SYSTEMD / "sysusers.d" / "hrec-ingest.conf"
TMPFILES = SYSTEMD / "tmpfiles.d" / "hrec-ingest.conf"
CONFIG_EXAMPLE = SYSTEMD / "config.env.example"

EXEC = "/opt/hrec-ingest/bin/hrec-ingest"
MAX_EXPOSURE = 2.0
# The daemon's two-phase stop takes up to this long after SIGTERM.
DAEMON_GRACE_SECONDS = 10

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze not installed (Debian package: systemd)",
)

Directives = list[tuple[str, str, str]]


def parse_unit(path: Path) -> Directives:
    """(section, key, value) for each assignment, in order; comments dropped."""
    section = ""
    result: Directives = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        assert not line.endswith("\\"), "keep every directive on one line"
        key, sep, value = line.partition("=")
        assert sep, line
        result.append((section, key.strip(), value.strip()))
    return result


def values(unit: Directives, key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in unit if s == section and k == key]


def one(unit: Directives, key: str, section: str = "Service") -> str:
    found = values(unit, key, section)
    assert len(found) == 1, f"{key}= set {len(found)} times"
    return found[0]


def seconds(value: str) -> float:
    match = re.fullmatch(r"([0-9]+)(s|min)?", value)
    assert match, value
    return int(match[1]) * (60 if match[2] == "min" else 1)


@pytest.fixture(params=[UNIT, TEMPLATE], ids=["unit", "template"])
def unit(request: pytest.FixtureRequest) -> Directives:
    path: Path = request.param
    return parse_unit(path)


def test_notify_watchdog_and_restart(unit: Directives) -> None:
    assert one(unit, "Type") == "notify"
    assert one(unit, "NotifyAccess") == "main"
    assert seconds(one(unit, "WatchdogSec")) == 60
    assert one(unit, "Restart") == "on-failure"
    assert seconds(one(unit, "RestartSec")) > 0
    # Exit status 2 is a configuration error: restarting cannot fix it.
    assert one(unit, "RestartPreventExitStatus") == "2"
    stop = seconds(one(unit, "TimeoutStopSec"))
    assert DAEMON_GRACE_SECONDS < stop <= 3 * DAEMON_GRACE_SECONDS


def test_runs_the_venv_with_its_own_config_file(unit: Directives) -> None:
    argv = one(unit, "ExecStart").split()
    assert argv[:2] == [EXEC, "run"]
    assert argv[2] == "--config" and argv[3].startswith("/etc/hrec-ingest/")


def test_environment_file_is_optional_and_beside_the_config(unit: Directives) -> None:
    # Overrides only: the leading "-" lets the service start without the file.
    (path,) = values(unit, "EnvironmentFile")
    assert path.startswith("-/etc/hrec-ingest/"), path
    config = one(unit, "ExecStart").split()[3]
    assert path.lstrip("-") != config, "config.env is the daemon's file, not systemd's"


def test_password_comes_as_a_credential(unit: Directives) -> None:
    name, _, source = one(unit, "LoadCredential").partition(":")
    assert name == "password" and source.startswith("/etc/hrec-ingest/")
    env = " ".join(values(unit, "Environment")).split()
    assert "HREC_PASSWORD_FILE=%d/password" in env
    assert not any(e.startswith("HREC_PASSWORD=") for e in env)


def test_static_user_and_folders(unit: Directives) -> None:
    assert one(unit, "User") == "hrec-ingest"
    assert one(unit, "Group") == "hrec-ingest"
    assert not values(unit, "DynamicUser")
    assert one(unit, "UMask") == "0027"
    state = one(unit, "StateDirectory")
    assert state.startswith("hrec-ingest")
    assert one(unit, "WorkingDirectory") == f"/var/lib/{state}"
    # A single writable tree for the file folders, so renames stay on one mount.
    (writable,) = one(unit, "ReadWritePaths").split()
    assert writable.startswith("/srv/hrec")


HARDENING = {
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "PrivateUsers": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "DevicePolicy": "closed",
    "PrivateMounts": "yes",
    "PrivateIPC": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "ProtectProc": "invisible",
    "ProcSubset": "pid",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RemoveIPC": "yes",
    "KeyringMode": "private",
    "SystemCallArchitectures": "native",
}


def test_hardening(unit: Directives) -> None:
    for key, expected in HARDENING.items():
        assert one(unit, key) == expected, key
    assert values(unit, "SystemCallFilter") == ["@system-service", "~@privileged @resources"]
    # The server is remote and its address unknown here: no IP allow list.
    assert not values(unit, "IPAddressDeny")


def test_template_differs_only_by_instance() -> None:
    unit, template = parse_unit(UNIT), parse_unit(TEMPLATE)
    assert [(s, k) for s, k, _ in unit] == [(s, k) for s, k, _ in template]
    changed = {k: (a, b) for (_, k, a), (_, _, b) in zip(unit, template, strict=True) if a != b}
    assert set(changed) == {
        "Description",
        "EnvironmentFile",
        "ExecStart",
        "StateDirectory",
        "WorkingDirectory",
        "ReadWritePaths",
        "LoadCredential",
    }
    assert all("%i" in new for _, new in changed.values())


def test_config_example_matches_the_unit() -> None:
    unit = parse_unit(UNIT)
    config = dict(
        line.split("=", 1)
        for line in CONFIG_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert not {"PASSWORD", "PASSWORD_FILE"} & set(config), "the password is a credential"
    writable = one(unit, "ReadWritePaths")
    for key in ("FILES_DIR", "OUTPUT_DIR", "ARCHIVE_DIR", "FAILED_DIR"):
        assert Path(config[key]).parent == Path(writable), key
    assert config["STATE_DIR"] == f"/var/lib/{one(unit, 'StateDirectory')}"
    assert one(unit, "ExecStart").endswith("--config /etc/hrec-ingest/config.env")


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": "cat", "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture
def installable(tmp_path: Path) -> Iterator[Path]:
    """Copies of both units whose ExecStart points at an executable that exists."""
    binary = tmp_path / "hrec-ingest"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    for source in (UNIT, TEMPLATE):
        text = source.read_text().replace(EXEC, str(binary))
        (tmp_path / source.name).write_text(text)
    yield tmp_path


@needs_analyze
@pytest.mark.parametrize("name", ["hrec-ingest.service", "hrec-ingest@demo.service"])
def test_systemd_analyze_verify(installable: Path, name: str) -> None:
    result = _analyze("verify", "--man=no", str(installable / name))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Unknown or misspelt directives are only warnings: fail on any about our unit.
    assert "hrec-ingest" not in output, output


@needs_analyze
def test_verify_catches_mistakes(installable: Path) -> None:
    unit = installable / "hrec-ingest.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict"))
    result = _analyze("verify", "--man=no", str(unit))
    assert "ProtectSytem" in result.stdout + result.stderr


def exposure(output: str) -> float:
    match = re.search(r"Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?)", output)
    assert match, output
    return float(match[1])


@needs_analyze
@pytest.mark.parametrize("path", [UNIT, TEMPLATE], ids=["unit", "template"])
def test_security_exposure(path: Path) -> None:
    result = _analyze("security", "--offline=yes", "--no-pager", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert exposure(result.stdout) <= MAX_EXPOSURE, result.stdout


def test_exposure_parser() -> None:
    line = "→ Overall exposure level for hrec-ingest.service: 1.2 OK 🙂"
    assert exposure(line) == 1.2


@pytest.mark.skipif(
    shutil.which("systemd-sysusers") is None or shutil.which("systemd-tmpfiles") is None,
    reason="systemd-sysusers/systemd-tmpfiles not installed (Debian package: systemd)",
)
@pytest.mark.skipif(os.geteuid() != 0, reason="creating folders owned by another user needs root")
def test_sysusers_and_tmpfiles_in_a_scratch_root(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    subprocess.run(
        ["systemd-sysusers", f"--root={tmp_path}", str(SYSUSERS)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    passwd = (tmp_path / "etc" / "passwd").read_text()
    (entry,) = [line for line in passwd.splitlines() if line.startswith("hrec-ingest:")]
    uid = int(entry.split(":")[2])
    subprocess.run(
        ["systemd-tmpfiles", f"--root={tmp_path}", "--create", str(TMPFILES)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    unit = parse_unit(UNIT)
    base = tmp_path / one(unit, "ReadWritePaths").lstrip("/")
    modes = {}
    for folder in ("inbox", "out", "archive", "failed"):
        info = (base / folder).stat()
        assert info.st_uid == uid
        modes[folder] = stat.S_IMODE(info.st_mode)
    # Producers in the group drop files; everyone else sees nothing.
    assert modes["inbox"] == 0o2770
    assert all(mode & 0o007 == 0 for mode in modes.values())
