"""Resource API of the GHL sandbox over real HTTP: shapes, status codes, auth and Version checks."""

from __future__ import annotations

import re

import httpx
import pytest
from ghl_sandbox_helpers import CALENDARS_VERSION, api_client

pytestmark = pytest.mark.integration

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PLAIN = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def test_contact_crud_shapes_and_status_codes(location_client):
    api = location_client("loc1")
    created = api.post(
        "/contacts/",
        json={
            "locationId": "loc1",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "Ada@Example.com",
            "phone": "(555) 010-2000",
            "tags": ["VIP", "vip", "lead"],
            "customFields": [{"key": "favourite_color", "field_value": "blue"}],
        },
    )
    assert created.status_code == 201
    assert created.headers["x-trace-id"]
    contact = created.json()["contact"]
    assert contact["emailLowerCase"] == "ada@example.com"
    assert contact["phone"] == "+15550102000"
    assert contact["tags"] == ["vip", "lead"]
    assert contact["deleted"] is False
    assert ISO_MS.match(contact["dateAdded"]) and contact["dateAdded"] == contact["dateUpdated"]
    [custom] = contact["customFields"]
    assert set(custom) == {"id", "value"} and custom["value"] == "blue"

    fetched = api.get(f"/contacts/{contact['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["contact"]["customFields"] == [custom]

    updated = api.put(
        f"/contacts/{contact['id']}",
        json={"city": "London", "customFields": [{"id": custom["id"], "field_value": "red"}]},
    )
    assert updated.status_code == 200
    body = updated.json()
    assert body["succeded"] is True
    assert body["contact"]["city"] == "London"
    assert body["contact"]["customFields"] == [{"id": custom["id"], "value": "red"}]
    assert body["contact"]["dateUpdated"] > contact["dateUpdated"]

    # PUT tags overwrite; POST/DELETE tags add/remove and report the full list
    assert api.post(f"/contacts/{contact['id']}/tags", json={"tags": ["new"]}).json() == {
        "tags": ["vip", "lead", "new"]
    }
    removed = api.request("DELETE", f"/contacts/{contact['id']}/tags", json={"tags": ["vip"]})
    assert removed.status_code == 200 and removed.json() == {"tags": ["lead", "new"]}

    deleted = api.delete(f"/contacts/{contact['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"succeded": True}
    missing = api.get(f"/contacts/{contact['id']}")
    assert missing.status_code == 404
    assert missing.json()["traceId"] == missing.headers["x-trace-id"]


def test_validation_errors_are_422_with_message_lists(location_client):
    api = location_client("loc1")
    bad = api.post(
        "/contacts/", json={"locationId": "loc1", "additionalEmails": ["x@y.z"], "tags": "notalist"}
    )
    assert bad.status_code == 422
    assert "property additionalEmails should not exist" in bad.json()["message"]
    cid = api.post("/contacts/", json={"locationId": "loc1", "firstName": "A"}).json()["contact"]["id"]
    # UpdateContactDto has no companyName/locationId
    put = api.put(f"/contacts/{cid}", json={"companyName": "Acme"})
    assert put.status_code == 422
    assert put.json()["message"] == ["property companyName should not exist"]
    task = api.post(f"/contacts/{cid}/tasks", json={"title": "no due date"})
    assert task.status_code == 422
    assert "completed should not be empty" in task.json()["message"]
    assert (
        api.post("/contacts/", content=b"{not json", headers={"Content-Type": "application/json"}).status_code
        == 400
    )


def test_version_header_and_bearer_checks(sandbox, location_client):
    api = location_client("loc1")
    cid = api.post("/contacts/", json={"locationId": "loc1"}).json()["contact"]["id"]
    no_version = httpx.get(
        f"{sandbox.url}/contacts/{cid}", headers={"Authorization": api.headers["Authorization"]}
    )
    assert no_version.status_code == 400 and "version" in no_version.json()["message"].lower()
    wrong_version = api.get(f"/contacts/{cid}", headers={"Version": "2021-04-15"})
    assert wrong_version.status_code == 400
    assert httpx.get(f"{sandbox.url}/contacts/{cid}", headers={"Version": "2021-07-28"}).status_code == 401
    bogus = api.get(f"/contacts/{cid}", headers={"Authorization": "Bearer nope"})
    assert bogus.status_code == 401 and bogus.json()["error"] == "Unauthorized"

    # a token of another location: 403 on its records and on its locationId
    other = location_client("loc2")
    assert other.get(f"/contacts/{cid}").status_code == 403
    assert other.post("/contacts/", json={"locationId": "loc1"}).status_code == 403
    assert other.post("/contacts/search", json={"locationId": "loc1"}).status_code == 403
    assert other.post("/locations/loc1/tasks/search", json={}).status_code == 403

    # an agency token cannot call location resources
    sandbox.admin.create_location("loc3", company_id="agency1")
    company_token = sandbox.admin.tokens(company_id="agency1")["access_token"]
    with api_client(sandbox, company_token) as agency:
        assert agency.get(f"/contacts/{cid}").status_code == 401

    # expired tokens are refused
    assert sandbox.admin.expire_tokens(location_id="loc1") >= 1
    assert api.get(f"/contacts/{cid}").status_code == 401


def test_tasks_notes_and_task_search(location_client):
    api = location_client("loc1")
    cid = api.post("/contacts/", json={"locationId": "loc1", "email": "t@example.com"}).json()["contact"][
        "id"
    ]
    created = api.post(
        f"/contacts/{cid}/tasks",
        json={"title": "Call", "body": "b", "dueDate": "2030-01-02T03:04:05Z", "completed": False},
    )
    assert created.status_code == 201
    task = created.json()["task"]
    assert set(task) == {"id", "title", "body", "dueDate", "completed", "contactId"}
    assert task["dueDate"] == "2030-01-02T03:04:05.000Z"
    assert api.get(f"/contacts/{cid}/tasks").json() == {"tasks": [task]}
    assert api.get(f"/contacts/{cid}/tasks/{task['id']}").json() == {"task": task}
    edited = api.put(f"/contacts/{cid}/tasks/{task['id']}", json={"title": "Call back"}).json()["task"]
    assert edited["title"] == "Call back"
    done = api.put(f"/contacts/{cid}/tasks/{task['id']}/completed", json={"completed": True})
    assert done.status_code == 200 and done.json()["task"]["completed"] is True

    found = api.post("/locations/loc1/tasks/search", json={"contactId": [cid], "completed": True}).json()[
        "tasks"
    ]
    assert [t["id"] for t in found] == [task["id"]]
    assert found[0]["contactId"] == cid and ISO_MS.match(found[0]["dateUpdated"])
    assert api.post("/locations/loc1/tasks/search", json={"completed": False}).json()["tasks"] == []
    assert api.delete(f"/contacts/{cid}/tasks/{task['id']}").json() == {"succeded": True}
    assert api.get(f"/contacts/{cid}/tasks/{task['id']}").status_code == 404

    note = api.post(f"/contacts/{cid}/notes", json={"body": "hello", "title": "T"})
    assert note.status_code == 201
    note_id = note.json()["note"]["id"]
    assert api.get(f"/contacts/{cid}/notes").json()["notes"][0]["body"] == "hello"
    assert api.put(f"/contacts/{cid}/notes/{note_id}", json={"body": "bye"}).json()["note"]["body"] == "bye"
    assert api.get(f"/contacts/{cid}/notes/{note_id}").json()["note"]["body"] == "bye"
    assert api.delete(f"/contacts/{cid}/notes/{note_id}").json() == {"succeded": True}
    assert api.get(f"/contacts/{cid}/notes").json() == {"notes": []}


def test_appointments_use_plain_times_per_contact_and_calendar_version(sandbox, location_client):
    api = location_client("loc1")
    cid = api.post("/contacts/", json={"locationId": "loc1"}).json()["contact"]["id"]
    sandbox.admin.create(
        "loc1", "appointment", {"title": "Demo", "startTime": "2030-05-01T10:00:00Z"}, contact_id=cid
    )
    [event] = api.get(f"/contacts/{cid}/appointments").json()["events"]
    assert event["startTime"] == "2030-05-01 10:00:00" and PLAIN.match(event["dateAdded"])
    assert event["endTime"] == "2030-05-01 10:30:00"

    path = f"/calendars/events/appointments/{event['id']}"
    assert api.get(path).status_code == 400  # contacts Version on a calendars route
    full = api.get(path, headers={"Version": CALENDARS_VERSION})
    assert full.status_code == 200
    assert full.json()["event"]["startTime"] == "2030-05-01T10:00:00+00:00"
    assert full.json()["event"]["createdBy"]["source"]


def test_deprecated_list_and_business_listing(sandbox, location_client):
    api = location_client("loc1")
    ids = set(sandbox.admin.seed("loc1", 25))
    assert api.get("/contacts/", params={"locationId": "loc1", "limit": 101}).status_code == 422
    seen: list[str] = []
    params = {"locationId": "loc1", "limit": 10}
    while True:
        page = api.get("/contacts/", params=params).json()
        seen += [c["id"] for c in page["contacts"]]
        assert page["count"] == 25
        if "startAfterId" not in page["meta"]:
            break
        params = {
            **params,
            "startAfter": page["meta"]["startAfter"],
            "startAfterId": page["meta"]["startAfterId"],
        }
    assert len(seen) == 25 and set(seen) == ids

    first = sorted(ids)[0]
    sandbox.admin.edit("loc1", "contact", first, {"businessId": "biz1"})
    listed = api.get("/contacts/business/biz1", params={"locationId": "loc1"}).json()
    assert listed["count"] == 1 and listed["contacts"][0]["id"] == first
