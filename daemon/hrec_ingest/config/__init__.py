"""Settings of the daemon and its commands (interface.md section 3).

``load_settings`` merges built-in defaults, the config file, ``HREC_*``
environment variables and command-line flags (later wins), checks everything,
and returns a frozen ``Settings`` that knows where each value came from, or
raises ``ConfigError`` listing every problem. ``SETTINGS_REFERENCE`` is the
list of keys with their defaults and meanings, as data.
"""

from hrec_ingest.config.errors import ConfigError, Problem
from hrec_ingest.config.parsing import GAI_MAX_BYTES
from hrec_ingest.config.reference import (
    ENV_PREFIX,
    SETTING_KEYS,
    SETTINGS_REFERENCE,
    TENANT_KEYS,
    SettingInfo,
)
from hrec_ingest.config.settings import (
    DEFAULT_CONFIG_FILE,
    Settings,
    TenantSettings,
    load_settings,
)
from hrec_ingest.config.sources import FlagValue

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "ENV_PREFIX",
    "GAI_MAX_BYTES",
    "SETTINGS_REFERENCE",
    "SETTING_KEYS",
    "TENANT_KEYS",
    "ConfigError",
    "FlagValue",
    "Problem",
    "SettingInfo",
    "Settings",
    "TenantSettings",
    "load_settings",
]
