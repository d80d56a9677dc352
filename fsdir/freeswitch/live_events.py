"""What FreeSWITCH's events and `show ... as json` answers mean for the live state.

The header names are those recorded from FreeSWITCH 1.10.12 (fixtures/freeswitch/esl); the
reference is freeswitch-protocols.md §6.
"""

from __future__ import annotations

import json
import logging

from fsdir.freeswitch.esl_frames import Event
from fsdir.freeswitch.live import LiveState, UserKey, user_key

log = logging.getLogger("fsdir.freeswitch.live")

# In this order: FreeSWITCH reads every word after CUSTOM as a subclass name.
LIVE_EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_HANGUP_COMPLETE",
    "CUSTOM",
    "sofia::register",
    "sofia::unregister",
    "sofia::expire",
    "verto::login",
    "verto::client_disconnect",
)
REGISTRATIONS_COMMAND = "show registrations as json"
CHANNELS_COMMAND = "show channels as json"

# `show channels` call states of a channel that has been answered.
_ANSWERED_STATES = frozenset({"ACTIVE", "HELD", "UNHELD"})


class MalformedEvent(ValueError):
    """An event lacking what it needs to be applied."""


def apply_event(live: LiveState, event: Event) -> None:
    """Apply one event; events of no interest are ignored, `MalformedEvent` if unusable."""
    name = event.name
    if name == "CUSTOM":
        subclass = event.subclass
        if subclass == "sofia::register":
            owner, reg_key, contact = _registration(event)
            live.sip_register(owner, reg_key, contact)
        elif subclass in ("sofia::unregister", "sofia::expire"):
            owner, reg_key, contact = _registration(event)
            live.sip_unregister(owner, reg_key, contact)
        elif subclass == "verto::login":
            if event.get("verto_success") == "1":
                _verto(live, event, login=True)
        elif subclass == "verto::client_disconnect":
            _verto(live, event, login=False)
    elif name.startswith("CHANNEL_"):
        _channel(live, event)


def load_bootstrap(live: LiveState, registrations: str, channels: str) -> None:
    """Rebuild the state from the answers to REGISTRATIONS_COMMAND and CHANNELS_COMMAND."""
    live.reset()
    for row in json_rows(registrations, REGISTRATIONS_COMMAND):
        user, domain = row.get("reg_user", ""), row.get("realm", "")
        contact = contact_key(row.get("url", "").split("/", 2)[-1])
        reg_key = row.get("token", "") or contact
        if user and domain and reg_key:
            live.sip_register(user_key(domain, user), reg_key, contact)
    for row in json_rows(channels, CHANNELS_COMMAND):
        uuid = row.get("uuid", "")
        owner = _presence(row.get("presence_id", ""))
        if uuid and owner is not None:
            live.channel_up(
                uuid,
                owner,
                direction=row.get("direction", ""),
                created_us=_int(row.get("created_epoch")) * 1_000_000,
                answered=row.get("callstate", "") in _ANSWERED_STATES,
            )


def json_rows(body: str, command: str) -> list[dict[str, str]]:
    """The rows of a `show ... as json` answer (`{"row_count": 0}` when there are none)."""
    try:
        answer = json.loads(body)
    except ValueError:
        log.warning("FreeSWITCH answered %r with something else than JSON: %.80r", command, body)
        return []
    rows = answer.get("rows", []) if isinstance(answer, dict) else None
    if not isinstance(rows, list):
        log.warning("FreeSWITCH answered %r without a list of rows", command)
        return []
    return [
        {name: value for name, value in row.items() if isinstance(value, str)} for row in rows if isinstance(row, dict)
    ]


def contact_key(contact: str) -> str:
    """`"" <sip:2000@127.0.0.1:5071>;expires=60` and `sip:2000@127.0.0.1:5071` → `2000@127.0.0.1:5071`.

    Events carry the Contact header, `show registrations` a URL made from it: both must meet.
    """
    text = contact.strip()
    if "<" in text:
        text = text.partition("<")[2].partition(">")[0]
    text = text.partition(";")[0].strip().lower()
    for scheme in ("sip:", "sips:"):
        if text.startswith(scheme):
            return text[len(scheme) :]
    return text


def _registration(event: Event) -> tuple[UserKey, str, str]:
    # register/unregister name the AOR `from-user@from-host`; expire only `user@host`.
    user = event.get("from-user") or event.get("user")
    domain = event.get("from-host") or event.get("host")
    if not user or not domain:
        raise MalformedEvent("registration event without from-user/user or from-host/host")
    contact = contact_key(event.get("contact") or "")
    reg_key = event.get("call-id") or contact
    if not reg_key:
        raise MalformedEvent("registration event without call-id or contact")
    return user_key(domain, user), reg_key, contact


def _verto(live: LiveState, event: Event, *, login: bool) -> None:
    user, at, domain = (event.get("verto_login") or "").rpartition("@")
    if not at or not user or not domain:
        # A login without a domain relies on the profile's forced domain, which events don't name.
        log.debug("verto event without user@domain ignored")
        return
    client = event.get("verto_client_address") or event.get("verto_sessid") or ""
    if login:
        live.verto_login(user_key(domain, user), client)
    else:
        live.verto_logout(user_key(domain, user), client)


def _channel(live: LiveState, event: Event) -> None:
    uuid = event.get("Unique-ID")
    if not uuid:
        raise MalformedEvent(f"{event.name} without Unique-ID")
    if event.name == "CHANNEL_HANGUP_COMPLETE":
        live.channel_gone(uuid)
        return
    answered = event.name in ("CHANNEL_ANSWER", "CHANNEL_BRIDGE") or event.get("Answer-State") == "answered"
    live.channel_up(
        uuid,
        channel_owner(event),
        direction=event.get("Call-Direction") or "",
        created_us=_int(event.get("Caller-Channel-Created-Time")) or _int(event.get("Event-Date-Timestamp")),
        answered=answered,
    )
    if event.name == "CHANNEL_BRIDGE":
        for other in (event.get("Bridge-A-Unique-ID"), event.get("Bridge-B-Unique-ID")):
            if other:
                live.channel_answered(other)


def channel_owner(event: Event) -> UserKey | None:
    """The directory user a channel belongs to, if any.

    Inbound leg (the phone called us): the identity it authenticated with. Outbound leg (we
    called a user): the user dialed, or its presence id (group calls set only that).
    """
    if event.get("Call-Direction") == "inbound":
        return _pair(event.get("variable_user_name"), event.get("variable_domain_name")) or _pair(
            event.get("variable_sip_auth_username"), event.get("variable_sip_auth_realm")
        )
    return _pair(event.get("variable_dialed_user"), event.get("variable_dialed_domain")) or _presence(
        event.get("Channel-Presence-ID") or ""
    )


def _pair(user: str | None, domain: str | None) -> UserKey | None:
    return user_key(domain, user) if user and domain else None


def _presence(presence_id: str) -> UserKey | None:
    user, _, domain = presence_id.rpartition("@")
    return _pair(user, domain)


def _int(value: str | None) -> int:
    return int(value) if value is not None and value.isascii() and value.isdigit() else 0
