"""The settings of the mod_xml_curl endpoint."""

from __future__ import annotations

import pytest

from fsdir.config import SettingsError, load_settings


def test_dedicated_port_and_workers() -> None:
    settings = load_settings(
        {"FSDIR_XMLCURL_PORT": "8081", "FSDIR_XMLCURL_WORKERS": "2", "FSDIR_XMLCURL_CACHE_MB": "64"}
    )
    assert (settings.xmlcurl_port, settings.xmlcurl_workers, settings.xmlcurl_cache_mb) == (8081, 2, 64)
    defaults = load_settings({})
    assert (defaults.xmlcurl_port, defaults.xmlcurl_workers, defaults.xmlcurl_cache_mb) == (0, 0, 256)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FSDIR_XMLCURL_PORT": "8080"}, "FSDIR_XMLCURL_PORT: must differ from FSDIR_PORT"),
        ({"FSDIR_XMLCURL_PORT": "9000", "FSDIR_PORT": "9000"}, "FSDIR_XMLCURL_PORT: must differ"),
        ({"FSDIR_XMLCURL_WORKERS": "2"}, "FSDIR_XMLCURL_WORKERS: needs FSDIR_XMLCURL_PORT"),
        ({"FSDIR_XMLCURL_PORT": "70000"}, "FSDIR_XMLCURL_PORT: must be between 0 and 65535"),
        ({"FSDIR_XMLCURL_CACHE_MB": "0"}, "FSDIR_XMLCURL_CACHE_MB: must be between"),
    ],
)
def test_bad_settings(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)
