"""No drift: every setting the code knows is in the README's configuration table."""

from __future__ import annotations

import re
from pathlib import Path

from hrec_ingest.config import SETTINGS_REFERENCE

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_setting_with_its_default() -> None:
    rows = {
        match.group(1): match.group(2).strip()
        for match in re.finditer(r"^\| `([A-Z_]+)` \| ([^|]*) \|", README.read_text(), re.M)
    }
    for setting in SETTINGS_REFERENCE:
        assert setting.key in rows, f"{setting.key} is missing from README.md"
        if setting.default:
            assert setting.default in rows[setting.key], (
                f"README.md gives {setting.key} the default {rows[setting.key]}, "
                f"the code {setting.default}"
            )
