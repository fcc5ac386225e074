"""systemd/config.env.example: only keys the code knows, values it accepts, and a clean load.

The file becomes /etc/hrec-ingest/config.env, which the unit passes with
``--config`` while systemd hands the password over as ``HREC_PASSWORD_FILE``.
The test loads it the same way; only the folders are moved into a scratch
folder, because ``load_settings`` creates missing folders and /srv/hrec is
not ours to create.
"""

from __future__ import annotations

from pathlib import Path

from dotenv import dotenv_values

from hrec_ingest.config import ENV_PREFIX, SETTING_KEYS, load_settings
from hrec_ingest.config.fields import PARSERS
from hrec_ingest.config.reference import FOLDER_KEYS, SECRET_KEYS

EXAMPLE = Path(__file__).resolve().parents[2] / "systemd" / "config.env.example"


def example_values() -> dict[str, str]:
    """The example's assignments as the daemon's dotenv reader sees them (no interpolation)."""
    found = dotenv_values(EXAMPLE, interpolate=False)
    assert all(value is not None for value in found.values()), "every line must be KEY=VALUE"
    return {key: value for key, value in found.items() if value is not None}


def test_uses_only_keys_the_code_knows() -> None:
    keys = set(example_values())

    assert keys, "the example sets nothing"
    assert keys <= SETTING_KEYS, f"not settings: {sorted(keys - SETTING_KEYS)}"


def test_holds_no_secret() -> None:
    # The password comes as a systemd credential; the file is group-readable.
    keys = set(example_values())

    assert not keys & (SECRET_KEYS | {"PASSWORD_FILE"})


def test_every_value_parses() -> None:
    for key, text in example_values().items():
        PARSERS[key](text)  # raises BadValue naming the problem


def test_loads_cleanly_as_the_unit_runs_it(tmp_path: Path) -> None:
    credential = tmp_path / "credentials" / "password"
    credential.parent.mkdir()
    credential.write_text("from-the-credential\n")
    environ = {f"{ENV_PREFIX}PASSWORD_FILE": str(credential)}
    environ |= {f"{ENV_PREFIX}{key}": str(tmp_path / key.lower()) for key in FOLDER_KEYS}

    settings = load_settings(EXAMPLE, environ)

    assert settings.warnings == ()
    file_keys = set(example_values()) - set(FOLDER_KEYS)
    for key in file_keys:
        assert settings.source_of(key).startswith(f"{EXAMPLE} line "), key
    (tenant,) = settings.tenants
    assert tenant.name == example_values()["TENANT"]
    assert tenant.password.get_secret_value() == "from-the-credential"
    assert f"environment {ENV_PREFIX}PASSWORD_FILE" in tenant.source_of("PASSWORD")
