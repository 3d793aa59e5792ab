"""Configuration: flags over environment over file, validated into one frozen `Config`.

Everything below this package's line reads settings from here and nothing else; nothing here imports a feature.
"""

from exporter.config.credentials import Credentials, Secret
from exporter.config.load import add_config_flags, load_config
from exporter.config.model import Config, Target, TLSSettings
from exporter.config.validate import ConfigError

__all__ = [
    "Config",
    "ConfigError",
    "Credentials",
    "Secret",
    "TLSSettings",
    "Target",
    "add_config_flags",
    "load_config",
]
