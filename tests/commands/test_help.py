"""Every command's --help says what it does and shows an example (issue 4)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from hrec_ingest.cli import main

INTERFACE_COMMANDS = ("run", "submit", "check", "status", "tasks", "fetch", "retry", "simulator")


def test_every_command_of_the_interface_exists() -> None:
    assert isinstance(main, click.Group)
    assert set(INTERFACE_COMMANDS) <= set(main.commands)


@pytest.mark.parametrize("command", sorted(set(INTERFACE_COMMANDS) | {""}))
def test_help_says_what_and_shows_an_example(command: str) -> None:
    args = [command, "--help"] if command else ["--help"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    description = result.output.split("\n\n")[1].strip()
    assert len(description) > 20, f"{command or 'hrec-ingest'}: no description"
    examples = [line for line in result.output.splitlines() if "Example:" in line]
    assert examples, f"{command or 'hrec-ingest'} --help has no example"
    assert all("hrec-ingest" in line for line in examples)
