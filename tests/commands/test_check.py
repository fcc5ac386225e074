"""``hrec-ingest check``: the simulator over a real socket, real folders, a real journal on disk."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from command_server import (
    closed_port,
    self_signed_server_context,
    server_settings,
    trusted_server_context,
)
from command_site import Site

from hrec_ingest.commands.check import check_and_report
from hrec_ingest.commands.console import PLAIN_MARKS, UNICODE_MARKS, marks_for, printable
from hrec_ingest.journal import JOURNAL_NAME, Journal
from hrec_ingest.simulator import RunningSimulator, SimulatorOptions, running_simulator

WRONG_PASSWORD = "Not-The-Password-9931"


def password_of(site: Site) -> str:
    return site.settings_text["PASSWORD"]


def simulator_for(site: Site, **options: object) -> SimulatorOptions:
    """Options of a simulator that knows the site's demo user (and ``options``)."""
    return SimulatorOptions(users={"demo": {"user": password_of(site)}}, **options)  # type: ignore[arg-type]


@pytest.fixture
async def sim(site: Site) -> AsyncIterator[RunningSimulator]:
    async with running_simulator(simulator_for(site)) as sim:
        site.settings_text.update(server_settings(sim.url, password_of(site)))
        yield sim


async def check(site: Site, **settings: str) -> tuple[int, list[str]]:
    """Run the check with the site's settings (plus ``settings``); its status and lines."""
    site.settings_text.update(settings)
    site.write_config()
    out = io.StringIO()
    code = await check_and_report(site.config, {}, out)
    return code, out.getvalue().splitlines()


def name_of(line: str) -> str:
    """The check's name: what follows the mark, up to the colon."""
    return line.split(maxsplit=1)[1].split(":", 1)[0]


def line_of(lines: list[str], name: str) -> str:
    found = [line for line in lines if name_of(line) == name]
    assert len(found) == 1, f"no single line for {name!r} in:\n" + "\n".join(lines)
    return found[0]


class TestAllGood:
    async def test_every_line_passes_and_nothing_is_written(
        self, site: Site, sim: RunningSimulator
    ) -> None:
        code, lines = await check(site)

        assert code == 0, "\n".join(lines)
        *checks, summary = lines
        assert all(line.startswith("✔ ") for line in checks), "\n".join(lines)
        names = [name_of(line) for line in checks]
        assert names == [
            "settings",
            "folder FILES_DIR",
            "folder OUTPUT_DIR",
            "folder ARCHIVE_DIR",
            "folder FAILED_DIR",
            "folder STATE_DIR",
            "journal",
            "TLS",
            "language for tenant demo",
            "token for tenant demo",
            "API for tenant demo",
        ]
        assert summary == "check: 11 checks passed"
        assert "none yet" in line_of(lines, "journal")
        assert not (site.state / JOURNAL_NAME).exists()
        assert password_of(site) not in "\n".join(lines)

    async def test_an_existing_journal_is_read_and_left_as_it_was(
        self, site: Site, sim: RunningSimulator
    ) -> None:
        site.write_config()
        site.state.mkdir(parents=True, exist_ok=True)
        Journal.open(site.state).close()
        before = sorted(p.name for p in site.state.iterdir())

        code, lines = await check(site)

        assert code == 0, "\n".join(lines)
        assert "consistent, 0 files recorded" in line_of(lines, "journal")
        assert sorted(p.name for p in site.state.iterdir()) == before


class TestServerProblems:
    async def test_wrong_password(self, site: Site, sim: RunningSimulator) -> None:
        code, lines = await check(site, PASSWORD=WRONG_PASSWORD)

        assert code == 1
        token = line_of(lines, "token for tenant demo")
        assert token.startswith("✘ ")
        assert "Keycloak refused the user name or password of 'user' in tenant 'demo'" in token
        assert "Fix: check USERNAME and PASSWORD for tenant demo" in token
        assert "config.env line" in token  # where the password came from, not what it is
        assert WRONG_PASSWORD not in "\n".join(lines)
        assert not any("API for tenant" in line for line in lines)

    async def test_wrong_tenant(self, site: Site, sim: RunningSimulator) -> None:
        code, lines = await check(site, TENANT="acme")

        assert code == 1
        token = line_of(lines, "token for tenant acme")
        assert f"Keycloak at {sim.url} has no realm 'acme' (HTTP 404" in token
        assert "Fix: check the tenant name (TENANT, " in token

    async def test_wrong_client_id(self, site: Site, sim: RunningSimulator) -> None:
        code, lines = await check(site, KEYCLOAK_CLIENT_ID="portal")

        assert code == 1
        assert "refused the client 'portal'" in line_of(lines, "token for tenant demo")

    async def test_server_down(self, site: Site) -> None:
        url = f"http://127.0.0.1:{closed_port()}"
        site.settings_text.update(server_settings(url, password_of(site)))

        code, lines = await check(site)

        assert code == 1
        token = line_of(lines, "token for tenant demo")
        host = url.removeprefix("http://")
        assert f"nothing answers at {host} (connection refused)" in token
        assert f"Fix: check that the server is running and that KEYCLOAK_BASE_URL ({url})" in token

    async def test_unknown_host(self, site: Site) -> None:
        url = "http://miaop.invalid:8443"
        site.settings_text.update(server_settings(url, password_of(site)))

        code, lines = await check(site)

        assert code == 1
        token = line_of(lines, "token for tenant demo")
        assert "the host name 'miaop.invalid' cannot be resolved (DNS)" in token

    async def test_timeout(self, site: Site) -> None:
        async with running_simulator(simulator_for(site, latency_seconds=1.0)) as slow:
            site.settings_text.update(server_settings(slow.url, password_of(site)))
            code, lines = await check(site, HTTP_TIMEOUT_SECONDS="0.2")

        assert code == 1
        token = line_of(lines, "token for tenant demo")
        assert "did not answer within 0.2 s" in token
        assert "raise HTTP_TIMEOUT_SECONDS" in token

    async def test_wrong_api_base_url(self, site: Site, sim: RunningSimulator) -> None:
        code, lines = await check(site, API_BASE_URL=f"{sim.url}/miaop")

        assert code == 1
        assert line_of(lines, "token for tenant demo").startswith("✔ ")
        api = line_of(lines, "API for tenant demo")
        assert f"{sim.url}/miaop has no task list at /api/tasks (HTTP 404)" in api
        assert "Fix: check API_BASE_URL" in api

    async def test_keycloak_url_that_is_not_keycloak(
        self, site: Site, sim: RunningSimulator
    ) -> None:
        code, lines = await check(site, KEYCLOAK_BASE_URL=f"{sim.url}/auth")

        assert code == 1
        token = line_of(lines, "token for tenant demo")
        assert "has no Keycloak token endpoint for realm 'demo'" in token
        assert "check KEYCLOAK_BASE_URL" in token

    async def test_server_errors(self, site: Site) -> None:
        async with running_simulator(simulator_for(site, fault_5xx=1.0)) as sick:
            site.settings_text.update(server_settings(sick.url, password_of(site)))
            code, lines = await check(site)

        assert code == 1
        token = line_of(lines, "token for tenant demo")
        assert "the server is unwell or overloaded (HTTP 5" in token
        assert "from Keycloak's token URL: " in token and "[REDACTED]" not in token

    async def test_each_tenant_is_checked(self, site: Site, sim: RunningSimulator) -> None:
        sim.options.users["sales"] = {"seller": "Sales-Pw-1234"}
        (site.root / "tenants.toml").write_text(
            '[tenants.demo]\n\n[tenants.sales]\nUSERNAME = "seller"\nPASSWORD = "Wrong-Pw-5678"\n'
        )
        del site.settings_text["TENANT"]

        code, lines = await check(site, TENANTS_FILE=str(site.root / "tenants.toml"))

        assert code == 1
        assert line_of(lines, "token for tenant demo").startswith("✔ ")
        assert line_of(lines, "API for tenant demo").startswith("✔ ")
        sales = line_of(lines, "token for tenant sales")
        assert "of 'seller' in tenant 'sales'" in sales
        assert "tenants.toml [tenants.sales]); after repeated failures" in sales
        assert "Wrong-Pw-5678" not in "\n".join(lines)
        assert "tenant inboxes: demo, sales" in line_of(lines, "folder FILES_DIR")


class TestTls:
    async def test_untrusted_certificate_then_trusted_with_ca_bundle(self, site: Site) -> None:
        ca = trustme.CA()
        async with running_simulator(
            simulator_for(site), ssl_context=trusted_server_context(ca)
        ) as tls_sim:
            site.settings_text.update(server_settings(tls_sim.url, password_of(site)))
            code, lines = await check(site)

            assert code == 1
            token = line_of(lines, "token for tenant demo")
            assert "the certificate of 127.0.0.1:" in token and "is not trusted" in token
            assert "Fix: set CA_BUNDLE=/path/to/ca.pem" in token
            assert "or TLS_VERIFY=false for tests only" in token

            ca.cert_pem.write_to_path(str(site.root / "ca.pem"))
            code, lines = await check(site, CA_BUNDLE=str(site.root / "ca.pem"))

        assert code == 0, "\n".join(lines)
        assert "and CA_BUNDLE" in line_of(lines, "TLS")

    async def test_self_signed_certificate(self, site: Site) -> None:
        context = self_signed_server_context(site.root)
        async with running_simulator(simulator_for(site), ssl_context=context) as tls_sim:
            site.settings_text.update(server_settings(tls_sim.url, password_of(site)))
            code, lines = await check(site)

            assert code == 1
            token = line_of(lines, "token for tenant demo")
            assert "is not trusted: it is self-signed or signed by a CA" in token
            assert "self-signed certificate" in token

            code, lines = await check(site, TLS_VERIFY="false")

        assert code == 0, "\n".join(lines)
        assert "NOT checked (for tests only)" in line_of(lines, "TLS")

    async def test_http_to_a_tls_port(self, site: Site) -> None:
        ca = trustme.CA()
        async with running_simulator(
            simulator_for(site), ssl_context=trusted_server_context(ca)
        ) as tls_sim:
            url = tls_sim.url.replace("https://", "http://")
            site.settings_text.update(server_settings(url, password_of(site)))
            code, lines = await check(site)

        assert code == 1
        token = line_of(lines, "token for tenant demo")
        assert "hung up without answering" in token
        assert "if the server speaks https, KEYCLOAK_BASE_URL must start with https://" in token

    async def test_https_to_a_plain_port(self, site: Site, sim: RunningSimulator) -> None:
        url = sim.url.replace("http://", "https://")

        code, lines = await check(site, KEYCLOAK_BASE_URL=url, API_BASE_URL=url)

        assert code == 1
        token = line_of(lines, "token for tenant demo")
        assert "does not speak TLS on that port, but KEYCLOAK_BASE_URL says https://" in token
        assert "Fix: use http:// in KEYCLOAK_BASE_URL, or the server's TLS port" in token

    async def test_unreadable_ca_bundle(self, site: Site, sim: RunningSimulator) -> None:
        code, lines = await check(site, CA_BUNDLE=str(site.root / "missing-ca.pem"))

        assert code == 1
        assert line_of(lines, "setting CA_BUNDLE").startswith("✘ ")


class TestLocalProblems:
    async def test_a_folder_that_cannot_be_created(self, site: Site, sim: RunningSimulator) -> None:
        blocker = site.root / "file.txt"
        blocker.write_text("a regular file where a folder should be")

        code, lines = await check(site, FILES_DIR=str(blocker / "inbox"))

        assert code == 1
        folder = line_of(lines, "folder FILES_DIR")
        assert folder.startswith("✘ ")
        assert f"cannot create {blocker / 'inbox'}: Not a directory (" in folder
        assert "Fix: make it a folder this user can create, read and write" in folder
        assert line_of(lines, "other checks").startswith("✘ ")

    async def test_a_missing_setting_names_its_fix(self, site: Site, sim: RunningSimulator) -> None:
        del site.settings_text["PASSWORD"]

        code, lines = await check(site)

        assert code == 1
        password = line_of(lines, "setting PASSWORD")
        assert "Fix: set PASSWORD in the config file, or HREC_PASSWORD in the environment" in (
            password
        )

    async def test_a_damaged_journal_is_reported_and_left_alone(
        self, site: Site, sim: RunningSimulator
    ) -> None:
        site.state.mkdir(parents=True)
        journal = site.state / JOURNAL_NAME
        journal.write_bytes(b"this is not SQLite" * 100)

        code, lines = await check(site)

        assert code == 1
        line = line_of(lines, "journal")
        assert line.startswith("✘ ") and "damaged or not a journal" in line
        assert "Fix: check that STATE_DIR is the right folder" in line
        assert journal.read_bytes() == b"this is not SQLite" * 100

    async def test_a_miscased_language(self, site: Site, sim: RunningSimulator) -> None:
        code, lines = await check(site, BASE_LANGUAGE="hebrew")

        assert code == 1
        language = line_of(lines, "language for tenant demo")
        assert "BASE_LANGUAGE 'hebrew' (" in language
        assert "e.g. 'Hebrew'" in language

    async def test_low_disk_space(self, site: Site, sim: RunningSimulator) -> None:
        code, lines = await check(site, LOW_DISK_WARN_MB=str(10**12))

        assert code == 1
        assert "below LOW_DISK_WARN_MB=" in line_of(lines, "folder OUTPUT_DIR")
        assert line_of(lines, "folder FAILED_DIR").startswith("✔ ")

    async def test_archive_on_another_file_system(self, site: Site, sim: RunningSimulator) -> None:
        other = Path("/dev/shm")
        if not other.is_dir() or other.stat().st_dev == site.root.stat().st_dev:
            pytest.skip("no second file system to put ARCHIVE_DIR on")
        archive = Path(tempfile.mkdtemp(dir=other, prefix="hrec-check-"))
        try:
            code, lines = await check(site, ARCHIVE_DIR=str(archive))
        finally:
            shutil.rmtree(archive)

        assert code == 0, "\n".join(lines)
        assert "on another file system than FILES_DIR" in line_of(lines, "folder ARCHIVE_DIR")


class TestOutput:
    def test_marks_fall_back_where_the_encoding_lacks_them(self) -> None:
        assert marks_for("utf-8") == UNICODE_MARKS
        assert marks_for("ascii") == PLAIN_MARKS
        assert marks_for("latin-1") == PLAIN_MARKS
        assert marks_for("no-such-codec") == PLAIN_MARKS
        assert printable("שיחה ✔", "ascii") == "???? ?"

    async def test_an_ascii_stream_gets_ok_and_fail(
        self, site: Site, sim: RunningSimulator
    ) -> None:
        site.settings_text["PASSWORD"] = WRONG_PASSWORD
        site.write_config()
        raw = io.BytesIO()
        out = io.TextIOWrapper(raw, encoding="ascii")

        code = await check_and_report(site.config, {}, out)

        out.flush()
        lines = raw.getvalue().decode("ascii").splitlines()
        assert code == 1
        assert lines[0].startswith("OK   settings: ")
        assert line_of(lines[:-1], "token for tenant demo").startswith("FAIL ")

    async def test_the_command_line(self, site: Site, sim: RunningSimulator) -> None:
        site.write_config()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HREC_")}
        env["PYTHONIOENCODING"] = "ascii"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hrec_ingest",
            "check",
            "--config",
            str(site.config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=site.root,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)

        text = stdout.decode("ascii")
        assert process.returncode == 0, text + stderr.decode()
        assert [line[:5] for line in text.splitlines()[:-1]] == ["OK   "] * 11
        assert stderr == b""
