"""Variant switches of the GHL sandbox over real HTTP: scope denial with per-token scopes, the daily
budget's reset time, installedLocations paging, and the webhook wire format."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from ghl_sandbox_helpers import CALENDARS_VERSION, api_client

pytestmark = pytest.mark.integration

READ_ONLY = ["contacts.readonly"]


# ---------------------------------------------------------------------------- scopes


def test_scope_denied_401_or_403_for_a_missing_scope(sandbox):
    sandbox.admin.create_location("loc1", scopes=READ_ONLY)
    pair = sandbox.admin.tokens(location_id="loc1")
    assert pair["scope"] == "contacts.readonly"
    with api_client(sandbox, pair["access_token"]) as api:
        assert api.post("/contacts/search", json={"locationId": "loc1"}).status_code == 200
        denied = api.post("/contacts/", json={"locationId": "loc1"})
        assert denied.status_code == 401
        assert denied.json()["message"] == "The token is not authorized for this scope."
        sandbox.admin.variants("loc1", scope_denied=403)
        assert api.post("/contacts/", json={"locationId": "loc1"}).status_code == 403
        assert api.post("/locations/loc1/tasks/search", json={}).status_code == 403
    assert sandbox.admin.state("loc1")["contacts"] == []


def test_tokens_without_scopes_grant_everything(sandbox, location_client):
    api = location_client("loc1")
    assert api.post("/contacts/", json={"locationId": "loc1"}).status_code == 201
    assert api.post("/locations/loc1/tasks/search", json={}).status_code == 200


def test_per_token_scopes_and_refresh_keeps_them(sandbox):
    sandbox.admin.create_location("loc1")
    narrow = sandbox.admin.tokens(location_id="loc1", scopes=["contacts.readonly", "contacts.write"])
    with api_client(sandbox, narrow["access_token"]) as api:
        cid = api.post("/contacts/", json={"locationId": "loc1"}).json()["contact"]["id"]
        appointment = sandbox.admin.create("loc1", "appointment", {"title": "Visit"}, contact_id=cid)
    with api_client(sandbox, narrow["access_token"], version=CALENDARS_VERSION) as calendars:
        assert calendars.get(f"/calendars/events/appointments/{appointment['id']}").status_code == 401
    wide = sandbox.admin.tokens(location_id="loc1")
    with api_client(sandbox, wide["access_token"], version=CALENDARS_VERSION) as calendars:
        assert calendars.get(f"/calendars/events/appointments/{appointment['id']}").status_code == 200
    form = {
        "client_id": sandbox.config.client_id,
        "client_secret": sandbox.config.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": narrow["refresh_token"],
    }
    refreshed = httpx.post(f"{sandbox.url}/oauth/token", data=form).json()
    assert refreshed["scope"] == "contacts.readonly contacts.write"
    with api_client(sandbox, refreshed["access_token"], version=CALENDARS_VERSION) as calendars:
        assert calendars.get(f"/calendars/events/appointments/{appointment['id']}").status_code == 401


def test_agency_scopes_guard_installed_locations(sandbox):
    sandbox.admin.create_location("loc1", company_id="co1")
    pair = sandbox.admin.tokens(company_id="co1", scopes=["oauth.write"])
    params = {"companyId": "co1", "appId": sandbox.config.app_id}
    with api_client(sandbox, pair["access_token"]) as api:
        assert api.get("/oauth/installedLocations", params=params).status_code == 401
        sandbox.admin.variants("co1", scope_denied=403)
        assert api.get("/oauth/installedLocations", params=params).status_code == 403


# ---------------------------------------------------------------------------- daily budget reset


def test_daily_budget_resets_at_the_configured_utc_time(sandbox):
    # The margin covers the setup below on a loaded machine: the reset must come after the third call.
    reset_at = datetime.now(UTC) + timedelta(seconds=8)
    sandbox.admin.variants("soon", daily_reset_utc=reset_at.strftime("%H:%M:%S"))
    clients = {}
    for location_id in ("soon", "midnight"):
        sandbox.admin.create_location(location_id, rate_limit={"max": 100, "intervalMs": 10000, "daily": 2})
        clients[location_id] = api_client(
            sandbox, sandbox.admin.tokens(location_id=location_id)["access_token"]
        )
    try:
        for location_id, api in clients.items():
            body = {"locationId": location_id}
            assert [api.post("/contacts/search", json=body).status_code for _ in range(3)] == [200, 200, 429]
        assert datetime.now(UTC) < reset_at, "setup outran the reset margin"
        time.sleep(max(0.0, (reset_at - datetime.now(UTC)).total_seconds()) + 0.5)
        fresh = clients["soon"].post("/contacts/search", json={"locationId": "soon"})
        assert fresh.status_code == 200 and fresh.headers["X-RateLimit-Daily-Remaining"] == "1"
        still = clients["midnight"].post("/contacts/search", json={"locationId": "midnight"})
        assert still.status_code == 429  # the default day starts at 00:00 UTC
    finally:
        for api in clients.values():
            api.close()


# ---------------------------------------------------------------------------- installedLocations


@pytest.mark.parametrize(
    ("max_limit", "count", "page_size", "reported"),
    [(None, "total", 5, 5), (2, "page", 2, 2), (2, "total", 2, 5)],
)
def test_installed_locations_limit_cap_and_count(sandbox, max_limit, count, page_size, reported):
    for n in range(5):
        sandbox.admin.create_location(f"loc{n}", company_id="co1")
    sandbox.admin.variants(installed_locations={"max_limit": max_limit, "count": count})
    token = sandbox.admin.tokens(company_id="co1")["access_token"]
    with api_client(sandbox, token) as api:
        params = {"companyId": "co1", "appId": sandbox.config.app_id, "limit": 10}
        page = api.get("/oauth/installedLocations", params=params).json()
    assert len(page["locations"]) == page_size and page["count"] == reported


# ---------------------------------------------------------------------------- webhook wire format


def _verifies(key, signature: bytes, body: bytes) -> bool:
    try:
        key.verify(signature, body)
    except InvalidSignature:
        return False
    return True


@pytest.mark.parametrize("wire_format", ["compact", "pretty", "ascii_escaped"])
def test_wire_format_while_signing_compact_json(sandbox, location_client, receiver, wire_format):
    sandbox.admin.webhooks([receiver.url])
    sandbox.admin.variants("loc1", wire_format=wire_format)
    api = location_client("loc1")
    api.post("/contacts/", json={"locationId": "loc1", "firstName": "José", "email": "jose@example.com"})
    assert sandbox.admin.flush()["done"]
    [delivery] = receiver.received
    key = load_pem_public_key(sandbox.admin.public_key()["ed25519_pem"].encode())
    signature = base64.b64decode(delivery.headers["x-ghl-signature"])
    event = json.loads(delivery.body)
    assert event["firstName"] == "José"
    compact = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    assert _verifies(key, signature, compact)  # the documented canonical form always verifies
    assert _verifies(key, signature, delivery.body) is (wire_format == "compact")
    assert (b"\n  " in delivery.body) is (wire_format == "pretty")
    assert (b"\\u00e9" in delivery.body) is (wire_format == "ascii_escaped")
