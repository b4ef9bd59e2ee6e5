"""Webhooks of the GHL sandbox: documented payloads, Ed25519 signatures, retries and chaos switches."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

pytestmark = pytest.mark.integration

ENVELOPE_KEYS = {"timestamp", "webhookId"}


def _events(receiver):
    return [json.loads(body) for body in receiver.bodies()]


def _example_keys(documented_events, name):
    return set(documented_events[f"{name}.example"]["shape"])


def _wait(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_signature_verifies_over_raw_body_with_published_key(sandbox, location_client, receiver):
    sandbox.admin.webhooks([receiver.url])
    api = location_client("loc1")
    api.post("/contacts/", json={"locationId": "loc1", "firstName": "Zoë", "email": "z@example.com"})
    assert sandbox.admin.flush()["done"]
    [delivery] = receiver.received
    key = load_pem_public_key(sandbox.admin.public_key()["ed25519_pem"].encode())
    signature = base64.b64decode(delivery.headers["x-ghl-signature"])
    key.verify(signature, delivery.body)  # raises InvalidSignature on mismatch
    with pytest.raises(Exception, match="InvalidSignature|^$"):
        key.verify(signature, delivery.body.replace(b"z@example.com", b"y@example.com"))
    event = json.loads(delivery.body)
    assert event["type"] == "ContactCreate" and event["firstName"] == "Zoë"
    assert event["timestamp"].endswith("Z") and len(event["webhookId"]) == 36
    assert "x-wh-signature" not in delivery.headers


def test_every_mutation_emits_the_documented_payload(sandbox, location_client, receiver, ghl_webhook_events):
    sandbox.admin.webhooks([receiver.url])
    api = location_client("loc1")
    cid = api.post("/contacts/", json={"locationId": "loc1", "email": "w@example.com"}).json()["contact"][
        "id"
    ]
    api.put(f"/contacts/{cid}", json={"city": "Rome"})
    api.post(f"/contacts/{cid}/tags", json={"tags": ["hot"]})
    api.put(f"/contacts/{cid}", json={"dnd": True})
    task = api.post(
        f"/contacts/{cid}/tasks", json={"title": "T", "dueDate": "2030-01-01T00:00:00Z", "completed": False}
    ).json()["task"]
    api.put(f"/contacts/{cid}/tasks/{task['id']}", json={"title": "renamed"})  # no TaskUpdate event exists
    api.put(f"/contacts/{cid}/tasks/{task['id']}/completed", json={"completed": True})
    api.delete(f"/contacts/{cid}/tasks/{task['id']}")
    note = api.post(f"/contacts/{cid}/notes", json={"body": "n"}).json()["note"]
    api.put(f"/contacts/{cid}/notes/{note['id']}", json={"body": "m"})
    api.delete(f"/contacts/{cid}/notes/{note['id']}")
    appointment = sandbox.admin.create(
        "loc1", "appointment", {"title": "A", "notes": "n", "address": "Zoom"}, contact_id=cid
    )
    sandbox.admin.edit("loc1", "appointment", appointment["id"], {"title": "B"})
    sandbox.admin.delete("loc1", "appointment", appointment["id"])
    sandbox.admin.edit("loc1", "contact", cid, {"firstName": "Person"})  # a person editing in GHL
    api.delete(f"/contacts/{cid}")
    sandbox.admin.emit("INSTALL", location_id="loc1")
    sandbox.admin.emit("UNINSTALL", location_id="loc1")
    assert sandbox.admin.flush()["done"]

    events = _events(receiver)
    expected = [
        "ContactCreate",
        "ContactUpdate",
        "ContactTagUpdate",
        "ContactDndUpdate",
        "TaskCreate",
        "TaskComplete",
        "TaskDelete",
        "NoteCreate",
        "NoteUpdate",
        "NoteDelete",
        "AppointmentCreate",
        "AppointmentUpdate",
        "AppointmentDelete",
        "ContactUpdate",
        "ContactDelete",
        "INSTALL",
        "UNINSTALL",
    ]
    assert [e["type"] for e in events] == expected
    example_names = {"INSTALL": "AppInstall", "UNINSTALL": "AppUninstall"}
    for event in events:
        allowed = _example_keys(ghl_webhook_events, example_names.get(event["type"], event["type"]))
        extra = set(event) - allowed - ENVELOPE_KEYS
        assert not extra - {"versionId", "installType"}, (event["type"], extra)
        assert event["locationId"] == "loc1"
    by_type = {e["type"]: e for e in events}
    assert by_type["TaskComplete"]["title"] == "renamed" and "completed" not in by_type["TaskComplete"]
    assert by_type["ContactTagUpdate"]["tags"] == ["hot"]
    assert by_type["AppointmentUpdate"]["appointment"]["title"] == "B"
    assert set(by_type["AppointmentCreate"]["appointment"]) == set(
        ghl_webhook_events["AppointmentCreate.example"]["shape"]["appointment"]
    )
    assert by_type["INSTALL"]["appId"] == sandbox.config.app_id
    assert len({e["webhookId"] for e in events}) == len(events)


def test_agency_install_uses_agency_example_shape(sandbox, receiver, ghl_webhook_events):
    sandbox.admin.webhooks([receiver.url])
    sandbox.admin.create_company("agency1")
    sandbox.admin.emit("INSTALL", company_id="agency1")
    sandbox.admin.uninstall(company_id="agency1")
    sandbox.admin.flush()
    install, uninstall = _events(receiver)
    agency_example = ghl_webhook_events["AppInstall.example3"]["shape"]
    assert set(install) - ENVELOPE_KEYS - {"versionId", "installType"} == set(agency_example)
    assert "locationId" not in install and install["companyId"] == "agency1"
    assert (
        uninstall == {**uninstall, "type": "UNINSTALL", "companyId": "agency1"}
        and "locationId" not in uninstall
    )


def test_retries_until_success_then_stop(sandbox, location_client, receiver):
    receiver.script = [500, 404, 302]
    sandbox.admin.webhooks([receiver.url])
    location_client("loc1").post("/contacts/", json={"locationId": "loc1"})
    assert sandbox.admin.flush()["done"]
    [entry] = sandbox.admin.webhook_log()
    assert entry["attempts"] == 4 and entry["status"] == "delivered" and entry["httpStatus"] == 200
    bodies = receiver.bodies()
    assert len(bodies) == 4 and len(set(bodies)) == 1  # the same signed bytes every time


def test_gives_up_after_twelve_retries(sandbox, location_client, receiver):
    receiver.script = [503] * 20
    sandbox.admin.webhooks([receiver.url])
    location_client("loc1").post("/contacts/", json={"locationId": "loc1"})
    assert sandbox.admin.flush()["done"]
    [entry] = sandbox.admin.webhook_log()
    assert entry["status"] == "failed" and entry["attempts"] == 13
    # no response at all (nothing listening) is retried too
    sandbox.admin.reset()
    sandbox.admin.create_location("loc1")
    sandbox.admin.webhooks(["http://127.0.0.1:9/unreachable"])
    sandbox.admin.seed("loc1", 1, emit_webhook=True)
    sandbox.admin.flush()
    [entry] = sandbox.admin.webhook_log()
    assert entry["attempts"] == 13 and entry["httpStatus"] is None and entry["error"]


def test_retry_switch_off_means_one_attempt(sandbox, location_client, receiver):
    receiver.script = [500]
    sandbox.admin.webhooks([receiver.url], retry=False)
    location_client("loc1").post("/contacts/", json={"locationId": "loc1"})
    sandbox.admin.flush()
    assert [e["attempts"] for e in sandbox.admin.webhook_log()] == [1]


def test_duplicate_and_drop_switches(sandbox, location_client, receiver):
    api = location_client("loc1")
    sandbox.admin.webhooks([receiver.url], duplicate_rate=1.0)
    api.post("/contacts/", json={"locationId": "loc1"})
    sandbox.admin.flush()
    first, second = _events(receiver)
    assert first == second  # same webhookId twice

    sandbox.admin.webhooks([receiver.url], drop_rate=1.0)
    api.post("/contacts/", json={"locationId": "loc1"})
    sandbox.admin.flush()
    assert len(receiver.bodies()) == 2
    assert sandbox.admin.webhook_log()[-1]["status"] == "dropped"
    # the event still exists (dashboard resend)
    dropped_id = sandbox.admin.webhook_events()[-1]["webhookId"]
    sandbox.admin.webhooks([receiver.url])
    assert sandbox.admin.resend(dropped_id) == 1
    sandbox.admin.flush()
    assert _events(receiver)[-1]["webhookId"] == dropped_id


def test_reorder_and_delay_switches(sandbox, location_client, receiver):
    api = location_client("loc1")
    cid = api.post("/contacts/", json={"locationId": "loc1"}).json()["contact"]["id"]
    sandbox.admin.flush()
    sandbox.admin.webhooks([receiver.url], reorder=True)
    api.put(f"/contacts/{cid}", json={"city": "Berlin"})
    api.delete(f"/contacts/{cid}")
    sandbox.admin.flush()
    assert [e["type"] for e in _events(receiver)] == ["ContactDelete", "ContactUpdate"]

    sandbox.admin.webhooks([receiver.url], delay_ms=300)
    api.post("/contacts/", json={"locationId": "loc1"})
    time.sleep(0.1)
    assert len(receiver.bodies()) == 2  # still held back
    _wait(lambda: len(receiver.bodies()) == 3)


def test_rsa_legacy_signature_when_enabled(sandbox, location_client, receiver):
    # sign_rsa generates the key at start, so use a dedicated sandbox
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from rankr_ghl_tools.ghl_sandbox import GHLSandbox, SandboxConfig

    with GHLSandbox(SandboxConfig(sign_rsa=True, webhook_urls=[receiver.url])) as legacy:
        legacy.admin.create_location("loc1")
        legacy.admin.seed("loc1", 1, emit_webhook=True)
        legacy.admin.flush()
        [delivery] = receiver.received
        key = load_pem_public_key(legacy.admin.public_key()["rsa_pem"].encode())
        key.verify(
            base64.b64decode(delivery.headers["x-wh-signature"]),
            delivery.body,
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
