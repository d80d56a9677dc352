"""`[Directory][Import]` against the fake answering with the recorded `xml_locate directory`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from starlette.testclient import TestClient

from fsdir.app import create_app
from fsdir.config import Settings
from fsdir.freeswitch.fake import read_api_reply
from tests.live.conftest import ESL, FakeFS, Session, eventually


def test_import_of_the_vanilla_directory(
    app_client: TestClient, fake_fs: FakeFS, session_factory: Callable[[TestClient], Session]
) -> None:
    fake_fs.set_api("xml_locate directory", read_api_reply(ESL / "xml_locate_vanilla.txt"))
    session = session_factory(app_client)
    reply = session.ok("[Directory][Import]")
    assert reply["imported"] == {"domains": 1, "users": 24, "groups": 4, "gateways": 1}
    [domain] = session.ok("[Domains][Get] Domains")["domains"].values()
    assert domain["name"] == "127.0.0.1"
    gateways = session.ok("[Gateways] Get_users_gateways")["user_gateways"]
    names = [gw["name"] for users in gateways.values() for gws in users.values() for gw in gws.values()]
    assert names == ["example.com"]
    # All or nothing: the same directory again clashes and changes nothing.
    assert "error" in session.call("[Directory][Import]")
    assert len(session.ok("[Users] Get_users")["directory_users"][str(domain["id"])]) == 24
    # FreeSWITCH is told: every imported user flushed, the new gateway loaded.
    fake_fs.wait_for_command("api sofia profile external rescan")
    commands = fake_fs.commands()
    assert sum(line.startswith("api xml_flush_cache id ") for line in commands) == 24
    assert commands.index("api sofia profile external killgw example.com") < commands.index(
        "api sofia profile external rescan"
    )


def test_import_of_the_xmlcurl_directory(
    app_client: TestClient, session_factory: Callable[[TestClient], Session]
) -> None:
    session = session_factory(app_client)
    assert session.ok("[Directory][Import]")["imported"] == {"domains": 1, "users": 2, "groups": 2, "gateways": 1}
    [domain] = session.ok("[Domains][Get] Domains")["domains"].values()
    assert domain["name"] == "xmlcurl.test"
    users = session.ok("[Users] Get_users")["directory_users"][str(domain["id"])]
    assert sorted(user["name"] for user in users.values()) == ["2000", "2001"]


def test_import_without_freeswitch(sqlite_settings: Settings, fake_fs: FakeFS) -> None:
    # Configured but unreachable (nothing listens on the port any more), and not configured at all.
    port = fake_fs.port
    fake_fs.call(fake_fs.fake.stop)
    for settings in (replace(sqlite_settings, esl_host="127.0.0.1", esl_port=port), sqlite_settings):
        with TestClient(create_app(settings)) as client, Session(client) as session:
            assert session.call("[Directory][Import]") == {
                "MessageType": "[Directory][Import]",
                "error": "freeswitch not connected",
            }
            assert client.get("/healthz").json() == {"database": "ok", "freeswitch": "disconnected"}
            status = session.ok("[Directory] Status")
            assert status["freeswitch"] == "disconnected" and status["version"] == ""


def test_status_reports_the_connection(
    app_client: TestClient, fake_fs: FakeFS, session_factory: Callable[[TestClient], Session]
) -> None:
    session = session_factory(app_client)
    assert app_client.get("/healthz").json() == {"database": "ok", "freeswitch": "connected"}
    status = session.ok("[Directory] Status")
    assert status["freeswitch"] == "connected" and status["version"] == "1.10.12-release"
    fake_fs.replay(ESL / "events_json_register.txt")
    eventually(lambda: session.ok("[Directory] Status")["last_event"] > 0)
