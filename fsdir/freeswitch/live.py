"""Live state from FreeSWITCH: who is registered and who is in a call, keyed by lower-cased names.

The state holds facts (registrations, verto sessions, channels); a user's visible fields are
recomputed from them after each change to that user, and the per-domain count of registered
users moves in the same step. The count is therefore O(1) to read and always equals what a
recount of the registrations would give, whatever order the events came in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# (domain, user), both lower-cased: FreeSWITCH compares them case-insensitively.
UserKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class UserLive:
    sip_register: bool = False
    verto_register: bool = False
    in_call: bool = False
    talking: bool = False
    call_date: int = 0
    last_uuid: str = ""
    call_direction: str = ""

    def fields(self) -> dict[str, object]:
        return {
            "call_date": self.call_date,
            "in_call": self.in_call,
            "talking": self.talking,
            "last_uuid": self.last_uuid,
            "call_direction": self.call_direction,
            "sip_register": self.sip_register,
            "verto_register": self.verto_register,
        }


IDLE = UserLive()


def key(name: str) -> str:
    """FreeSWITCH compares user and domain names case-insensitively."""
    return name.lower()


def user_key(domain: str, user: str) -> UserKey:
    return key(domain), key(user)


@dataclass(slots=True)
class Channel:
    owner: UserKey
    direction: str
    created_us: int
    answered: bool
    # Arrival order: breaks ties between channels created in the same microsecond.
    seq: int


class LiveState:
    def __init__(self) -> None:
        self._users: dict[UserKey, UserLive] = {}  # only users that are not idle
        self._sip: dict[UserKey, dict[str, str]] = {}  # registration key → contact
        self._verto: dict[UserKey, set[str]] = {}  # verto client addresses
        self._channels: dict[str, Channel] = {}  # by uuid
        self._user_channels: dict[UserKey, set[str]] = {}
        self._registered: dict[str, int] = {}  # domain → users with a SIP registration
        self._seq = 0
        self._dirty_users: set[UserKey] = set()
        self._dirty_domains: set[str] = set()

    # -- reading ------------------------------------------------------------------------

    def user(self, domain: str, user: str) -> UserLive:
        return self._users.get(user_key(domain, user), IDLE)

    def regs_counter(self, domain: str) -> int:
        return self._registered.get(key(domain), 0)

    def snapshot(self) -> dict[str, object]:
        """Every fact and every visible value, for comparing two states."""
        return {
            "users": dict(self._users),
            "registered": dict(self._registered),
            "sip": {owner: dict(regs) for owner, regs in self._sip.items()},
            "verto": {owner: set(clients) for owner, clients in self._verto.items()},
            "channels": {
                uuid: (ch.owner, ch.direction, ch.created_us, ch.answered) for uuid, ch in self._channels.items()
            },
        }

    @property
    def changed(self) -> bool:
        return bool(self._dirty_users or self._dirty_domains)

    def take_changes(self) -> tuple[set[UserKey], set[str]]:
        """Users whose fields and domains whose counter changed since the last call."""
        users, domains = self._dirty_users, self._dirty_domains
        self._dirty_users, self._dirty_domains = set(), set()
        return users, domains

    # -- registrations ------------------------------------------------------------------

    def sip_register(self, owner: UserKey, reg_key: str, contact: str) -> None:
        """A registration, new or refreshed. A phone re-registering with a new call-id
        keeps its contact, so the same contact replaces its old entry."""
        regs = self._sip.setdefault(owner, {})
        if contact:
            for stale in [k for k, c in regs.items() if c == contact and k != reg_key]:
                del regs[stale]
        regs[reg_key] = contact
        self._refresh(owner)

    def sip_unregister(self, owner: UserKey, reg_key: str, contact: str) -> None:
        """Remove the registrations with that key or contact (`*` removes them all)."""
        regs = self._sip.get(owner)
        if not regs:
            return
        if contact == "*":
            regs.clear()
        for gone in [k for k, c in regs.items() if k == reg_key or (contact and c == contact)]:
            del regs[gone]
        if not regs:
            del self._sip[owner]
        self._refresh(owner)

    def verto_login(self, owner: UserKey, client: str) -> None:
        self._verto.setdefault(owner, set()).add(client)
        self._refresh(owner)

    def verto_logout(self, owner: UserKey, client: str) -> None:
        sessions = self._verto.get(owner)
        if sessions is None:
            return
        sessions.discard(client)
        if not sessions:
            del self._verto[owner]
        self._refresh(owner)

    # -- channels -----------------------------------------------------------------------

    def channel_up(self, uuid: str, owner: UserKey | None, *, direction: str, created_us: int, answered: bool) -> None:
        """A channel seen (created, answered, bridged...). It keeps the owner it was first
        seen with: later events of an inbound leg name the dialed user too."""
        if uuid in self._channels:
            if answered:
                self.channel_answered(uuid)
            return
        if owner is None:
            return
        self._seq += 1
        self._channels[uuid] = Channel(owner, direction, created_us, answered, self._seq)
        self._user_channels.setdefault(owner, set()).add(uuid)
        self._refresh(owner)

    def channel_answered(self, uuid: str) -> None:
        channel = self._channels.get(uuid)
        if channel is not None and not channel.answered:
            channel.answered = True
            self._refresh(channel.owner)

    def channel_gone(self, uuid: str) -> None:
        channel = self._channels.pop(uuid, None)
        if channel is None:
            return
        uuids = self._user_channels[channel.owner]
        uuids.discard(uuid)
        if not uuids:
            del self._user_channels[channel.owner]
        self._refresh(channel.owner)

    # -- everything ---------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything (every user that was not idle, and every counter, changes)."""
        self._dirty_users |= self._users.keys()
        self._dirty_domains |= self._registered.keys()
        self._users.clear()
        self._sip.clear()
        self._verto.clear()
        self._channels.clear()
        self._user_channels.clear()
        self._registered.clear()

    def _refresh(self, owner: UserKey) -> None:
        live = UserLive(sip_register=bool(self._sip.get(owner)), verto_register=bool(self._verto.get(owner)))
        uuids = self._user_channels.get(owner)
        if uuids:
            channels = [(self._channels[uuid], uuid) for uuid in uuids]
            latest, latest_uuid = max(channels, key=lambda item: (item[0].created_us, item[0].seq))
            live = replace(
                live,
                in_call=True,
                talking=any(channel.answered for channel, _ in channels),
                call_date=latest.created_us // 1_000_000,
                last_uuid=latest_uuid,
                call_direction=latest.direction,
            )
        old = self._users.get(owner, IDLE)
        if live == old:
            return
        if live == IDLE:
            del self._users[owner]
        else:
            self._users[owner] = live
        self._dirty_users.add(owner)
        if live.sip_register != old.sip_register:
            domain = owner[0]
            count = self._registered.get(domain, 0) + (1 if live.sip_register else -1)
            if count:
                self._registered[domain] = count
            else:
                del self._registered[domain]
            self._dirty_domains.add(domain)
