"""Variant switches of the GHL sandbox over real HTTP: task search and task events, tag case, the
duplicate lookup and error, custom-field nulls, notes and the contact's dateUpdated."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.integration


def _contact(api, **fields) -> str:
    response = api.post("/contacts/", json={"locationId": "loc1", **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["contact"]["id"])


def _task(api, contact_id: str, title: str, body: str = "details") -> str:
    response = api.post(
        f"/contacts/{contact_id}/tasks",
        json={"title": title, "body": body, "dueDate": "2030-01-01T00:00:00Z", "completed": False},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["task"]["id"])


def _task_search(api, **body) -> dict:
    response = api.post("/locations/loc1/tasks/search", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


# ---------------------------------------------------------------------------- task search


@pytest.fixture
def tasks(location_client):
    api = location_client("loc1")
    contact_id = _contact(api, email="t@example.com")
    task_ids = [_task(api, contact_id, f"Task {n}") for n in range(8)]
    return api, contact_id, task_ids


def test_task_search_max_limit_caps_silently(sandbox, tasks):
    api, _, task_ids = tasks
    assert len(_task_search(api, limit=5)["tasks"]) == 5
    sandbox.admin.variants("loc1", task_search={"max_limit": 3})
    page = _task_search(api, limit=5)
    assert len(page["tasks"]) == 3 and page["total"] == len(task_ids)


def test_task_search_order_stable_or_unstable(sandbox, tasks):
    api, _, task_ids = tasks
    stable = {tuple(t["id"] for t in _task_search(api, limit=50)["tasks"]) for _ in range(4)}
    assert stable == {tuple(task_ids)}  # creation order, every time
    sandbox.admin.variants("loc1", task_search={"order": "unstable"})
    orders = {tuple(t["id"] for t in _task_search(api, limit=50)["tasks"]) for _ in range(6)}
    assert len(orders) > 1 and all(sorted(order) == sorted(task_ids) for order in orders)


@pytest.mark.parametrize(
    ("contact_key", "expected"),
    [("contactId", "{cid}"), ("contactIds", ["{cid}"]), ("contact", {"id": "{cid}"}), (None, None)],
)
def test_task_search_contact_key(sandbox, tasks, contact_key, expected):
    api, contact_id, _ = tasks
    sandbox.admin.variants("loc1", task_search={"contact_key": contact_key})
    item = _task_search(api, limit=1)["tasks"][0]
    keys = {"contactId", "contactIds", "contact"} & set(item)
    if contact_key is None:
        assert keys == set()
    else:
        assert keys == {contact_key}
        rendered = str(expected).replace("{cid}", contact_id)
        assert str(item[contact_key]) == rendered


@pytest.mark.parametrize("body_key", ["body", "description", None])
def test_task_search_body_key(sandbox, tasks, body_key):
    api, _, _ = tasks
    sandbox.admin.variants("loc1", task_search={"body_key": body_key})
    item = _task_search(api, limit=1)["tasks"][0]
    assert {"body", "description"} & set(item) == ({body_key} if body_key else set())
    if body_key:
        assert item[body_key] == "details"


def test_task_event_contact_id_present_or_omitted(sandbox, location_client):
    api, other = location_client("loc1"), location_client("loc2")
    sandbox.admin.variants("loc1", task_event_contact_id="omitted")
    cid = _contact(api, email="e@example.com")
    task_id = _task(api, cid, "Call back")
    api.put(f"/contacts/{cid}/tasks/{task_id}/completed", json={"completed": True})
    api.delete(f"/contacts/{cid}/tasks/{task_id}")
    other_cid = other.post("/contacts/", json={"locationId": "loc2", "email": "o@example.com"}).json()[
        "contact"
    ]["id"]
    other.post(
        f"/contacts/{other_cid}/tasks",
        json={"title": "x", "dueDate": "2030-01-01T00:00:00Z", "completed": False},
    )
    events = [e for e in sandbox.admin.webhook_events() if e["type"].startswith("Task")]
    mine = [e for e in events if e["locationId"] == "loc1"]
    assert [e["type"] for e in mine] == ["TaskCreate", "TaskComplete", "TaskDelete"]
    assert all("contactId" not in e and e["id"] == task_id for e in mine)
    [theirs] = [e for e in events if e["locationId"] == "loc2"]
    assert theirs["contactId"] == other_cid
    assert api.get(f"/contacts/{cid}/tasks").json()["tasks"] == []


# ---------------------------------------------------------------------------- tags


def _tag_search(api, tag: str) -> int:
    body = {"locationId": "loc1", "filters": [{"field": "tags", "operator": "eq", "value": tag}]}
    return int(api.post("/contacts/search", json=body).json()["total"])


@pytest.mark.parametrize(
    ("store", "match", "stored", "found_by_upper", "after_removing_lower"),
    [
        ("lower", "insensitive", ["vip"], True, []),
        ("lower", "sensitive", ["vip"], False, []),
        ("preserve", "insensitive", ["VIP"], True, []),
        ("preserve", "sensitive", ["VIP", "vip"], True, ["VIP"]),
    ],
)
def test_tags_store_and_match(
    sandbox, location_client, store, match, stored, found_by_upper, after_removing_lower
):
    api = location_client("loc1")
    sandbox.admin.variants("loc1", tags={"store": store, "match": match})
    cid = _contact(api, email="tag@example.com")
    assert api.post(f"/contacts/{cid}/tags", json={"tags": ["VIP", "vip"]}).json()["tags"] == stored
    assert api.get(f"/contacts/{cid}").json()["contact"]["tags"] == stored
    assert (_tag_search(api, "VIP") == 1) is found_by_upper
    assert _tag_search(api, "vip") == (1 if match == "insensitive" or "vip" in stored else 0)
    removed = api.request("DELETE", f"/contacts/{cid}/tags", json={"tags": ["vip"]}).json()["tags"]
    assert removed == after_removing_lower


# ---------------------------------------------------------------------------- duplicate lookup and error


def test_duplicate_lookup_normalised_or_exact(sandbox, location_client):
    api = location_client("loc1")
    cid = _contact(api, email="ann@example.com", phone="+15551234567")

    def lookup(**query) -> str | None:
        params = {"locationId": "loc1", **query}
        found = api.get("/contacts/search/duplicate", params=params).json()["contact"]
        return found["id"] if found else None

    assert lookup(email="Ann@Example.com") == cid
    assert lookup(number="(555) 123-4567") == cid
    sandbox.admin.variants("loc1", duplicate_lookup_match="exact")
    assert lookup(email="Ann@Example.com") is None
    assert lookup(number="(555) 123-4567") is None
    assert lookup(email="ann@example.com") == cid
    assert lookup(number="+15551234567") == cid


@pytest.mark.parametrize(
    ("shape", "status", "has_meta", "message_is_list"),
    [
        ("meta", 400, True, False),
        ("no_meta", 400, False, False),
        ("409", 409, False, False),
        ("422", 422, False, True),
    ],
)
def test_duplicate_error_shape(sandbox, location_client, shape, status, has_meta, message_is_list):
    api = location_client("loc1")
    sandbox.admin.variants("loc1", duplicate_error=shape)
    first = _contact(api, email="dup@example.com")
    for attempt in (
        api.post("/contacts/", json={"locationId": "loc1", "email": "DUP@example.com"}),
        api.put(f"/contacts/{_contact(api, email='other@example.com')}", json={"email": "dup@example.com"}),
    ):
        assert attempt.status_code == status
        body = attempt.json()
        assert ("meta" in body) is has_meta
        if has_meta:
            assert body["meta"] == {"contactId": first, "matchingField": "email"}
        assert isinstance(body["message"], list) is message_is_list
        assert "duplicated contacts" in str(body["message"])
    assert len(sandbox.admin.state("loc1")["contacts"]) == 2  # nothing written


# ---------------------------------------------------------------------------- custom field null


@pytest.mark.parametrize(
    ("mode", "status", "after"), [("clears", 200, None), ("ignored", 200, "X"), ("422", 422, "X")]
)
def test_custom_field_null(sandbox, location_client, mode, status, after):
    api = location_client("loc1")
    sandbox.admin.variants("loc1", custom_field_null=mode)
    cid = _contact(api, email="cf@example.com", customFields=[{"id": "f1", "field_value": "X"}])
    update = api.put(f"/contacts/{cid}", json={"customFields": [{"id": "f1", "field_value": None}]})
    assert update.status_code == status
    fields = {f["id"]: f["value"] for f in api.get(f"/contacts/{cid}").json()["contact"]["customFields"]}
    assert fields.get("f1") == after
    # an empty string clears under every variant
    api.put(f"/contacts/{cid}", json={"customFields": [{"id": "f1", "field_value": ""}]})
    assert api.get(f"/contacts/{cid}").json()["contact"]["customFields"] == []


# ---------------------------------------------------------------------------- notes and dateUpdated


@pytest.mark.parametrize("bump", ["no", "yes"])
def test_notes_bump_contact_date_updated(sandbox, location_client, bump):
    api = location_client("loc1")
    sandbox.admin.variants("loc1", notes_bump_contact_date_updated=bump)
    cid = _contact(api, email="n@example.com")
    before = api.get(f"/contacts/{cid}").json()["contact"]["dateUpdated"]
    stamps = []
    time.sleep(0.01)
    note = api.post(f"/contacts/{cid}/notes", json={"body": "first"}).json()["note"]
    stamps.append(api.get(f"/contacts/{cid}").json()["contact"]["dateUpdated"])
    time.sleep(0.01)
    api.put(f"/contacts/{cid}/notes/{note['id']}", json={"body": "second"})
    stamps.append(api.get(f"/contacts/{cid}").json()["contact"]["dateUpdated"])
    time.sleep(0.01)
    api.delete(f"/contacts/{cid}/notes/{note['id']}")
    stamps.append(api.get(f"/contacts/{cid}").json()["contact"]["dateUpdated"])
    if bump == "no":
        assert stamps == [before] * 3
    else:
        assert before < stamps[0] < stamps[1] < stamps[2]
    moved = api.post(
        "/contacts/search",
        json={
            "locationId": "loc1",
            "filters": [{"field": "dateUpdated", "operator": "range", "value": {"gt": before}}],
        },
    ).json()["total"]
    assert moved == (1 if bump == "yes" else 0)  # incremental search sees the move, or not
