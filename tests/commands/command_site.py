"""A site for the command tests: real folders, a config file, a real journal on disk.

Journal content is made by the daemon's own code (``Journal``, ``Outcomes``),
so a failed file here is failed exactly as the running daemon fails one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
from click.testing import CliRunner, Result

from hrec_ingest.config import Settings, load_settings
from hrec_ingest.journal import FileRow, FileState, Journal, NewFile
from hrec_ingest.pipeline.claims import Claims
from hrec_ingest.pipeline.layout import Folders
from hrec_ingest.pipeline.outcomes import Outcomes, error_doc
from hrec_ingest.service import folders_of

PASSWORD = "Cmd-Secret-Pw-4417"


@dataclass
class Site:
    """One deployment's folders and config file, and ways to fill its journal."""

    root: Path
    settings_text: dict[str, str]

    @property
    def config(self) -> Path:
        return self.root / "config.env"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def write_config(self) -> None:
        lines = [f"{key}={value}" for key, value in self.settings_text.items()]
        self.config.write_text("\n".join(lines) + "\n")

    def settings(self) -> Settings:
        self.write_config()
        return load_settings(self.config, {}, require_credentials=False)

    def folders(self) -> Folders:
        return folders_of(self.settings())

    def journal(self) -> Journal:
        return Journal.open(self.settings().state_dir)

    def invoke(self, command: click.Command, *args: str) -> Result:
        """Run a command in this process as a user would, with this site's config file."""
        self.write_config()
        return CliRunner().invoke(command, ["--config", str(self.config), *args])

    async def fail(
        self,
        journal: Journal,
        rel_path: str,
        data: bytes = b"not audio at all",
        *,
        tenant: str = "demo",
        message: str = "the content is not audio",
    ) -> FileRow:
        """Drop ``rel_path`` in the inbox and fail it at stage validate, as the daemon does."""
        folders = self.folders()
        source = folders.source(tenant, rel_path)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(data)
        st = source.stat()
        new = NewFile(tenant, rel_path, st.st_size, st.st_mtime_ns, st.st_ino, "ab" * 32, None)
        doc = error_doc(new, stage="validate", name="NotAudio", message=message)
        await Outcomes(journal, folders, Claims()).fail_new(new, doc)
        rows = journal.files_in_state(FileState.FAILED)
        return [r for r in rows if (r.tenant, r.rel_path) == (tenant, rel_path)][-1]


def make_site(root: Path) -> Site:
    """A single-tenant ``demo`` site in ``root``, its config file written."""
    site = Site(
        root,
        {
            "TENANT": "demo",
            "USERNAME": "user",
            "PASSWORD": PASSWORD,
            "BASE_LANGUAGE": "English",
            "FILES_DIR": str(root / "inbox"),
            "OUTPUT_DIR": str(root / "out"),
            "ARCHIVE_DIR": str(root / "archive"),
            "FAILED_DIR": str(root / "failed"),
            "STATE_DIR": str(root / "state"),
            "METRICS_ADDR": "",
        },
    )
    site.write_config()
    return site
