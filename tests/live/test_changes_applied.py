"""Edits made through the API reach FreeSWITCH: user cache flushes, gateway kill and rescan."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.testclient import TestClient

from tests.live.conftest import (
    FakeFS,
    Session,
    connected,
    eventually,
    import_xmlcurl_directory,
    on_loop,
    runtime,
    wait_connected,
)

FLUSH_2000 = "api xml_flush_cache id 2000 xmlcurl.test"


def settled(client: TestClient, fake_fs: FakeFS) -> int:
    """Wait until every queued command has been sent; the number of commands the fake has seen."""
    eventually(lambda: not on_loop(client, lambda: runtime(client).freeswitch.sync.pending), what="the queue to empty")
    return len(fake_fs.commands())


def password_param(session: Session, user_id: int) -> int:
    details = session.ok("[Users] Get_user_details", {"id": user_id})["user_details"][str(user_id)]
    [param_id] = [pid for pid, param in details["parameters"].items() if param["name"] == "password"]
    return int(param_id)


def test_password_edit_flushes_the_user_after_the_reply(
    app_client: TestClient, fake_fs: FakeFS, session_factory: Callable[[TestClient], Session]
) -> None:
    session = session_factory(app_client)
    _, ids = import_xmlcurl_directory(session)
    seen = settled(app_client, fake_fs)
    param_id = password_param(session, ids["2000"])
    # FreeSWITCH takes its time to answer: the API reply does not wait for it.
    fake_fs.call(fake_fs.fake.hold_api, "xml_flush_cache")
    started = time.monotonic()
    session.ok("[Users] Update_user_param", {"id": param_id, "name": "password", "value": "n3w-s3cret"})
    assert time.monotonic() - started < 1.0
    eventually(lambda: fake_fs.commands()[seen:] == [FLUSH_2000], what="the flush")
    fake_fs.call(fake_fs.fake.release_api)
    settled(app_client, fake_fs)


def test_gateway_edit_kills_then_rescans(
    lite_client: TestClient, fake_fs: FakeFS, session_factory: Callable[[TestClient], Session]
) -> None:
    session = session_factory(lite_client)
    import_xmlcurl_directory(session)
    seen = settled(lite_client, fake_fs)
    gateways = session.ok("[Gateways] Get_users_gateways")["user_gateways"]
    [gateway_id] = [gid for users in gateways.values() for gws in users.values() for gid in gws]
    details = session.ok("[Gateways] Get_user_gateways_details", {"id": int(gateway_id)})["gateway_details"]
    [param_id] = [pid for pid, p in details[gateway_id]["parameters"].items() if p["name"] == "realm"]
    session.ok("[Gateways] Update_user_gateway_param", {"id": int(param_id), "name": "realm", "value": "10.0.0.1"})
    wanted = ["api sofia profile external killgw gw-test", "api sofia profile external rescan"]
    eventually(lambda: fake_fs.commands()[seen:] == wanted, what=f"{wanted}")


def test_an_edit_while_freeswitch_is_down_reaches_it_when_it_is_back(
    lite_client: TestClient, fake_fs: FakeFS, session_factory: Callable[[TestClient], Session]
) -> None:
    session = session_factory(lite_client)
    _, ids = import_xmlcurl_directory(session)
    settled(lite_client, fake_fs)
    param_id = password_param(session, ids["2000"])
    fake_fs.call(fake_fs.fake.stop)
    eventually(lambda: not connected(lite_client), what="the link to notice")
    session.ok("[Users] Update_user_param", {"id": param_id, "name": "password", "value": "while-down"})
    time.sleep(0.3)  # several reconnection attempts fail meanwhile
    assert on_loop(lite_client, lambda: runtime(lite_client).freeswitch.sync.pending) == [
        FLUSH_2000.removeprefix("api ")
    ]
    seen = len(fake_fs.commands())
    fake_fs.call(fake_fs.fake.start)
    wait_connected(lite_client)
    # On the new connection: subscribe, version, bootstrap, then what was kept.
    eventually(lambda: FLUSH_2000 in fake_fs.commands()[seen:], what="the kept flush")
    new = fake_fs.commands()[seen:]
    assert new[-3:] == ["api show registrations as json", "api show channels as json", FLUSH_2000]
    assert new.count(FLUSH_2000) == 1
