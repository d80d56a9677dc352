from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from fsdir.config import Settings, SettingsError, load_settings


def test_defaults_are_the_embedded_setup() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.database_url == "sqlite:///fsdir.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.admin_password == ""


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("FSDIR_PORT", "eighty", "FSDIR_PORT"),
        ("FSDIR_PORT", "70000", "FSDIR_PORT"),
        ("FSDIR_ESL_PORT", "-1", "FSDIR_ESL_PORT"),
        ("FSDIR_DATABASE_URL", "mysql://x/y", "FSDIR_DATABASE_URL"),
        ("FSDIR_XMLCURL_ALLOW", "10.0.0.0/8,not-a-net", "FSDIR_XMLCURL_ALLOW"),
        ("FSDIR_XMLCURL_A1_HASH", "maybe", "FSDIR_XMLCURL_A1_HASH"),
        ("FSDIR_TLS_CERT", "/nonexistent/cert.pem", "FSDIR_TLS_CERT"),
        ("FSDIR_LOG_LEVEL", "LOUD", "FSDIR_LOG_LEVEL"),
        ("FSDIR_PROT", "8080", "FSDIR_PROT"),
    ],
)
def test_a_bad_setting_is_named(name: str, value: str, named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({name: value})
    message = str(raised.value)
    assert message.startswith(named) and "\n" not in message


def test_environment_overrides_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "fsdir.toml"
    config.write_text('port = 9000\nhost = "0.0.0.0"\nxmlcurl_allow = ["10.0.0.0/8"]\nxmlcurl_a1_hash = true\n')
    settings = load_settings({"FSDIR_CONFIG": str(config), "FSDIR_PORT": "9100"})
    assert settings.port == 9100
    assert settings.host == "0.0.0.0"
    assert settings.xmlcurl_allow == (ipaddress.ip_network("10.0.0.0/8"),)
    assert settings.xmlcurl_a1_hash is True


def test_unreadable_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="FSDIR_CONFIG"):
        load_settings({"FSDIR_CONFIG": str(tmp_path / "missing.toml")})
    bad = tmp_path / "bad.toml"
    bad.write_text("port = \n")
    with pytest.raises(SettingsError, match="FSDIR_CONFIG"):
        load_settings({"FSDIR_CONFIG": str(bad)})


def test_tls_needs_both_files(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(SettingsError, match="FSDIR_TLS"):
        load_settings({"FSDIR_TLS_CERT": str(cert)})
