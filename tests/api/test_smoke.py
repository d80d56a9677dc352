from __future__ import annotations

from tests.conftest import Api


def test_add_and_list_domain(api: Api) -> None:
    added = api.ok("[Domains][Add] Domain", {"name": "new-domain"})
    [(key, domain)] = added["domains"].items()
    assert domain == {"id": int(key), "enabled": True, "name": "new-domain", "sip_regs_counter": 0}
    listed = api.ok("[Domains][Get] Domains")
    assert listed["domains"] == added["domains"]
