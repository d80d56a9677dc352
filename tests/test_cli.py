"""The command line: import of a FreeSWITCH configuration tree, export, admin users and tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from fsdir.app import create_app
from fsdir.cli import app
from fsdir.config import Settings
from tests.conftest import FIXTURES, Api

VANILLA = FIXTURES / "vanilla-directory"
VARS = FIXTURES / "vanilla-vars.xml"


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("FSDIR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("FSDIR_DATABASE_SCHEMA", settings.database_schema)
    yield CliRunner()


def xml_locate_vanilla_body() -> str:
    raw = (FIXTURES / "esl" / "xml_locate_vanilla.txt").read_text()
    return raw.split("\n\n", 1)[1]


def test_import_of_the_vanilla_tree_equals_what_freeswitch_renders(
    cli: CliRunner, settings: Settings, tmp_path: Path
) -> None:
    result = cli.invoke(app, ["import", str(VANILLA), "--vars", str(VARS), "--set", "local_ip_v4=127.0.0.1"])
    assert result.exit_code == 0, result.output
    assert "imported 1 domains, 24 users, 4 groups, 1 gateways" in result.output
    from_files = cli.invoke(app, ["export"])
    assert from_files.exit_code == 0

    # The same directory as FreeSWITCH itself rendered it (xml_locate), imported through the API.
    other = replace(settings, database_url=f"sqlite:///{tmp_path / 'other.db'}", database_schema="")
    with TestClient(create_app(other)) as client:
        api = Api(client, "http")
        api.login()
        api.ok("ImportXMLDomain", {"file": xml_locate_vanilla_body()})
        from_freeswitch = api.ok("[Directory] Export")["file"]
        users = api.ok("[Users] Get_users")["directory_users"]
        names = sorted(user["name"] for domain in users.values() for user in domain.values())
        groups = api.ok("[Groups] Get_groups")["list"]
    assert from_files.stdout == from_freeswitch
    assert len(names) == 24
    assert {f"{n}" for n in range(1000, 1020)} | {"brian", "default", "example.com", "SEP001120AABBCC"} == set(names)
    assert sorted(name for domain in groups.values() for name in domain.values()) == [
        "billing",
        "default",
        "sales",
        "support",
    ]
    assert '<gateway name="example.com">' in from_freeswitch
    assert '<param name="expire-seconds" value="600"/>' in from_freeswitch


def test_import_keeps_variables_as_text_without_expand(cli: CliRunner) -> None:
    result = cli.invoke(
        app, ["import", str(VANILLA), "--vars", str(VARS), "--keep-vars", "--set", "local_ip_v4=127.0.0.1"]
    )
    assert result.exit_code == 0, result.output
    exported = cli.invoke(app, ["export"]).stdout
    assert '<param name="password" value="$${default_password}"/>' in exported
    # FreeSWITCH expands these when it reads the served document, as it does for its own files.
    assert '<domain name="$${domain}">' in exported
    assert '<gateway name="$${default_provider}">' in exported


def test_import_is_all_or_nothing(cli: CliRunner, tmp_path: Path) -> None:
    first = tmp_path / "first.xml"
    first.write_text('<domain name="a.example"><users><user id="1"/></users></domain>')
    assert cli.invoke(app, ["import", str(first)]).exit_code == 0
    both = tmp_path / "both.xml"
    # One element per line: FreeSWITCH's pre-processor drops whole lines holding <include>.
    both.write_text(
        '<include>\n<domain name="b.example"><users><user id="1"/></users></domain>\n'
        '<domain name="A.example"/>\n</include>\n'
    )
    result = cli.invoke(app, ["import", str(both)])
    assert result.exit_code == 1
    assert "nothing imported" in result.output and "a.example" in result.output.lower()
    exported = cli.invoke(app, ["export"]).stdout
    assert "b.example" not in exported


def test_import_refuses_hostile_xml(cli: CliRunner, tmp_path: Path) -> None:
    hostile = tmp_path / "xxe.xml"
    hostile.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<domain name="&x;"/>\n'
    )
    result = cli.invoke(app, ["import", str(hostile)])
    assert result.exit_code == 1
    assert "root:" not in result.output


def test_export_of_an_unknown_domain_fails(cli: CliRunner) -> None:
    result = cli.invoke(app, ["export", "--domain", "nowhere.example"])
    assert result.exit_code == 1


def test_admin_create_and_token(cli: CliRunner, settings: Settings) -> None:
    created = cli.invoke(app, ["admin", "create", "--login", "ops", "--role", "operator"], input="ops-password-1\n")
    assert created.exit_code == 0, created.output
    duplicate = cli.invoke(app, ["admin", "create", "--login", "OPS"], input="another-password\n")
    assert duplicate.exit_code == 1
    short = cli.invoke(app, ["admin", "create", "--login", "x"], input="short\n")
    assert short.exit_code == 1
    issued = cli.invoke(app, ["admin", "token", "--login", "ops", "--days", "7"])
    assert issued.exit_code == 0
    token = issued.stdout.strip()
    assert len(token) >= 32
    with TestClient(create_app(replace(settings, admin_password=""))) as client:
        response = client.post(
            "/api/v1",
            json={"event": "[Domains][Add] Domain", "data": {"name": "x.example"}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.json()["domains"]
        login = client.post("/api/v1", json={"event": "login", "data": {"login": "ops", "password": "ops-password-1"}})
        assert login.json()["user"]["role"] == "operator"
    assert cli.invoke(app, ["admin", "token", "--login", "nobody"]).exit_code == 1
