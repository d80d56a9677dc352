"""Live state from FreeSWITCH: who is registered and who is in a call, keyed by names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
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


class LiveState:
    def __init__(self) -> None:
        self.users: dict[tuple[str, str], UserLive] = {}

    def user(self, domain: str, user: str) -> UserLive:
        return self.users.get((key(domain), key(user)), IDLE)

    def regs_counter(self, domain: str) -> int:
        wanted = key(domain)
        return sum(1 for (dom, _), live in self.users.items() if dom == wanted and live.sip_register)

    def reset(self) -> None:
        self.users.clear()
