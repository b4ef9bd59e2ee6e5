"""OAuth of the GHL sandbox: consent redirect, code exchange, rotation with grace, invalid_grant, agency."""

from __future__ import annotations

import threading
import time
import urllib.parse

import httpx
import pytest
from ghl_sandbox_helpers import api_client

pytestmark = pytest.mark.integration

INVALID_GRANT = {"error": "invalid_grant", "error_description": "Invalid grant: refresh token is invalid"}


def _token(sandbox, **form):
    data = {"client_id": sandbox.config.client_id, "client_secret": sandbox.config.client_secret, **form}
    return httpx.post(f"{sandbox.url}/oauth/token", data=data)


def _refresh(sandbox, refresh_token, user_type="Location"):
    return _token(sandbox, grant_type="refresh_token", refresh_token=refresh_token, user_type=user_type)


@pytest.mark.parametrize("prefix", ["/oauth", "/v2/oauth"])
def test_consent_redirect_echoes_state_and_code_is_single_use(sandbox, prefix):
    sandbox.admin.create_location("loc1")
    redirect = "https://app.example/callback"
    consent = httpx.get(
        f"{sandbox.url}{prefix}/chooselocation",
        params={
            "response_type": "code",
            "client_id": sandbox.config.client_id,
            "redirect_uri": redirect,
            "scope": "contacts.readonly",
            "state": "csrf-123",
        },
    )
    assert consent.status_code == 302
    location = urllib.parse.urlsplit(consent.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    query = dict(urllib.parse.parse_qsl(location.query))
    assert query["state"] == "csrf-123"

    exchanged = _token(
        sandbox,
        grant_type="authorization_code",
        code=query["code"],
        user_type="Location",
        redirect_uri=redirect,
    )
    assert exchanged.status_code == 200
    body = exchanged.json()
    assert body["token_type"] == "Bearer" and body["userType"] == "Location" and body["locationId"] == "loc1"
    assert {"access_token", "refresh_token", "expires_in", "scope", "companyId", "userId"} <= set(body)
    again = _token(
        sandbox,
        grant_type="authorization_code",
        code=query["code"],
        user_type="Location",
        redirect_uri=redirect,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert sandbox.admin.stats()["authCodeGrants"] == 2

    with api_client(sandbox, body["access_token"]) as api:
        assert api.post("/contacts/", json={"locationId": "loc1"}).status_code == 201


def test_bad_client_and_unknown_consent_client(sandbox):
    assert (
        _token(sandbox, client_secret="wrong", grant_type="refresh_token", refresh_token="x").status_code
        == 401
    )
    bad = httpx.get(
        f"{sandbox.url}/oauth/chooselocation", params={"client_id": "other", "redirect_uri": "https://a"}
    )
    assert bad.status_code == 400


def test_refresh_rotates_with_grace_then_invalid_grant(sandbox):
    sandbox.admin.create_location("loc1")
    sandbox.admin.config(refresh_grace_s=0.3)
    first = sandbox.admin.tokens(location_id="loc1")
    rotated = _refresh(sandbox, first["refresh_token"])
    assert rotated.status_code == 200
    pair = rotated.json()
    assert pair["refresh_token"] != first["refresh_token"] and pair["access_token"] != first["access_token"]
    # within the grace: the same old token gives the SAME new pair
    replay = _refresh(sandbox, first["refresh_token"]).json()
    assert (replay["access_token"], replay["refresh_token"]) == (pair["access_token"], pair["refresh_token"])
    time.sleep(0.4)
    late = _refresh(sandbox, first["refresh_token"])
    assert late.status_code == 400
    assert {k: late.json()[k] for k in INVALID_GRANT} == INVALID_GRANT
    assert late.json()["message"] == INVALID_GRANT["error_description"]
    # the new refresh token works once
    assert _refresh(sandbox, pair["refresh_token"]).status_code == 200
    stats = sandbox.admin.stats()
    assert stats["refreshGrants"] == 4 and stats["refreshRotations"] == 2
    assert stats["refreshGrantsBySubject"] == {"loc1": 4}
    assert _refresh(sandbox, "never-issued").status_code == 400
    assert sandbox.admin.stats()["refreshGrantsBySubject"] == {"loc1": 4, "unknown": 1}


def test_concurrent_refresh_of_one_token_yields_one_pair(sandbox):
    sandbox.admin.create_location("loc1")
    old = sandbox.admin.tokens(location_id="loc1")["refresh_token"]
    results: list[dict] = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        results.append(_refresh(sandbox, old).json())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r["refresh_token"] for r in results}) == 1
    stats = sandbox.admin.stats()
    assert stats["refreshGrants"] == 8 and stats["refreshRotations"] == 1


def test_inactive_location_refuses_refresh_until_reactivated(sandbox):
    sandbox.admin.create_location("loc1")
    pair = sandbox.admin.tokens(location_id="loc1")
    sandbox.admin.update_location("loc1", active=False)
    refused = _refresh(sandbox, pair["refresh_token"])
    assert refused.status_code == 400 and refused.json()["message"] == "Location is not active"
    sandbox.admin.update_location("loc1", active=True)
    assert _refresh(sandbox, pair["refresh_token"]).status_code == 200


def test_access_token_lifetime_is_configurable(sandbox):
    sandbox.admin.create_location("loc1")
    sandbox.admin.config(access_token_ttl_s=2.0)  # long enough for the first call on a loaded machine
    pair = sandbox.admin.tokens(location_id="loc1")
    assert pair["expires_in"] == 2
    with api_client(sandbox, pair["access_token"]) as api:
        assert api.post("/contacts/", json={"locationId": "loc1"}).status_code == 201
        time.sleep(2.1)
        assert api.post("/contacts/", json={"locationId": "loc1"}).status_code == 401


def test_agency_location_token_and_installed_locations(sandbox):
    for i in range(5):
        sandbox.admin.create_location(f"loc{i}", company_id="agency1", name=f"Shop {i}", installed=i != 4)
    sandbox.admin.create_location("foreign", company_id="agency2")
    company = sandbox.admin.tokens(company_id="agency1")
    assert company["userType"] == "Company" and "locationId" not in company
    with api_client(sandbox, company["access_token"]) as agency:
        params = {"companyId": "agency1", "appId": sandbox.config.app_id, "limit": 2}
        first = agency.get("/oauth/installedLocations", params=params).json()
        assert first["count"] == 5 and len(first["locations"]) == 2
        rest = agency.get("/oauth/installedLocations", params={**params, "skip": 2, "limit": 10}).json()
        names = {loc["_id"]: loc for loc in first["locations"] + rest["locations"]}
        assert set(names) == {f"loc{i}" for i in range(5)}
        assert names["loc4"]["isInstalled"] is False and names["loc0"]["isInstalled"] is True
        installed = agency.get(
            "/oauth/installedLocations", params={**params, "isInstalled": "true", "limit": 20}
        )
        assert installed.json()["count"] == 4

        minted = agency.post("/oauth/locationToken", data={"companyId": "agency1", "locationId": "loc1"})
        assert minted.status_code == 200
        body = minted.json()
        assert body["locationId"] == "loc1" and "refresh_token" not in body and body["userId"]
        assert (
            agency.post(
                "/oauth/locationToken", data={"companyId": "agency1", "locationId": "foreign"}
            ).status_code
            == 400
        )
        assert (
            agency.post(
                "/oauth/locationToken", data={"companyId": "agency2", "locationId": "foreign"}
            ).status_code
            == 403
        )
        assert (
            agency.get(
                "/oauth/installedLocations", headers={"Version": "2021-04-15"}, params=params
            ).status_code
            == 400
        )
    with api_client(sandbox, body["access_token"]) as api:
        assert api.post("/contacts/", json={"locationId": "loc1"}).status_code == 201
        assert api.get("/oauth/installedLocations", params=params).status_code == 401
    # company refresh tokens rotate too
    assert _refresh(sandbox, company["refresh_token"], user_type="Company").json()["userType"] == "Company"


def test_reset_restores_start_config_and_forgets_tokens(sandbox):
    sandbox.admin.create_location("loc1")
    pair = sandbox.admin.tokens(location_id="loc1")
    sandbox.admin.config(refresh_grace_s=1, max_search_window=10)
    sandbox.admin.reset()
    config = sandbox.admin._call("GET", "/config")
    assert config["refresh_grace_s"] == 30 and config["max_search_window"] == 10000
    assert "client_secret" not in config
    assert _refresh(sandbox, pair["refresh_token"]).status_code == 400
