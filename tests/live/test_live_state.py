"""The live state fed with the recorded events and `show ... as json` answers (no network)."""

from __future__ import annotations

import logging
import random

import pytest

from fsdir.freeswitch.esl_frames import Event
from fsdir.freeswitch.fake import read_api_reply
from fsdir.freeswitch.live import IDLE, LiveState, UserLive
from fsdir.freeswitch.live_events import MalformedEvent, apply_event, contact_key, json_rows, load_bootstrap
from tests.live.conftest import ESL, NO_ROWS, recorded_events

A_LEG = "411dfd62-7775-4355-a204-d8da16bd79fd"
B_LEG = "eb868f1c-5e79-40fd-b2a4-874d004f7ba1"
CALL_DATE = 1796397693
EMPTY = LiveState().snapshot()


def feed(live: LiveState, name: str) -> None:
    for event in recorded_events(name):
        apply_event(live, event)


def registered(live: LiveState, user: str, domain: str = "xmlcurl.test") -> bool:
    return live.user(domain, user).sip_register


def sofia(subclass: str, **headers: str) -> Event:
    return Event({"Event-Name": "CUSTOM", "Event-Subclass": subclass, **headers})


def register(user: str, call_id: str, contact: str, domain: str = "xmlcurl.test") -> Event:
    return sofia("sofia::register", **{"from-user": user, "from-host": domain, "call-id": call_id, "contact": contact})


def recount(live: LiveState) -> dict[str, int]:
    users = live.snapshot()["users"]
    assert isinstance(users, dict)
    counts: dict[str, int] = {}
    for (domain, _), state in users.items():
        if state.sip_register:
            counts[domain] = counts.get(domain, 0) + 1
    return counts


def test_recorded_register_unregister_expire() -> None:
    live = LiveState()
    feed(live, "events_json_register.txt")
    assert live.user("xmlcurl.test", "2000") == UserLive(sip_register=True)
    assert live.regs_counter("xmlcurl.test") == 1
    # The REGISTER with Expires: 0 came with a new call-id, from the same contact.
    feed(live, "events_json_unregister.txt")
    assert live.user("xmlcurl.test", "2000") is IDLE
    assert live.regs_counter("xmlcurl.test") == 0
    feed(live, "events_json_register_short_expiry.txt")
    assert registered(live, "2000") and live.regs_counter("xmlcurl.test") == 1
    # sofia::expire names the user as user@host, not from-user@from-host.
    feed(live, "events_json_expire.txt")
    assert not registered(live, "2000") and live.regs_counter("xmlcurl.test") == 0
    assert live.snapshot() == EMPTY


def test_plain_recordings_give_the_same_state() -> None:
    for fmt in ("json", "plain"):
        live = LiveState()
        feed(live, f"events_{fmt}_register.txt")
        feed(live, f"events_{fmt}_register_2001.txt")
        assert live.regs_counter("xmlcurl.test") == 2, fmt


def test_a_user_with_two_phones_stays_registered_until_both_are_gone() -> None:
    live = LiveState()
    apply_event(live, register("1000", "call-a", '"" <sip:1000@10.0.0.1:5060>'))
    apply_event(live, register("1000", "call-b", "<sip:1000@10.0.0.2:5060;transport=tcp>"))
    assert live.regs_counter("xmlcurl.test") == 1
    apply_event(live, sofia("sofia::unregister", **{"from-user": "1000", "from-host": "xmlcurl.test", "call-id": "x"}))
    assert registered(live, "1000"), "an unknown registration changes nothing"
    apply_event(
        live,
        sofia("sofia::unregister", **{"from-user": "1000", "from-host": "xmlcurl.test", "call-id": "call-a"}),
    )
    assert registered(live, "1000") and live.regs_counter("xmlcurl.test") == 1
    apply_event(live, sofia("sofia::expire", user="1000", host="XMLCURL.TEST", **{"call-id": "call-b"}))
    assert not registered(live, "1000") and live.regs_counter("xmlcurl.test") == 0


def test_a_phone_registering_again_with_a_new_call_id_replaces_its_registration() -> None:
    live = LiveState()
    apply_event(live, register("1000", "first", "<sip:1000@10.0.0.1:5060>"))
    apply_event(live, register("1000", "second", "<sip:1000@10.0.0.1:5060>"))
    apply_event(
        live, sofia("sofia::unregister", **{"from-user": "1000", "from-host": "xmlcurl.test", "call-id": "second"})
    )
    assert not registered(live, "1000")


def test_names_are_case_insensitive() -> None:
    live = LiveState()
    apply_event(live, register("Alice", "c1", "<sip:alice@10.0.0.1>", domain="Example.COM"))
    assert live.user("example.com", "ALICE").sip_register
    assert live.regs_counter("EXAMPLE.com") == 1


def test_recorded_call_sets_and_clears_the_call_fields() -> None:
    live = LiveState()
    create_a, create_b, answer_b, answer_a, bridge, hangup_b, hangup_a = recorded_events("events_json_call.txt")[1:]
    apply_event(live, create_a)
    apply_event(live, create_b)
    assert live.user("xmlcurl.test", "2000") == UserLive(
        in_call=True, call_date=CALL_DATE, last_uuid=A_LEG, call_direction="inbound"
    )
    assert live.user("xmlcurl.test", "2001") == UserLive(
        in_call=True, call_date=CALL_DATE, last_uuid=B_LEG, call_direction="outbound"
    )
    apply_event(live, answer_b)
    assert live.user("xmlcurl.test", "2001").talking and not live.user("xmlcurl.test", "2000").talking
    # The A leg's ANSWER also names the dialed user 2001: the channel stays 2000's.
    apply_event(live, answer_a)
    apply_event(live, bridge)
    assert live.user("xmlcurl.test", "2000").talking
    assert live.user("xmlcurl.test", "2001").last_uuid == B_LEG
    apply_event(live, hangup_b)
    assert live.user("xmlcurl.test", "2001") is IDLE
    apply_event(live, hangup_a)
    assert live.snapshot() == EMPTY


def test_recorded_originates_to_a_user_and_a_group() -> None:
    live = LiveState()
    create, answer, hangup = recorded_events("events_json_originate_user.txt")
    apply_event(live, create)
    apply_event(live, answer)
    assert live.user("xmlcurl.test", "2001").talking
    apply_event(live, hangup)
    events = recorded_events("events_json_originate_group.txt")
    for event in events[:2]:
        apply_event(live, event)
    # A group call's legs name their user only by presence id.
    assert live.user("xmlcurl.test", "2000").in_call and live.user("xmlcurl.test", "2001").in_call
    for event in events[2:]:
        apply_event(live, event)
    assert live.snapshot()["users"] == {}


def test_latest_channel_gives_the_call_fields_and_any_answered_one_means_talking() -> None:
    live = LiveState()
    live.channel_up("old", ("d", "u"), direction="inbound", created_us=5_000_000, answered=True)
    live.channel_up("new", ("d", "u"), direction="outbound", created_us=9_000_000, answered=False)
    assert live.user("d", "u") == UserLive(
        in_call=True, talking=True, call_date=9, last_uuid="new", call_direction="outbound"
    )
    live.channel_gone("old")
    assert not live.user("d", "u").talking
    live.channel_gone("new")
    live.channel_gone("new")
    assert live.user("d", "u") is IDLE


def test_bootstrap_from_the_recorded_answers() -> None:
    live = LiveState()
    apply_event(live, register("9999", "stale", "<sip:9999@10.0.0.9>"))
    load_bootstrap(
        live,
        read_api_reply(ESL / "api_show_registrations_as_json.txt"),
        read_api_reply(ESL / "api_show_channels_as_json.txt"),
    )
    assert not registered(live, "9999"), "a bootstrap starts from nothing"
    assert live.user("xmlcurl.test", "2000") == UserLive(
        sip_register=True, in_call=True, talking=True, call_date=CALL_DATE, last_uuid=A_LEG, call_direction="inbound"
    )
    assert live.user("xmlcurl.test", "2001") == UserLive(
        sip_register=True, in_call=True, talking=True, call_date=CALL_DATE, last_uuid=B_LEG, call_direction="outbound"
    )
    assert live.regs_counter("xmlcurl.test") == 2
    # The bootstrap's registrations are the ones later events name (by call-id or contact).
    feed(live, "events_json_unregister.txt")
    assert not registered(live, "2000") and live.regs_counter("xmlcurl.test") == 1
    feed(live, "events_json_call.txt")  # its hangups end the bootstrapped channels
    assert not live.user("xmlcurl.test", "2001").in_call


def test_empty_and_broken_bootstrap_answers(caplog: pytest.LogCaptureFixture) -> None:
    assert json_rows(NO_ROWS, "show registrations as json") == []
    with caplog.at_level(logging.WARNING, "fsdir.freeswitch.live"):
        assert json_rows("-ERR no reply\n", "show channels as json") == []
        assert json_rows('{"row_count": 1, "rows": 3}', "show channels as json") == []
    assert len(caplog.records) == 2
    live = LiveState()
    load_bootstrap(live, '{"rows": [{"reg_user": "1000"}, 7]}', NO_ROWS)
    assert live.snapshot() == EMPTY


def test_verto_logins_are_tracked_per_client() -> None:
    live = LiveState()

    def verto(subclass: str, login: str, address: str, success: str = "1") -> Event:
        return Event(
            {
                "Event-Name": "CUSTOM",
                "Event-Subclass": subclass,
                "verto_login": login,
                "verto_client_address": address,
                "verto_success": success,
            }
        )

    apply_event(live, verto("verto::login", "1000@example.com", "10.0.0.1:4000", success="0"))
    assert not live.user("example.com", "1000").verto_register
    apply_event(live, verto("verto::login", "1000@example.com", "10.0.0.1:4000"))
    apply_event(live, verto("verto::login", "1000@example.com", "10.0.0.2:4000"))
    apply_event(live, verto("verto::client_disconnect", "1000@example.com", "10.0.0.1:4000"))
    assert live.user("example.com", "1000").verto_register
    assert live.regs_counter("example.com") == 0, "the counter is about SIP registrations"
    apply_event(live, verto("verto::client_disconnect", "1000@example.com", "10.0.0.2:4000"))
    assert live.user("example.com", "1000") is IDLE
    apply_event(live, verto("verto::login", "1000", "10.0.0.3:4000"))  # no domain: nothing to key it by
    apply_event(live, verto("verto::client_disconnect", "", "10.0.0.3:4000"))
    assert live.snapshot()["users"] == {}


def test_malformed_and_foreign_events() -> None:
    live = LiveState()
    with pytest.raises(MalformedEvent):
        apply_event(live, sofia("sofia::register", **{"from-host": "xmlcurl.test", "call-id": "c"}))
    with pytest.raises(MalformedEvent):
        apply_event(live, sofia("sofia::expire", user="1000", host="xmlcurl.test"))
    with pytest.raises(MalformedEvent):
        apply_event(live, Event({"Event-Name": "CHANNEL_CREATE", "Call-Direction": "inbound"}))
    apply_event(live, Event({"Event-Name": "HEARTBEAT"}))
    apply_event(live, sofia("sofia::pre_register"))
    # A channel of no directory user (a gateway leg) is not tracked.
    apply_event(live, Event({"Event-Name": "CHANNEL_CREATE", "Unique-ID": "u", "Call-Direction": "inbound"}))
    apply_event(live, Event({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": "u", "Caller-Channel-Created-Time": "x"}))
    assert live.snapshot() == EMPTY


def test_contact_keys_meet_between_events_and_show_registrations() -> None:
    assert contact_key('"" <sip:2000@127.0.0.1:5071>') == "2000@127.0.0.1:5071"
    assert contact_key("sip:2000@127.0.0.1:5071") == "2000@127.0.0.1:5071"
    assert contact_key("<sips:Bob@Host:5061;transport=tls>;expires=60") == "bob@host:5061"
    assert contact_key("") == ""


def test_changes_are_collected_and_reset_reports_everyone() -> None:
    live = LiveState()
    apply_event(live, register("1000", "c1", "<sip:1000@h>", domain="a.test"))
    apply_event(live, register("1000", "c1", "<sip:1000@h>", domain="a.test"))  # a refresh
    assert live.take_changes() == ({("a.test", "1000")}, {"a.test"})
    apply_event(live, register("1000", "c1", "<sip:1000@h>", domain="a.test"))
    assert not live.changed
    live.reset()
    assert live.take_changes() == ({("a.test", "1000")}, {"a.test"})
    assert live.regs_counter("a.test") == 0


def test_counters_never_drift_whatever_the_order_of_events() -> None:
    rng = random.Random(1234)
    live = LiveState()
    domains, users, phones = ["a.test", "B.test"], ["1000", "1001", "1002"], ["p1", "p2", "p3"]
    for _ in range(3000):
        domain, user, phone = rng.choice(domains), rng.choice(users), rng.choice(phones)
        kind = rng.choice(["sofia::register", "sofia::register", "sofia::unregister", "sofia::expire"])
        contact = f"<sip:{user}@{phone}>"
        if kind == "sofia::expire":
            event = sofia(kind, user=user, host=domain, contact=contact, **{"call-id": f"{phone}-{rng.randint(0, 3)}"})
        else:
            call_id = f"{phone}-{rng.randint(0, 3)}"
            event = sofia(kind, **{"from-user": user, "from-host": domain, "call-id": call_id, "contact": contact})
        apply_event(live, event)
        assert live.snapshot()["registered"] == recount(live)
