"""The dedicated mod_xml_curl port (FSDIR_XMLCURL_PORT) served by the main process, over raw sockets."""

from __future__ import annotations

import base64
import ipaddress
import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from fsdir.app import create_app
from fsdir.config import Settings
from fsdir.freeswitch import listener
from fsdir.freeswitch.render import NOT_FOUND
from fsdir.freeswitch.xmlcurl import MAX_BODY_BYTES
from tests.conftest import Api
from tests.xmlcurl.conftest import LOCAL, import_recorded_directory
from tests.xmlcurl.helpers import domain_of, lookup, recorded_requests, sip_auth_body, users_in


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raw_request(body: str, *, path: str = "/freeswitch/directory", extra: str = "") -> bytes:
    """A request as mod_xml_curl sends it (the recorded header set)."""
    data = body.encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: freeswitch-xml/1.0\r\nAccept: */*\r\n"
        f"{extra}Content-Length: {len(data)}\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
    ).encode() + data


def exchange(port: int, *chunks: bytes, pause: float = 0.0) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
            if pause:
                time.sleep(pause)
        received = b""
        while data := sock.recv(65536):
            received += data
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def start(settings: Settings) -> Iterator[tuple[TestClient, int]]:
    port = free_port()
    with TestClient(create_app(replace(settings, xmlcurl_port=port)), client=LOCAL) as client:
        api = Api(client, "http")
        api.login()
        if not api.ok("[Domains][Get] Domains")["domains"]:
            import_recorded_directory(api)
        yield client, port


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[TestClient, int]]:
    yield from start(settings)


def test_every_recorded_request_byte_for_byte(served: tuple[TestClient, int]) -> None:
    """The recorded request lines and headers, with the path of our endpoint."""
    client, port = served
    for record in recorded_requests():
        request = record["request"]
        head = request["request_line"].replace("/directory", "/freeswitch/directory") + "\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in request["headers"])
        status, headers, body = exchange(port, (head + "\r\n").encode() + request["body"].encode())
        assert status == 200
        assert headers["Content-Type"] == "text/xml"
        assert headers["Connection"] == "close"
        assert int(headers["Content-Length"]) == len(body)
        assert body == lookup(client, request["body"]), record["seq"]


def test_request_in_pieces_and_chunked(served: tuple[TestClient, int]) -> None:
    _, port = served
    request = raw_request(sip_auth_body("2001", "xmlcurl.test"))
    pieces = [request[i : i + 97] for i in range(0, len(request), 97)]
    status, _, body = exchange(port, *pieces, pause=0.002)
    assert status == 200 and list(users_in(domain_of(body, "xmlcurl.test"))) == ["2001"]
    data = sip_auth_body("2000", "xmlcurl.test").encode()
    chunked = (
        b"POST /freeswitch/directory HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n%s\r\n" % (100, data[:100])
        + b"%x\r\n%s\r\n0\r\n\r\n" % (len(data) - 100, data[100:])
    )
    status, _, body = exchange(port, chunked)
    assert status == 200 and list(users_in(domain_of(body, "xmlcurl.test"))) == ["2000"]


def test_get_with_query_string(served: tuple[TestClient, int]) -> None:
    _, port = served
    query = sip_auth_body("2000", "xmlcurl.test")
    status, _, body = exchange(port, f"GET /freeswitch/directory?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 200 and list(users_in(domain_of(body, "xmlcurl.test"))) == ["2000"]


def test_expect_100_continue(served: tuple[TestClient, int]) -> None:
    _, port = served
    request = raw_request(sip_auth_body("2000", "xmlcurl.test"), extra="Expect: 100-continue\r\n")
    head, _, body = request.partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + b"\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b'value="s3cret"' in answer


def test_bad_requests(served: tuple[TestClient, int]) -> None:
    _, port = served
    assert exchange(port, raw_request(sip_auth_body("2000", "xmlcurl.test"), path="/directory"))[0] == 404
    assert exchange(port, b"NOT HTTP AT ALL\r\n\r\n")[0] == 400
    assert exchange(port, b"POST /freeswitch/directory HTTP/1.1\r\nContent-Length: x\r\n\r\n")[0] == 400
    # A body over the limit is not read: the not-found document, as for any request we can't answer.
    big = "hostname=h&section=directory&" + "x" * (MAX_BODY_BYTES + 10)
    status, _, body = exchange(port, raw_request(big))
    assert (status, body) == (200, NOT_FOUND)
    declared = b"POST /freeswitch/directory HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nsection=directory"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(declared)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(NOT_FOUND)


def test_slow_client_is_disconnected(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listener, "READ_TIMEOUT", 0.5)
    for _, port in start(settings):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /freeswitch/directory HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            try:
                assert sock.recv(100) == b""
            except ConnectionResetError:
                pass
            assert time.monotonic() - started < 3


def test_access_control_on_the_dedicated_port(settings: Settings) -> None:
    guarded = replace(settings, xmlcurl_user="fs", xmlcurl_password="pw-secret")
    for _, port in start(guarded):
        status, headers, body = exchange(port, raw_request(sip_auth_body("2000", "xmlcurl.test")))
        assert (status, body) == (401, b"") and headers["WWW-Authenticate"].startswith("Basic")
        token = base64.b64encode(b"fs:pw-secret").decode()
        status, _, body = exchange(
            port, raw_request(sip_auth_body("2000", "xmlcurl.test"), extra=f"Authorization: Basic {token}\r\n")
        )
        assert status == 200 and b'value="s3cret"' in body
    elsewhere = replace(settings, xmlcurl_allow=(ipaddress.ip_network("192.0.2.0/24"),))
    for _, port in start(elsewhere):
        assert exchange(port, raw_request(sip_auth_body("2000", "xmlcurl.test")))[:3:2] == (403, b"")


def test_port_in_use_fails_the_start(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(OSError), TestClient(create_app(replace(settings, xmlcurl_port=port)), client=LOCAL):
            pass
