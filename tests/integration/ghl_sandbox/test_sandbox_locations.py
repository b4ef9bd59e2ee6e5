"""GET /locations/{locationId} in the sandbox (scope `locations.readonly`), and the connector's read of
a location's name through it."""

from __future__ import annotations

import pytest
from ghl_sandbox_helpers import api_client
from rankr_ghl.connections.location_names import location_name_or_none
from rankr_ghl.ghl.errors import GHLError
from rankr_ghl.ghl.oauth import GHLOAuthClient


def _oauth(sandbox) -> GHLOAuthClient:
    return GHLOAuthClient(sandbox.config.client_id, sandbox.config.client_secret, base_url=sandbox.url)


def test_a_location_token_reads_its_own_location_only(sandbox):
    sandbox.admin.create_location("loc1", company_id="co1", name="Dentist Downtown", address="1 Main St")
    sandbox.admin.create_location("loc2", company_id="co1", name="Other")
    with api_client(sandbox, sandbox.admin.tokens(location_id="loc1")["access_token"]) as api:
        found = api.get("/locations/loc1")
        assert found.status_code == 200
        assert found.json() == {
            "location": {"id": "loc1", "companyId": "co1", "name": "Dentist Downtown", "address": "1 Main St"}
        }
        assert api.get("/locations/loc2").status_code == 403
        assert api.get("/locations/loc1", headers={"Version": ""}).status_code == 400


def test_the_scope_is_checked(sandbox):
    sandbox.admin.create_location("loc1", name="Dentist", scopes=["contacts.readonly"])
    token = sandbox.admin.tokens(location_id="loc1")["access_token"]
    with api_client(sandbox, token) as api:
        assert api.get("/locations/loc1").status_code == 401
        sandbox.admin.variants("loc1", scope_denied=403)
        assert api.get("/locations/loc1").status_code == 403


def test_the_connector_reads_the_name_and_falls_back_when_it_is_refused(sandbox):
    sandbox.admin.create_location("loc1", name="  Dentist <Downtown>  ")
    sandbox.admin.create_location("loc2", name="Hidden", scopes=["contacts.readonly"])
    oauth = _oauth(sandbox)
    token1 = sandbox.admin.tokens(location_id="loc1")["access_token"]
    token2 = sandbox.admin.tokens(location_id="loc2")["access_token"]
    assert oauth.location_name(token1, "loc1") == "Dentist <Downtown>"
    with pytest.raises(GHLError) as refused:
        oauth.location_name(token2, "loc2")
    assert refused.value.status == 401
    assert location_name_or_none(oauth, token2, "loc2") is None


def test_a_slow_answer_falls_back_within_the_bound(sandbox):
    import time

    sandbox.admin.create_location("loc1", name="Slow Dental")
    token = sandbox.admin.tokens(location_id="loc1")["access_token"]
    sandbox.admin.faults(rate_slow=1.0, slow_seconds=5, paths=["GET /locations/{locationId}"])
    started = time.monotonic()
    assert location_name_or_none(_oauth(sandbox), token, "loc1", budget_s=1.0) is None
    assert time.monotonic() - started < 4.5  # bounded by the budget, not by GHL's answer
