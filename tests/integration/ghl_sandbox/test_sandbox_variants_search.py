"""Variant switches of the GHL sandbox, over real HTTP: the admin API itself, and contact search
(search_order, search_cursor, search lag with jitter)."""

from __future__ import annotations

import time

import pytest
from rankr_ghl_tools.ghl_sandbox import SWITCHES, GHLSandbox, SandboxAdminError, SandboxConfig, pick_variants

pytestmark = pytest.mark.integration

BY_ID = [{"field": "id", "direction": "asc"}]
BY_DATE_ADDED = [{"field": "dateAdded", "direction": "asc"}]


def _id_sorted(ids: list[str]) -> list[str]:
    """The sandbox's collation for a sort by id (the "id" variant): case-insensitive, ties by id."""
    return sorted(ids, key=lambda i: (i.lower(), i))


def _search(api, **body):
    return api.post("/contacts/search", json={"locationId": "loc1", "pageLimit": 100, **body})


def _ids(api, **body) -> list[str]:
    response = _search(api, **body)
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["contacts"]]


# ---------------------------------------------------------------------------- the admin API


def test_defaults_are_the_original_behaviour_and_reported(sandbox):
    view = sandbox.admin.get_variants()
    assert view["global"] == {} and view["locations"] == {}
    effective = view["effective"]
    assert effective["search_order"] == "id" and effective["search_cursor"] == "per_contact"
    assert effective["tags"] == {"store": "lower", "match": "insensitive"}
    assert effective["task_search"] == {
        "max_limit": None,
        "order": "stable",
        "contact_key": "contactId",
        "body_key": "body",
    }
    assert effective["scope_denied"] == 401 and effective["wire_format"] == "compact"
    assert effective["duplicate_error"] == "meta" and effective["custom_field_null"] == "clears"
    assert effective["notes_bump_contact_date_updated"] == "no"
    assert effective["daily_reset_utc"] == "00:00"


def test_location_overrides_global_and_resets(sandbox):
    admin = sandbox.admin
    admin.variants(search_order="ignored", tags={"store": "preserve"})
    view = admin.variants("L1", search_order="shuffled", tags={"match": "sensitive"})
    assert view["effective"]["search_order"] == "shuffled"
    assert view["effective"]["tags"] == {"store": "preserve", "match": "sensitive"}  # merged with global
    assert admin.get_variants("L2")["effective"]["search_order"] == "ignored"
    assert admin.get_variants()["locations"] == {
        "L1": {"search_order": "shuffled", "tags": {"match": "sensitive"}}
    }

    assert admin.reset_variants("L1")["effective"]["search_order"] == "ignored"
    assert admin.reset_variants()["effective"]["search_order"] == "id"
    admin.variants("L1", duplicate_error="409")
    admin.reset()  # the full sandbox reset drops the switches too
    assert admin.get_variants("L1")["effective"]["duplicate_error"] == "meta"


@pytest.mark.parametrize(
    "switches",
    [
        {"search_order": "alphabetical"},
        {"no_such_switch": 1},
        {"tags": {"store": "upper"}},
        {"tags": "lower"},
        {"task_search": {"max_limit": 0}},
        {"daily_reset_utc": "25:00"},
        {"scope_denied": 404},
        {"search_lag_s": -1},
    ],
)
def test_invalid_switches_are_refused_and_change_nothing(sandbox, switches):
    with pytest.raises(SandboxAdminError) as refused:
        sandbox.admin.variants("L1", **{"wire_format": "pretty", **switches})
    assert refused.value.status == 400
    assert sandbox.admin.get_variants()["locations"] == {}


def test_pick_variants_is_seeded_and_accepted_by_the_sandbox(sandbox):
    picks = [pick_variants(seed) for seed in range(6)]
    assert picks[0] == pick_variants(0)
    assert len({repr(p) for p in picks}) > 1  # different seeds, different picks
    for pick in picks:
        effective = sandbox.admin.variants(**pick)["effective"]
        assert {k: effective[k] for k in pick} == pick
    assert {s.name.split(".")[0] for s in SWITCHES} == set(picks[0])


def test_initial_variants_from_config_survive_a_reset():
    config = SandboxConfig(variants={"search_order": "ignored", "tags": {"match": "sensitive"}})
    with GHLSandbox(config) as sandbox:
        sandbox.admin.variants(search_order="shuffled")
        sandbox.admin.reset_variants()
        effective = sandbox.admin.get_variants()["effective"]
        assert effective["search_order"] == "ignored" and effective["tags"]["match"] == "sensitive"


# ---------------------------------------------------------------------------- search_order


@pytest.fixture
def seeded(sandbox, location_client):
    api = location_client("loc1")
    ids = sandbox.admin.seed("loc1", 12)  # distinct, increasing dateAdded
    assert _id_sorted(ids) not in (ids, ids[::-1]), "seeded ids happen to be sorted: reseed"
    return api, ids


def test_search_order_id_honours_a_sort_by_id(seeded):
    api, ids = seeded
    assert _ids(api, sort=BY_ID) == _id_sorted(ids)
    assert _ids(api, sort=BY_DATE_ADDED) == ids


def test_search_order_documented_drops_the_undocumented_id_sort(sandbox, seeded):
    api, ids = seeded
    sandbox.admin.variants("loc1", search_order="documented")
    assert _ids(api, sort=BY_ID) == ids[::-1]  # falls back to the default, dateAdded descending
    assert _ids(api, sort=BY_DATE_ADDED) == ids  # a documented field is still honoured


def test_search_order_ignored_is_stable_arbitrary_and_pages_completely(sandbox, seeded):
    api, ids = seeded
    sandbox.admin.variants("loc1", search_order="ignored")
    order = _ids(api, sort=BY_ID)
    assert order == _ids(api, sort=BY_DATE_ADDED) == _ids(api)  # whatever was asked for
    assert sorted(order) == sorted(ids) and order not in (_id_sorted(ids), ids, ids[::-1])
    seen: list[str] = []
    cursor = None
    while True:
        page = _search(api, pageLimit=5, **({"searchAfter": cursor} if cursor else {})).json()
        if not page["contacts"]:
            break
        seen += [c["id"] for c in page["contacts"]]
        cursor = page["contacts"][-1]["searchAfter"]
    assert seen == order


def test_search_order_shuffled_keeps_pages_but_not_their_order(sandbox, seeded):
    api, ids = seeded
    sandbox.admin.variants("loc1", search_order="shuffled")
    first_page = _id_sorted(ids)[:6]
    orders = {tuple(_ids(api, sort=BY_ID, pageLimit=6)) for _ in range(8)}
    assert all(sorted(order) == sorted(first_page) for order in orders)  # the same members
    assert len(orders) > 1  # in a different order from call to call


def test_search_order_is_per_location(sandbox, seeded, location_client):
    api, ids = seeded
    sandbox.admin.variants("other", search_order="ignored")
    assert _ids(api, sort=BY_ID) == _id_sorted(ids)


# ---------------------------------------------------------------------------- search_cursor


def test_search_cursor_top_level_and_none(sandbox, seeded):
    api, ids = seeded
    per_contact = _search(api, sort=BY_ID, pageLimit=5).json()
    assert all("searchAfter" in c for c in per_contact["contacts"]) and "searchAfter" not in per_contact

    sandbox.admin.variants("loc1", search_cursor="top_level")
    seen: list[str] = []
    body: dict = {"sort": BY_ID, "pageLimit": 5}
    while True:
        page = _search(api, **body).json()
        assert all("searchAfter" not in c for c in page["contacts"])
        if not page["contacts"]:
            assert "searchAfter" not in page
            break
        seen += [c["id"] for c in page["contacts"]]
        last = page["contacts"][-1]["id"]
        assert page["searchAfter"] == [last.lower(), last]
        body["searchAfter"] = page["searchAfter"]
    assert seen == _id_sorted(ids)

    sandbox.admin.variants("loc1", search_cursor="none")
    page = _search(api, sort=BY_ID, pageLimit=5).json()
    assert "searchAfter" not in page and all("searchAfter" not in c for c in page["contacts"])
    # a cursor the client derives from the sort values it sent still pages on
    last = page["contacts"][-1]["id"]
    assert _ids(api, sort=BY_ID, pageLimit=5, searchAfter=[last.lower(), last]) == _id_sorted(ids)[5:10]


def test_shuffled_pages_make_the_last_contacts_cursor_unreliable(sandbox, seeded):
    api, ids = seeded
    sandbox.admin.variants("loc1", search_order="shuffled", search_cursor="top_level")
    for _ in range(5):
        page = _search(api, sort=BY_ID, pageLimit=6).json()
        assert page["searchAfter"] == [
            _id_sorted(ids)[5].lower(),
            _id_sorted(ids)[5],
        ]  # the true end of the page


# ---------------------------------------------------------------------------- search lag


def _wait_visible(api, total: int, timeout: float = 5.0) -> float:
    started = time.monotonic()
    while _search(api).json()["total"] < total:
        assert time.monotonic() - started < timeout, "search never caught up"
        time.sleep(0.02)
    return time.monotonic() - started


def test_search_lag_per_location(sandbox, location_client):
    lagging, prompt = location_client("loc1"), location_client("loc2")
    sandbox.admin.variants("loc1", search_lag_s=0.4)
    lagging.post("/contacts/", json={"locationId": "loc1", "email": "lag@example.com"})
    prompt.post("/contacts/", json={"locationId": "loc2", "email": "now@example.com"})
    assert _search(lagging).json()["total"] == 0
    assert prompt.post("/contacts/search", json={"locationId": "loc2"}).json()["total"] == 1
    assert _wait_visible(lagging, 1) > 0.2


def test_search_lag_jitter_delays_within_its_bound(sandbox, location_client):
    api = location_client("loc1")
    sandbox.admin.variants("loc1", search_lag_s=0.2, search_lag_jitter_s=0.6)
    for n in range(5):
        api.post("/contacts/", json={"locationId": "loc1", "email": f"j{n}@example.com"})
    assert _search(api).json()["total"] == 0
    assert _wait_visible(api, 5) < 0.2 + 0.6 + 2.0
