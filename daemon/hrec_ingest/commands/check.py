"""``hrec-ingest check``: is everything in place for ``run``? One line per check, with fixes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import click

from hrec_ingest.commands.check_local import (
    CheckResult,
    folder_checks,
    journal_check,
    language_check,
    settings_check,
    settings_problems,
    tls_check,
)
from hrec_ingest.commands.check_server import server_checks
from hrec_ingest.commands.common import EXIT_FATAL, EXIT_OK, config_option
from hrec_ingest.commands.console import Marks, encoding_of, marks_for, printable
from hrec_ingest.config import ConfigError, Settings, load_settings
from hrec_ingest.logs import configure_logging


async def run_checks(
    config_file: Path | None, environ: Mapping[str, str]
) -> AsyncIterator[CheckResult]:
    """Every check, in order, as it completes: settings, folders, journal, TLS, languages,
    then a token and an API call per tenant.

    Settings that do not load give one failed check per problem and stop
    there: everything after needs them.
    """
    try:
        settings = load_settings(config_file, environ)
    except ConfigError as exc:
        for result in settings_problems(exc):
            yield result
        yield CheckResult(
            "other checks",
            False,
            "not run: they need settings that load",
            "correct the settings above, then run `hrec-ingest check` again",
        )
        return
    passwords = [p for t in settings.tenants if (p := t.password.get_secret_value())]
    async for result in _loaded_checks(settings):
        yield _without(result, passwords)


async def _loaded_checks(settings: Settings) -> AsyncIterator[CheckResult]:
    yield settings_check(settings)
    for result in folder_checks(settings):
        yield result
    yield journal_check(settings)
    tls, context = tls_check(settings)
    yield tls
    for tenant in settings.tenants:
        yield language_check(tenant)
    if context is None:
        yield CheckResult(
            "server", False, "not reached: the TLS settings are not usable", "fix TLS first"
        )
        return
    for result in await server_checks(settings, context):
        yield result


def _without(result: CheckResult, secrets: list[str]) -> CheckResult:
    # A last guard: no line may show a password, whatever a server or a library put in it.
    detail, remedy = result.detail, result.remedy
    for secret in secrets:
        detail, remedy = detail.replace(secret, "***"), remedy.replace(secret, "***")
    return replace(result, detail=detail, remedy=remedy)


def check_line(result: CheckResult, marks: Marks) -> str:
    """The line shown for ``result``: mark, name, what was found and, on failure, the fix."""
    mark = marks.ok if result.ok else marks.fail
    line = f"{mark} {result.name}: {result.detail}"
    if not result.ok and result.remedy:
        line += f". Fix: {result.remedy}"
    return line


async def check_and_report(
    config_file: Path | None, environ: Mapping[str, str], out: TextIO
) -> int:
    """Run every check, print a line for each to ``out`` as it completes; 0 if all passed, else 1.

    The marks fall back to OK/FAIL, and any character ``out`` cannot encode
    to ``?``, so the report prints on any terminal or log.
    """
    encoding = encoding_of(out)
    marks = marks_for(encoding)
    passed = failed = 0
    async for result in run_checks(config_file, environ):
        out.write(printable(check_line(result, marks), encoding) + "\n")
        out.flush()
        passed, failed = (passed + 1, failed) if result.ok else (passed, failed + 1)
    summary = (
        f"{passed} checks passed" if not failed else f"{failed} of {passed + failed} checks failed"
    )
    out.write(f"check: {summary}\n")
    return EXIT_OK if not failed else EXIT_FATAL


@click.command("check")
@config_option
def check_command(config_file: Path | None) -> None:
    """Check that everything `run` needs is in place, one line per check.

    Checks the settings, each folder (usable, free space, whether archiving
    crosses file systems), the journal, the TLS files, each tenant's
    BASE_LANGUAGE, and then for each tenant that Keycloak gives a token and
    the API answers with it. Each line starts with a check mark or a cross
    (OK or FAIL where the terminal cannot show them) and each failure says
    what to do. Missing folders are created, as `run` would; nothing else is
    written. Passwords and tokens are never printed. Exit status: 0 when
    every check passes, 1 otherwise.

    Example: hrec-ingest check --config /etc/hrec-ingest/config.env
    """
    # The report is the output; library log lines (token obtained, ...) would only clutter it.
    configure_logging("auto", "error")
    sys.exit(asyncio.run(check_and_report(config_file, os.environ, sys.stdout)))
