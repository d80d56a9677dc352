from __future__ import annotations

from starlette.testclient import TestClient


def test_the_page_is_served_and_speaks_the_event_api(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-frame-options"] == "DENY"
    page = response.text
    # The page drives the same WebSocket API as every other client.
    assert '"/ws"' in page
    for event in ("login", "[Domains][Get] Domains", "[Users] Get_users", "[Users] Add_new_user", "subscribe"):
        assert f'"{event}"' in page
