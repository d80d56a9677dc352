"""``[Users] Add_new_user`` with ``bulk``: sequential names, one reply, all or nothing."""

from __future__ import annotations

import pytest

from tests.api.helpers import Directory
from tests.conftest import Api

ADD = "[Users] Add_new_user"


def user_names(api: Api, domain: int) -> list[str]:
    users = api.ok("[Users] Get_users", {"domain_id": domain})["directory_users"].get(str(domain), {})
    return [user["name"] for user in users.values()]


def test_bulk_of_100_makes_100_users_in_one_reply(api: Api) -> None:
    domain = Directory(api).domain("bulk.example")
    reply = api.ok(ADD, {"id": domain, "name": "5000", "bulk": 100})
    assert set(reply) == {"MessageType", "directory_users", "total"}
    assert reply["total"] == 100
    [(key, created)] = reply["directory_users"].items()
    assert key == str(domain)
    ids = [int(user_id) for user_id in created]
    assert ids == sorted(ids) and len(set(ids)) == 100
    assert [user["name"] for user in created.values()] == [str(number) for number in range(5000, 5100)]
    assert all(user["enabled"] is True and user["id"] == int(user_id) for user_id, user in created.items())
    assert user_names(api, domain) == [str(number) for number in range(5000, 5100)]


BULK_NAMES = (
    ("ext-100a", 3, ["ext-100a", "ext-101a", "ext-102a"]),
    ("007", 2, ["007", "008"]),
    ("098", 3, ["098", "099", "100"]),
    ("sales", 3, ["sales1", "sales2", "sales3"]),
    ("a1b2", 2, ["a1b2", "a1b3"]),
    ("  9  ", 2, ["9", "10"]),
    ("solo", 1, ["solo"]),
)


def test_bulk_names_count_up_the_last_digits(http_api: Api, subtests: pytest.Subtests) -> None:
    make = Directory(http_api)
    for number, (name, bulk, expected) in enumerate(BULK_NAMES):
        with subtests.test(msg=name):
            domain = make.domain(f"names{number}.example")
            reply = http_api.ok(ADD, {"id": domain, "name": name, "bulk": bulk})
            assert [user["name"] for user in reply["directory_users"][str(domain)].values()] == expected
            assert reply["total"] == len(expected)
            assert user_names(http_api, domain) == expected


def test_bulk_fails_whole(http_api: Api) -> None:
    make = Directory(http_api)
    domain = make.domain("whole.example")
    other = make.domain("other.example")
    make.user(domain, "5050")
    make.user(domain, "SALES3")
    make.user(other, "6000")  # the same name elsewhere is no collision
    exists = {"MessageType": ADD, "error": "user name already exists"}
    assert http_api.call(ADD, {"id": domain, "name": "5000", "bulk": 100}) == exists
    assert http_api.call(ADD, {"id": domain, "name": "4951", "bulk": 100}) == exists  # the last one collides
    assert http_api.call(ADD, {"id": domain, "name": "sales", "bulk": 5}) == exists  # case-insensitive
    assert http_api.call(ADD, {"id": domain, "name": "5000", "bulk": 101}) == {
        "MessageType": ADD,
        "error": "to many at once",
    }
    for bulk in (0, -1, "10", 2.0, True):
        assert http_api.call(ADD, {"id": domain, "name": "7000", "bulk": bulk}) == {
            "MessageType": ADD,
            "error": "invalid bulk",
        }
    # Names past the column's width are refused before anything is written.
    assert http_api.call(ADD, {"id": domain, "name": "9" * 255, "bulk": 2}) == {
        "MessageType": ADD,
        "error": "invalid name",
    }
    assert user_names(http_api, domain) == ["5050", "SALES3"]
    assert http_api.ok(ADD, {"id": other, "name": "5999", "bulk": 1})["total"] == 1
    assert http_api.ok(ADD, {"id": domain, "name": "6000", "bulk": 100})["total"] == 100
