"""Where setting values come from: defaults, the config file, the environment, command-line flags.

Each source is a pydantic-settings source that yields raw text per key and
remembers, for every key, where its text came from ("config.env line 7",
"environment HREC_TENANT", "flag -u", "default"). Parsing happens later, on the
merged text, so that a problem can always name the source of the value that
caused it. pydantic-settings' own merge is not used because it cannot say which
source won.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from dotenv.parser import Binding, parse_stream
from pydantic import Field, create_model
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from hrec_ingest.config.errors import Problem
from hrec_ingest.config.files import UnreadableFile, read_small_file
from hrec_ingest.config.parsing import show_key
from hrec_ingest.config.reference import DEFAULTS, ENV_PREFIX, SETTING_KEYS, SETTINGS_REFERENCE

CONFIG_FILE_KEY = "config file"

# Rank of each layer: a value from a higher rank wins.
RANK_DEFAULT, RANK_COMMAND_DEFAULT, RANK_FILE, RANK_ENV, RANK_FLAG = 0, 1, 2, 3, 4

_NEWLINE = re.compile(r"\r\n|\r|\n")


class FlagValue(NamedTuple):
    """A command-line value for one key and how to name it, e.g. ``FlagValue("bob", "flag -u")``.

    ``None`` means the flag was not given (so a CLI can pass every option as it is).
    """

    value: str | int | float | bool | Path | None
    label: str


@dataclass(frozen=True, slots=True)
class RawValue:
    """The text a source gave for one key, where it came from, and the rank of that source."""

    text: str
    source: str
    rank: int


# Every key as optional raw text: the field layout the sources below fill.
RAW_SCHEMA: type[BaseSettings] = create_model(  # type: ignore[call-overload]
    "RawSettings",
    __base__=BaseSettings,
    **{info.key.lower(): (str | None, Field(None, alias=info.key)) for info in SETTINGS_REFERENCE},
)


class LayerSource(PydanticBaseSettingsSource):
    """A settings source holding raw text per key, with the provenance of each value."""

    rank: ClassVar[int] = RANK_DEFAULT

    def __init__(self) -> None:
        super().__init__(RAW_SCHEMA)
        self.entries: dict[str, RawValue] = {}
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def _put(self, key: str, text: str, source: str) -> None:
        self.entries[key] = RawValue(text, source, self.rank)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Return this source's text for one field, the key it is stored under, and False."""
        key = field.alias or field_name
        entry = self.entries.get(key)
        return (None if entry is None else entry.text), key, False

    def __call__(self) -> dict[str, Any]:
        """Return this source's raw text per key, for the keys it sets."""
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            text, key, _ = self.get_field_value(field, field_name)
            if text is not None:
                values[key] = text
        return values

    def origin(self, key: str) -> str:
        """Where this source's value for ``key`` came from."""
        return self.entries[key].source


class DefaultsSource(LayerSource):
    """The built-in defaults of the reference table."""

    rank = RANK_DEFAULT

    def __init__(self) -> None:
        super().__init__()
        for key, text in DEFAULTS.items():
            self._put(key, text, "default")


class CommandDefaultsSource(LayerSource):
    """Defaults a command supplies for itself (``run --simulate``'s demo tenant): above the
    built-in defaults, below everything an operator configures."""

    rank = RANK_COMMAND_DEFAULT

    def __init__(self, defaults: Mapping[str, str]) -> None:
        super().__init__()
        for key, text in defaults.items():
            if key in SETTING_KEYS:
                self._put(key, text, "command default")
            else:
                self.problems.append(Problem(show_key(key), "is not a setting", "command default"))


class ConfigFileSource(LayerSource):
    """A dotenv-syntax file: the guide's unprefixed keys, or the same keys prefixed with HREC_."""

    rank = RANK_FILE

    def __init__(self, path: Path | None) -> None:
        super().__init__()
        self.path = path
        if path is not None:
            self._read(path)

    def _read(self, path: Path) -> None:
        where = f"file {path}"
        try:
            text = read_small_file(path).decode("utf-8")
        except UnreadableFile as exc:
            self.problems.append(Problem(CONFIG_FILE_KEY, f"cannot be read: {exc}", where))
            return
        except UnicodeDecodeError as exc:
            self.problems.append(
                Problem(CONFIG_FILE_KEY, f"is not UTF-8 text ({exc.reason})", where)
            )
            return
        lines_of: dict[str, list[int]] = {}
        for binding in parse_stream(io.StringIO(text)):
            line = _line_of(binding)
            if binding.error or (binding.key is not None and binding.value is None):
                # Never quote the line: it may hold a password.
                self.problems.append(
                    Problem(CONFIG_FILE_KEY, f"line {line} is not KEY=VALUE", f"{path} line {line}")
                )
            elif binding.key is not None and binding.value is not None:
                key = _file_key(binding.key)
                label = f"{path} line {line}"
                if key is None:
                    name = show_key(binding.key)
                    self.warnings.append(f"{label}: {name} is not a setting; ignored")
                    continue
                lines_of.setdefault(key, []).append(line)
                self._put(key, binding.value, label)
        for key, lines in lines_of.items():
            if len(lines) > 1:
                self.warnings.append(
                    f"{key} is set on lines {', '.join(map(str, lines))} of {path}; "
                    f"line {lines[-1]} wins"
                )


# HREC_ variables the program reads itself and that are not settings (the
# crash tests' kill points): no warning for them.
KNOWN_NON_SETTINGS = frozenset({"HREC_FAILPOINTS"})


class EnvironSource(LayerSource):
    """Environment variables named HREC_<KEY>; unprefixed variables are never read."""

    rank = RANK_ENV

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__()
        for name, text in environ.items():
            if not name.startswith(ENV_PREFIX) or name in KNOWN_NON_SETTINGS:
                continue
            key = name[len(ENV_PREFIX) :]
            if key in SETTING_KEYS:
                self._put(key, text, f"environment {name}")
            else:
                self.warnings.append(f"environment {show_key(name)} is not a setting; ignored")


class FlagsSource(LayerSource):
    """Command-line values, already parsed by the CLI into KEY -> FlagValue."""

    rank = RANK_FLAG

    def __init__(self, flags: Mapping[str, FlagValue]) -> None:
        super().__init__()
        for key, flag in flags.items():
            if flag.value is None:
                continue
            if key not in SETTING_KEYS:
                self.problems.append(Problem(show_key(key), "is not a setting", flag.label))
                continue
            self._put(key, _flag_text(flag.value), flag.label)


def merge(sources: Iterable[LayerSource]) -> dict[str, RawValue]:
    """Merge sources given from lowest to highest priority; each key keeps its winning source."""
    merged: dict[str, RawValue] = {}
    for source in sources:
        for key, text in source().items():
            merged[key] = RawValue(text, source.origin(key), source.rank)
    return merged


def _file_key(name: str) -> str | None:
    key = name.upper()
    if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :] in SETTING_KEYS:
        key = key[len(ENV_PREFIX) :]
    return key if key in SETTING_KEYS else None


def _line_of(binding: Binding) -> int:
    # python-dotenv reports the line where the blank lines before a binding
    # start; count them off so that the line named is the key's own.
    original = binding.original.string
    leading = original[: len(original) - len(original.lstrip())]
    return binding.original.line + len(_NEWLINE.findall(leading))


def _flag_text(value: str | int | float | bool | Path) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
