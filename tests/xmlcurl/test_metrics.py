"""GET /metrics: lookups by kind and outcome, latency, cache hits and misses, refusals."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from fsdir.app import create_app
from fsdir.config import Settings
from tests.xmlcurl.conftest import recorded_app
from tests.xmlcurl.helpers import FORM, PATH, domain_body, lookup, sip_auth_body


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_lookups_are_counted(settings: Settings) -> None:
    with recorded_app(replace(settings, xmlcurl_user="fs", xmlcurl_password="pw")) as (client, _):
        auth = {**FORM, "Authorization": "Basic ZnM6cHc="}  # fs:pw
        for _ in range(3):
            assert client.post(PATH, content=sip_auth_body("2000", "xmlcurl.test"), headers=auth).status_code == 200
        client.post(PATH, content=sip_auth_body("9999", "xmlcurl.test"), headers=auth)
        client.post(PATH, content=domain_body("unknown.example"), headers=auth)
        client.post(PATH, content="section=dialplan", headers=auth)
        assert client.post(PATH, content=sip_auth_body("2000", "xmlcurl.test"), headers=FORM).status_code == 401
        values = samples(client)
    with TestClient(create_app(settings), client=("192.0.2.1", 1)) as outsider:
        assert outsider.post(PATH, content="section=directory", headers=FORM).status_code == 403
        assert samples(outsider)[("fsdir_xmlcurl_refused_total", (("status", "403"),))] == 1

    def lookups(kind: str, outcome: str) -> float:
        return values[("fsdir_xmlcurl_lookups_total", (("kind", kind), ("outcome", outcome)))]

    assert lookups("user", "found") == 3
    assert lookups("user", "not_found") == 1
    assert lookups("domain", "not_found") == 1
    assert lookups("other", "not_found") == 1
    assert lookups("unknown", "refused") == 1
    assert values[("fsdir_xmlcurl_refused_total", (("status", "401"),))] == 1
    assert values[("fsdir_xmlcurl_cache_misses_total", ())] == 3
    assert values[("fsdir_xmlcurl_cache_hits_total", ())] == 2
    assert values[("fsdir_xmlcurl_lookup_seconds_count", ())] == 7
    assert values[("fsdir_xmlcurl_lookup_seconds_bucket", (("le", "+Inf"),))] == 7
    assert values[("fsdir_xmlcurl_cache_entries", ())] == 3
    assert values[("process_resident_memory_bytes", ())] > 0


def test_metrics_need_no_lookup(fs: TestClient) -> None:
    lookup(fs, "section=configuration")
    assert samples(fs)[("fsdir_xmlcurl_lookups_total", (("kind", "other"), ("outcome", "not_found")))] == 1
