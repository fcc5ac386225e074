"""The ``hrec-ingest`` command line (interface.md section 2)."""

from __future__ import annotations

import click

from hrec_ingest import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hrec-ingest")
def main() -> None:
    """hrec-ingest: turn a drop folder of audio into transcripts.

    Example: hrec-ingest run --simulate
    """
