"""What every command shares: the --config option, loading settings, exit statuses."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import click

from hrec_ingest.config import ConfigError, FlagValue, Settings, load_settings
from hrec_ingest.fsops import use_umask

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_SOME_FAILED = 3
EXIT_BAD_CONFIG = 2

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Settings file in dotenv syntax (default: ./config.env if present).",
)


def load_or_exit(
    config_file: Path | None,
    flags: Mapping[str, FlagValue] | None = None,
    *,
    require_credentials: bool = True,
    defaults: Mapping[str, str] | None = None,
    create_folders: bool = True,
) -> Settings:
    """Settings, or exit 2 with one line per problem (key, what is wrong, where it came from)."""
    try:
        settings = load_settings(
            config_file,
            os.environ,
            flags,
            require_credentials=require_credentials,
            defaults=defaults,
            create_folders=create_folders,
        )
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"hrec-ingest: configuration: {problem}", err=True)
        sys.exit(EXIT_BAD_CONFIG)
    # Whatever a command writes (transcripts, records, moved-back files) gets
    # the same modes as the daemon's own files.
    os.umask(settings.umask)
    use_umask(settings.umask)
    return settings
