"""Rate limits, duplicate rules, upsert matching and search paging of the GHL sandbox."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.integration

RATE_HEADERS = (
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
)


def test_burst_window_headers_and_429(sandbox, location_client):
    api = location_client("loc1", rate_limit={"max": 5, "intervalMs": 400, "daily": 1000})
    other = location_client("loc2", rate_limit={"max": 5, "intervalMs": 400, "daily": 1000})
    remaining = []
    for _ in range(5):
        response = api.get("/contacts/", params={"locationId": "loc1"})
        assert response.status_code == 200
        assert all(h in response.headers for h in RATE_HEADERS)
        assert response.headers["X-RateLimit-Max"] == "5"
        assert response.headers["X-RateLimit-Interval-Milliseconds"] == "400"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    limited = api.get("/contacts/", params={"locationId": "loc1"})
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Remaining"] == "0" and limited.json()["traceId"]
    # budgets are per location
    assert other.get("/contacts/", params={"locationId": "loc2"}).status_code == 200
    time.sleep(0.45)
    assert api.get("/contacts/", params={"locationId": "loc1"}).status_code == 200
    stats = sandbox.admin.stats()
    assert stats["responses429"] == 1
    assert stats["byLocation"] == {"loc1": 7, "loc2": 1}
    assert stats["requests"]["GET /contacts/"] == 8


def test_daily_cap(location_client):
    api = location_client("loc1", rate_limit={"max": 100, "intervalMs": 10000, "daily": 3})
    statuses = [api.get("/contacts/", params={"locationId": "loc1"}) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert statuses[2].headers["X-RateLimit-Daily-Remaining"] == "0"
    assert statuses[0].headers["X-RateLimit-Limit-Daily"] == "3"


def test_sliding_window_option(sandbox, location_client):
    sandbox.admin.config(rate_limit_algorithm="sliding")
    api = location_client("loc1", rate_limit={"max": 2, "intervalMs": 300, "daily": 100})
    assert [api.get("/contacts/", params={"locationId": "loc1"}).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]


def test_duplicate_rules_on_create(location_client):
    api = location_client("loc1")
    a = api.post("/contacts/", json={"locationId": "loc1", "email": "Same@Example.com"}).json()["contact"]
    b = api.post("/contacts/", json={"locationId": "loc1", "phone": "+1 (555) 222-3333"}).json()["contact"]
    dup_email = api.post("/contacts/", json={"locationId": "loc1", "email": "same@example.COM"})
    assert dup_email.status_code == 400
    assert dup_email.json()["message"] == "This location does not allow duplicated contacts."
    assert dup_email.json()["meta"] == {"contactId": a["id"], "matchingField": "email"}
    dup_phone = api.post("/contacts/", json={"locationId": "loc1", "phone": "5552223333"})
    assert dup_phone.json()["meta"] == {"contactId": b["id"], "matchingField": "phone"}
    # both match: the configured priority decides which one is reported
    both = {"locationId": "loc1", "email": "same@example.com", "phone": "555-222-3333"}
    assert api.post("/contacts/", json=both).json()["meta"]["matchingField"] == "email"
    # an update into another contact's email is a duplicate too
    assert api.put(f"/contacts/{b['id']}", json={"email": "SAME@example.com"}).status_code == 400
    dup = api.get("/contacts/search/duplicate", params={"locationId": "loc1", "number": "+15552223333"})
    assert dup.json()["contact"]["id"] == b["id"]
    none = api.get("/contacts/search/duplicate", params={"locationId": "loc1", "email": "nobody@example.com"})
    assert none.json() == {"contact": None}


def test_phone_priority_and_allowed_duplicates(location_client):
    api = location_client("loc1", duplicate_priority=["phone", "email"])
    api.post("/contacts/", json={"locationId": "loc1", "email": "x@example.com"})
    api.post("/contacts/", json={"locationId": "loc1", "phone": "+15550001111"})
    both = api.post(
        "/contacts/", json={"locationId": "loc1", "email": "x@example.com", "phone": "+15550001111"}
    )
    assert both.json()["meta"]["matchingField"] == "phone"

    lax = location_client("loc2", allow_duplicates=True)
    for _ in range(2):
        assert (
            lax.post("/contacts/", json={"locationId": "loc2", "email": "d@example.com"}).status_code == 201
        )


def test_upsert_rules(location_client):
    api = location_client("loc1")
    fresh = api.post(
        "/contacts/upsert", json={"locationId": "loc1", "email": "u@example.com", "firstName": "U"}
    )
    assert fresh.status_code == 200
    assert fresh.json()["new"] is True and fresh.json()["traceId"]
    uid = fresh.json()["contact"]["id"]
    again = api.post(
        "/contacts/upsert", json={"locationId": "loc1", "email": "U@EXAMPLE.com", "lastName": "V"}
    )
    assert again.json()["new"] is False and again.json()["contact"]["id"] == uid
    assert again.json()["contact"]["lastName"] == "V" and again.json()["contact"]["firstName"] == "U"

    # email matches U, phone matches P: U is updated, the phone is silently ignored, P untouched
    p = api.post("/contacts/", json={"locationId": "loc1", "phone": "+15559998888"}).json()["contact"]
    split = api.post(
        "/contacts/upsert",
        json={"locationId": "loc1", "email": "u@example.com", "phone": "+15559998888", "city": "Oslo"},
    ).json()
    assert split["new"] is False and split["contact"]["id"] == uid
    assert split["contact"]["city"] == "Oslo" and "phone" not in split["contact"]
    assert api.get(f"/contacts/{p['id']}").json()["contact"]["phone"] == "+15559998888"


def test_upsert_create_new_if_duplicate_allowed(location_client):
    api = location_client("loc1", allow_duplicates=True)
    first = api.post("/contacts/upsert", json={"locationId": "loc1", "email": "a@example.com"}).json()
    matched = api.post("/contacts/upsert", json={"locationId": "loc1", "email": "a@example.com"}).json()
    assert matched["new"] is False and matched["contact"]["id"] == first["contact"]["id"]
    forced = api.post(
        "/contacts/upsert",
        json={"locationId": "loc1", "email": "a@example.com", "createNewIfDuplicateAllowed": True},
    ).json()
    assert forced["new"] is True and forced["contact"]["id"] != first["contact"]["id"]


def _search(api, **body):
    return api.post("/contacts/search", json={"locationId": "loc1", **body})


def test_search_paging_window_and_search_after(sandbox, location_client):
    api = location_client("loc1")
    sandbox.admin.config(max_search_window=50)
    ids = sandbox.admin.seed("loc1", 120)
    by_updated = [{"field": "dateUpdated", "direction": "asc"}]
    assert _search(api, pageLimit=25, page=2, sort=by_updated).status_code == 200
    too_far = _search(api, pageLimit=25, page=3, sort=by_updated)
    assert too_far.status_code == 400 and "searchAfter" in too_far.json()["message"]
    assert _search(api, pageLimit=501).status_code == 422

    seen: list[str] = []
    cursor = None
    while True:
        body = {"pageLimit": 25, "sort": by_updated, **({"searchAfter": cursor} if cursor else {})}
        page = _search(api, **body).json()
        assert page["total"] == 120
        if not page["contacts"]:
            break
        seen += [c["id"] for c in page["contacts"]]
        cursor = page["contacts"][-1]["searchAfter"]
        assert len(cursor) == 2 and isinstance(cursor[0], int) and cursor[1] == page["contacts"][-1]["id"]
    assert seen == ids  # seeded with increasing timestamps: exact order, nothing twice

    # an edit moves the contact to the end of a dateUpdated sort and into a range filter
    sandbox.admin.edit("loc1", "contact", ids[0], {"city": "Paris"})
    last = _search(api, pageLimit=1, sort=[{"field": "dateUpdated", "direction": "desc"}]).json()["contacts"][
        0
    ]
    assert last["id"] == ids[0] and last["city"] == "Paris"
    recent = _search(
        api,
        pageLimit=50,
        filters=[{"field": "dateUpdated", "operator": "range", "value": {"gte": last["dateUpdated"]}}],
    ).json()
    assert [c["id"] for c in recent["contacts"]] == [ids[0]]
    email = api.get(f"/contacts/{ids[5]}").json()["contact"]["email"]
    hit = _search(api, filters=[{"field": "email", "operator": "eq", "value": email.upper()}]).json()
    assert hit["total"] == 1 and hit["contacts"][0]["id"] == ids[5]


def test_search_index_lag(sandbox, location_client):
    api = location_client("loc1")
    sandbox.admin.config(search_index_lag_s=0.3)
    created = api.post("/contacts/", json={"locationId": "loc1", "email": "lag@example.com"})
    assert created.status_code == 201
    assert _search(api).json()["total"] == 0  # not indexed yet
    assert api.get(f"/contacts/{created.json()['contact']['id']}").status_code == 200  # reads are immediate
    deadline = time.monotonic() + 5
    while _search(api).json()["total"] == 0:
        assert time.monotonic() < deadline, "search never caught up"
        time.sleep(0.05)
