"""The password: given directly (PASSWORD) or read from a file (PASSWORD_FILE).

PASSWORD_FILE exists for systemd ``LoadCredential=`` and Docker secrets. When
both keys are set, the one from the higher-priority source wins; both in the
same source is ambiguous and a problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from hrec_ingest.config.files import UnreadableFile, read_small_file
from hrec_ingest.config.parsing import BadValue

# A password file bigger than this is surely the wrong file; do not read it whole.
_MAX_SECRET_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Credential:
    """A password and where it came from (``source`` is ``"default"`` when there is none).

    ``failed`` marks a password that was given but could not be used (its
    problem is reported), so that nobody also complains that it is missing.
    """

    password: SecretStr | None
    source: str
    failed: bool = False


def read_secret_file(path: Path) -> SecretStr:
    """Read a secret from ``path`` as UTF-8, stripping one trailing newline (``\\n`` or
    ``\\r\\n``), as ``echo pw > file`` and editors leave one."""
    try:
        data = read_small_file(path, _MAX_SECRET_BYTES)
    except UnreadableFile as exc:
        raise BadValue(f"cannot read {path}: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadValue(f"{path} is not UTF-8 text") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return SecretStr(text)


def file_credential(path: Path, setting_source: str) -> Credential:
    """Read PASSWORD_FILE at ``path``; the credential's source names the file and the setting."""
    return Credential(read_secret_file(path), f"file {path} (PASSWORD_FILE from {setting_source})")
