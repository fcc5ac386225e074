"""``hrec-ingest submit``: every audio file of a folder as ONE task; wait, export, print the taskId.

The one-shot counterpart of the daemon, with the flags and meaning of the
guide's reference script (section 3.1; its config.env of 3.3 works as the
``--config`` file). Each flag overrides its setting. The run itself is in
:mod:`hrec_ingest.commands.submission`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hrec_ingest.commands.common import config_option, load_or_exit
from hrec_ingest.commands.oneshot import (
    command_display,
    fetch_hint,
    flag,
    pick_tenant,
    run_interruptible,
)
from hrec_ingest.commands.progress import ProgressDisplay
from hrec_ingest.commands.submission import RunState, Submission


def _interrupted(state: RunState, display: ProgressDisplay, hint: str | None) -> None:
    task_id = state.task_id
    if task_id is None or hint is None:
        display.note("hrec-ingest: interrupted; nothing was sent")
    elif not state.accepted:
        display.note(
            f"hrec-ingest: interrupted while uploading task {task_id}; the server may or may "
            f"not have it. If it has, export it later with: {hint}"
        )
    else:
        display.note(
            f"hrec-ingest: interrupted; task {task_id} goes on on the server. "
            f"Export its transcripts later with: {hint}"
        )


@click.command("submit", short_help="Send a folder of audio as one task, wait, export.")
@config_option
@click.option("-u", "username", metavar="USER", help="User name (USERNAME).")
@click.option(
    "-p",
    "password",
    metavar="PASS",
    help="Password (PASSWORD). Others on this machine can read it in the process list: "
    "prefer PASSWORD_FILE or HREC_PASSWORD.",
)
@click.option(
    "-t",
    "tenant",
    metavar="TENANT",
    help="Tenant, the Keycloak realm (TENANT); with TENANTS_FILE, the table to use.",
)
@click.option(
    "--tn",
    "task_name",
    metavar="TASK_NAME",
    help="Task name (TASK_NAME); may use {tenant}, {date}, {first_file}, {count}.",
)
@click.option(
    "-d",
    "folder",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="DIR",
    help="Folder whose audio files are sent (default: FILES_DIR; with TENANTS_FILE, "
    "FILES_DIR/<tenant>). Only its top level is read; nothing in it is moved.",
)
@click.option("-s", "supervisor_email", metavar="EMAIL", help="Supervisor (SUPERVISOR_EMAIL).")
@click.option(
    "-l", "language", metavar="LANGUAGE", help="Language, case-sensitive (BASE_LANGUAGE)."
)
@click.option(
    "--gai",
    "additional_info",
    metavar="JSON",
    help="JSON object of at most 10 KB sent with the task (GENERIC_ADDITIONAL_INFO).",
)
def submit_command(
    config_file: Path | None,
    username: str | None,
    password: str | None,
    tenant: str | None,
    task_name: str | None,
    folder: Path | None,
    supervisor_email: str | None,
    language: str | None,
    additional_info: str | None,
) -> None:
    """Send every audio file of a folder as one task, wait for it, write its transcripts.

    The guide's reference script as a command: the same flags, each overriding
    its setting. Files that are not audio (by content), empty or above
    BATCH_MAX_BYTES are reported and not sent. The transcripts go to
    OUTPUT_DIR/<tenant>/ under the daemon's names; the audio stays where it is.

    Standard output gets exactly one line, the taskId, as soon as the server
    has accepted the task; progress and results go to standard error. Exit
    status: 0 every file transcribed, 3 some files failed, 2 bad configuration,
    1 fatal (no audio, login refused, server unreachable, interrupted).

    Example: hrec-ingest submit -d ./calls -l English --tn "Calls {date}"
    """
    flags = {
        "USERNAME": flag(username, "-u"),
        "PASSWORD": flag(password, "-p"),
        "TENANT": flag(tenant, "-t"),
        "TASK_NAME": flag(task_name, "--tn"),
        "SUPERVISOR_EMAIL": flag(supervisor_email, "-s"),
        "BASE_LANGUAGE": flag(language, "-l"),
        "GENERIC_ADDITIONAL_INFO": flag(additional_info, "--gai"),
    }
    settings = load_or_exit(config_file, flags)
    given = {key for key, value in flags.items() if value.value is not None}
    profile = pick_tenant(settings, given, "-t")
    source = folder.resolve() if folder is not None else profile.inbox
    display = command_display(settings, profile)
    state = RunState()
    # The fetch hint names the tenant only where the config alone would not find it.
    tenant_hint = profile.name if tenant is not None or settings.multi_tenant else None
    submission = Submission(settings, profile, source, display, state, (config_file, tenant_hint))

    def interrupted() -> None:
        hint = None
        if state.task_id is not None:
            hint = fetch_hint(state.task_id, config_file, tenant_hint)
        _interrupted(state, display, hint)

    code = run_interruptible(submission.run, interrupted)
    display.close()
    sys.exit(code)
