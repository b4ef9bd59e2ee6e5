"""Fault injection of the GHL sandbox: status faults, slow and dropped answers, "422 but created"."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_path_scoped_status_faults(sandbox, location_client):
    api = location_client("loc1")
    cid = api.post("/contacts/", json={"locationId": "loc1"}).json()["contact"]["id"]
    sandbox.admin.faults(rate503=1.0, paths=["GET /contacts/{contactId}"])
    failed = api.get(f"/contacts/{cid}")
    assert failed.status_code == 503 and failed.json()["traceId"]
    assert api.get(f"/contacts/{cid}/tasks").status_code == 200  # other routes untouched
    # admin endpoints and consent are never faulted
    sandbox.admin.faults(rate500=1.0)
    assert sandbox.admin.stats()["faultsInjected"]["503"] == 1
    consent = httpx.get(
        f"{sandbox.url}/oauth/chooselocation",
        params={
            "client_id": sandbox.config.client_id,
            "redirect_uri": "https://a.example/cb",
            "locationId": "loc1",
        },
    )
    assert consent.status_code == 302
    assert api.get(f"/contacts/{cid}").status_code == 500
    sandbox.admin.clear_faults()
    assert api.get(f"/contacts/{cid}").status_code == 200


def test_faults_are_reproducible_with_a_seed(sandbox, location_client):
    api = location_client("loc1", rate_limit={"max": 1000, "intervalMs": 10000, "daily": 100000})

    def run() -> list[int]:
        sandbox.admin.faults(rate429=0.2, rate500=0.1, rate502=0.1, seed=42)
        return [api.get("/contacts/", params={"locationId": "loc1"}).status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert {429, 500, 502, 200} <= set(first)
    assert sandbox.admin.stats()["responses429"] == 2 * first.count(429)


def test_drop_closes_the_connection_without_applying(sandbox, location_client):
    api = location_client("loc1")
    sandbox.admin.faults(rate_drop=1.0, paths=["POST /contacts/"])
    with pytest.raises(httpx.TransportError):
        api.post("/contacts/", json={"locationId": "loc1", "email": "drop@example.com"})
    sandbox.admin.clear_faults()
    assert sandbox.admin.state("loc1")["contacts"] == []


def test_slow_answer_times_out_but_the_write_happened(sandbox, location_client):
    api = location_client("loc1")
    sandbox.admin.faults(rate_slow=1.0, slow_seconds=0.6, paths=["POST /contacts/"])
    with pytest.raises(httpx.ReadTimeout):
        api.post("/contacts/", json={"locationId": "loc1", "email": "slow@example.com"}, timeout=0.2)
    assert [c["email"] for c in sandbox.admin.state("loc1")["contacts"]] == ["slow@example.com"]


def test_422_but_created(sandbox, location_client):
    api = location_client("loc1")
    sandbox.admin.faults(rate422_created=1.0)
    answer = api.post("/contacts/", json={"locationId": "loc1", "email": "ghost@example.com"})
    assert answer.status_code == 422 and answer.json()["message"] == ["Unprocessable Entity"]
    # reads are not create routes: never "422 but created"
    assert api.get("/contacts/", params={"locationId": "loc1"}).status_code == 200
    sandbox.admin.clear_faults()
    dup = api.get("/contacts/search/duplicate", params={"locationId": "loc1", "email": "ghost@example.com"})
    assert dup.json()["contact"]["email"] == "ghost@example.com"
