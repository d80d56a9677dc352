"""Settings, read from the environment (and an optional TOML file), validated once at start."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class SettingsError(Exception):
    """A bad setting: the message names it, in one line."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///fsdir.db"
    database_schema: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    tls_cert: str = ""
    tls_key: str = ""
    admin_login: str = "admin"
    admin_password: str = ""
    token_ttl_seconds: int = 24 * 3600
    max_body_bytes: int = 8 * 1024 * 1024
    esl_host: str = "127.0.0.1"
    esl_port: int = 8021
    esl_password: str = "ClueCon"
    esl_command_timeout: float = 10.0
    sofia_gateway_profiles: tuple[str, ...] = ("external",)
    xmlcurl_user: str = ""
    xmlcurl_password: str = ""
    xmlcurl_allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        default_factory=lambda: (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
    )
    xmlcurl_a1_hash: bool = False
    xmlcurl_timeout: float = 2.0
    # A dedicated mod_xml_curl port (0: none; /freeswitch/directory on the main port always works),
    # served by this process, or by that many worker processes.
    xmlcurl_port: int = 0
    xmlcurl_workers: int = 0
    # Memory for cached documents, per process serving lookups.
    xmlcurl_cache_mb: int = 256
    all_users_group: str = "all"
    log_level: str = "INFO"

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)


_ENV_PREFIX = "FSDIR_"


def _as_int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def _as_float(name: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def _as_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name}: expected true or false, got {raw!r}")


def _as_networks(name: str, raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(f"{name}: {item!r} is not an IP address or network") from None
    return tuple(networks)


def _database_url(name: str, raw: str) -> str:
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme.split("+", 1)[0] not in ("sqlite", "postgresql", "postgres"):
        raise SettingsError(f"{name}: expected a sqlite:/// or postgresql:// URL")
    return raw


def _file_values(path: str) -> dict[str, str]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise SettingsError(f"FSDIR_CONFIG: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"FSDIR_CONFIG: {path} is not valid TOML: {exc}") from None
    values: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list):
            value = ",".join(str(item) for item in value)
        values[_ENV_PREFIX + key.upper()] = str(value)
    return values


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from FSDIR_* variables; a file named by FSDIR_CONFIG gives defaults."""
    env = dict(os.environ if environ is None else environ)
    merged: dict[str, str] = {}
    if env.get("FSDIR_CONFIG"):
        merged.update(_file_values(env["FSDIR_CONFIG"]))
    merged.update({key: value for key, value in env.items() if key.startswith(_ENV_PREFIX)})
    known = {_ENV_PREFIX + name.upper() for name in Settings.__dataclass_fields__} | {"FSDIR_CONFIG"}
    unknown = sorted(key for key in merged if key not in known)
    if unknown:
        raise SettingsError(f"{unknown[0]}: unknown setting")

    def get(name: str) -> str | None:
        return merged.get(_ENV_PREFIX + name.upper())

    values: dict[str, object] = {}
    for name in ("database_schema", "host", "admin_login", "admin_password", "esl_host", "esl_password"):
        raw = get(name)
        if raw is not None:
            values[name] = raw
    for name in ("xmlcurl_user", "xmlcurl_password", "all_users_group"):
        raw = get(name)
        if raw is not None:
            values[name] = raw
    if (raw := get("database_url")) is not None:
        values["database_url"] = _database_url("FSDIR_DATABASE_URL", raw)
    ranges = {
        "port": (1, 65535),
        "esl_port": (1, 65535),
        "token_ttl_seconds": (60, 10 * 365 * 24 * 3600),
        "max_body_bytes": (1024, 1024**3),
        "xmlcurl_port": (0, 65535),
        "xmlcurl_workers": (0, 64),
        "xmlcurl_cache_mb": (1, 64 * 1024),
    }
    for name, (low, high) in ranges.items():
        if (raw := get(name)) is not None:
            values[name] = _as_int(_ENV_PREFIX + name.upper(), raw, low, high)
    if (raw := get("xmlcurl_timeout")) is not None:
        values["xmlcurl_timeout"] = _as_float("FSDIR_XMLCURL_TIMEOUT", raw, 0.05, 60.0)
    if (raw := get("esl_command_timeout")) is not None:
        values["esl_command_timeout"] = _as_float("FSDIR_ESL_COMMAND_TIMEOUT", raw, 0.1, 600.0)
    if (raw := get("xmlcurl_a1_hash")) is not None:
        values["xmlcurl_a1_hash"] = _as_bool("FSDIR_XMLCURL_A1_HASH", raw)
    if (raw := get("xmlcurl_allow")) is not None:
        values["xmlcurl_allow"] = _as_networks("FSDIR_XMLCURL_ALLOW", raw)
    if (raw := get("sofia_gateway_profiles")) is not None:
        values["sofia_gateway_profiles"] = tuple(p.strip() for p in raw.split(",") if p.strip())
    if (raw := get("log_level")) is not None:
        level = raw.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"FSDIR_LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR, got {raw!r}")
        values["log_level"] = level
    for name in ("tls_cert", "tls_key"):
        if (raw := get(name)) is not None and raw:
            if not Path(raw).is_file():
                raise SettingsError(f"FSDIR_{name.upper()}: no such file {raw!r}")
            values[name] = raw
    if bool(values.get("tls_cert")) != bool(values.get("tls_key")):
        raise SettingsError("FSDIR_TLS_CERT: FSDIR_TLS_CERT and FSDIR_TLS_KEY must be set together")
    if bool(values.get("xmlcurl_user")) != bool(values.get("xmlcurl_password")):
        raise SettingsError("FSDIR_XMLCURL_USER: FSDIR_XMLCURL_USER and FSDIR_XMLCURL_PASSWORD go together")
    xmlcurl_port = values.get("xmlcurl_port", 0)
    if xmlcurl_port and xmlcurl_port == values.get("port", Settings.port):
        raise SettingsError("FSDIR_XMLCURL_PORT: must differ from FSDIR_PORT")
    if values.get("xmlcurl_workers") and not xmlcurl_port:
        raise SettingsError("FSDIR_XMLCURL_WORKERS: needs FSDIR_XMLCURL_PORT")
    return Settings(**values)  # type: ignore[arg-type]
