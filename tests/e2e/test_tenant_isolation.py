"""Tenant isolation on the local runtime: two locations, A (Rankr account A) and B (account B),
installed through the real OAuth flow, busy at the same time.

- Leads of account A and GHL edits of both locations run concurrently; every write lands in its own
  tenant: A's GHL contacts only in A, A's Rankr records only under account A, mappings and audit
  entries of A name only A's ids (and the same for B).
- Tokens are never crossed: every GHL request was authorised by the token of the location it
  concerned (the sandbox answers 403 otherwise; no 403 happened) and each location's stored token is
  one the sandbox issued for that very location.
- A lead of account A aimed at B (by locationId, or in a batch) is refused and B is untouched: its
  GHL state, Rankr records, mappings, audit trail and token secret.
- The binding attack: the public install route signs nothing for an account it is merely told about,
  and an install on a location bound to another account keeps that binding.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from e2e_helpers import install_location, new_id, scan_table, wait_for
from rankr_ghl_tools.installs import mint_install_link, walk_install

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

LEADS_PER_TENANT = 6
GHL_CREATES_PER_TENANT = 6


def _invoke(stack, payload: Any) -> dict[str, Any]:
    response = stack.client("lambda").invoke(
        FunctionName=stack.template.outputs["LeadPushAliasArn"], Payload=json.dumps(payload).encode()
    )
    assert response.get("FunctionError") is None, response["Payload"].read()
    return json.loads(response["Payload"].read())


def _token_secret(stack, location_id: str) -> dict[str, Any]:
    prefix = stack.template.functions["WebhookWorkerFunction"].env["TOKEN_SECRET_PREFIX"]
    text = stack.client("secretsmanager").get_secret_value(SecretId=prefix + location_id)["SecretString"]
    return json.loads(text)


def _tenant_items(stack, location_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every SyncState/Audit/Connections item that names the location anywhere."""
    out: dict[str, list[dict[str, Any]]] = {}
    for logical_id, spec in stack.template.tables.items():
        out[logical_id] = [
            i for i in scan_table(stack, spec.name) if location_id in json.dumps(i, default=str)
        ]
    return out


def _status_403(stack) -> int:
    return int(stack.ghl.app.stats()["byStatus"].get("403", 0))


def _emails(records: list[dict[str, Any]]) -> set[str]:
    return {r["email"].lower() for r in records if r.get("email") and not r.get("deletedAt")}


@pytest.fixture(scope="module")
def tenants(e2e_stack) -> dict[str, str]:
    ids = {
        "loc_a": new_id("locA"),
        "acct_a": new_id("acctA"),
        "loc_b": new_id("locB"),
        "acct_b": new_id("acctB"),
    }
    install_location(e2e_stack, ids["loc_a"], ids["acct_a"])
    install_location(e2e_stack, ids["loc_b"], ids["acct_b"])
    return ids


def test_concurrent_tenants_never_cross(e2e_stack, tenants, leak_watch) -> None:
    stack = e2e_stack
    loc_a, acct_a, loc_b, acct_b = tenants["loc_a"], tenants["acct_a"], tenants["loc_b"], tenants["acct_b"]
    forbidden_before = _status_403(stack)
    calls_before = dict(stack.ghl.app.stats()["byLocation"])

    lead_emails_a = [f"lead{i}.{loc_a.lower()}@tenant-a.example" for i in range(LEADS_PER_TENANT)]
    ghl_emails = {
        loc: [f"ghl{i}.{loc.lower()}@tenant.example" for i in range(GHL_CREATES_PER_TENANT)]
        for loc in (loc_a, loc_b)
    }
    leak_watch.add_email(*lead_emails_a, *ghl_emails[loc_a], *ghl_emails[loc_b])
    errors: list[BaseException] = []

    def push_leads() -> None:
        try:
            leads = [
                {
                    "leadId": f"lead-{i}-{loc_a}",
                    "rankrAccountId": acct_a,
                    "email": email,
                    "firstName": f"A{i}",
                }
                for i, email in enumerate(lead_emails_a)
            ]
            body = _invoke(stack, {"leads": leads})
            assert [r["outcome"] for r in body["results"]] == ["created"] * LEADS_PER_TENANT, body
        except BaseException as exc:
            errors.append(exc)

    def ghl_edits(location_id: str) -> None:
        try:
            for i, email in enumerate(ghl_emails[location_id]):
                stack.ghl.admin.create(location_id, "contact", {"email": email, "firstName": f"G{i}"})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=push_leads)] + [
        threading.Thread(target=ghl_edits, args=(loc,)) for loc in (loc_a, loc_b)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    stack.ghl.admin.flush(timeout_s=30)

    expected_rankr = {acct_a: set(ghl_emails[loc_a]) | set(lead_emails_a), acct_b: set(ghl_emails[loc_b])}

    def mirrored() -> bool:
        return _emails(stack.rankr.admin.state(acct_a)["contacts"]) >= set(ghl_emails[loc_a]) and _emails(
            stack.rankr.admin.state(acct_b)["contacts"]
        ) >= set(ghl_emails[loc_b])

    wait_for(mirrored, timeout=60)
    stack.drain(timeout=60)

    # GHL: each location holds exactly its own contacts.
    ghl_a = _emails(stack.ghl.admin.state(loc_a)["contacts"])
    ghl_b = _emails(stack.ghl.admin.state(loc_b)["contacts"])
    assert ghl_a == set(ghl_emails[loc_a]) | set(lead_emails_a)
    assert ghl_b == set(ghl_emails[loc_b])
    # Rankr: each account holds only its own tenant's records (lead push does not write to Rankr).
    rankr_a = _emails(stack.rankr.admin.state(acct_a)["contacts"])
    rankr_b = _emails(stack.rankr.admin.state(acct_b)["contacts"])
    assert rankr_b == expected_rankr[acct_b]
    assert rankr_a <= expected_rankr[acct_a] and rankr_a >= set(ghl_emails[loc_a])
    # Tokens: no request was refused for a foreign token; each tenant's calls were made with its token.
    assert _status_403(stack) == forbidden_before
    calls_after = stack.ghl.app.stats()["byLocation"]
    assert calls_after.get(loc_a, 0) > calls_before.get(loc_a, 0)
    assert calls_after.get(loc_b, 0) > calls_before.get(loc_b, 0)
    store = stack.ghl.app.store
    for location_id in (loc_a, loc_b):
        secret = _token_secret(stack, location_id)
        assert secret["location_id"] == location_id
        with store.lock:
            issued = store.access_tokens.get(secret["access_token"])
        assert issued is not None and issued.location_id == location_id
    # Mappings and audit: ids of A only in A's partition and vice versa.
    ghl_ids = {loc: {c["id"] for c in stack.ghl.admin.state(loc)["contacts"]} for loc in (loc_a, loc_b)}
    for own, other in ((loc_a, loc_b), (loc_b, loc_a)):
        items = _tenant_items(stack, own)
        text = json.dumps(items["SyncStateTable"] + items["AuditTable"], default=str)
        assert any(ghl_id in text for ghl_id in ghl_ids[own]), f"no mapping written for {own}"
        assert not any(ghl_id in text for ghl_id in ghl_ids[other]), f"{own}'s items name {other}'s contacts"
        assert other not in text


def test_lead_of_account_a_cannot_reach_location_b(e2e_stack, tenants) -> None:
    stack = e2e_stack
    loc_a, acct_a, loc_b = tenants["loc_a"], tenants["acct_a"], tenants["loc_b"]
    stack.drain(timeout=60)
    before = {
        "ghl": stack.ghl.admin.state(loc_b),
        "rankr": stack.rankr.admin.state(tenants["acct_b"]),
        "items": _tenant_items(stack, loc_b),
        "token": _token_secret(stack, loc_b),
        "calls_b": stack.ghl.app.stats()["byLocation"].get(loc_b, 0),
    }
    forbidden_before = _status_403(stack)

    aimed = _invoke(
        stack,
        {"leadId": "cross-1", "rankrAccountId": acct_a, "locationId": loc_b, "email": "x@cross.example"},
    )
    assert aimed["results"][0]["error"]["code"] == "location_not_connected", aimed
    batch = _invoke(
        stack,
        {
            "rankrAccountId": acct_a,
            "leads": [
                {"leadId": "cross-2", "locationId": loc_b, "phone": "+15550001111"},
                {"leadId": "cross-3", "locationId": loc_a, "email": "own@cross.example"},
            ],
        },
    )
    outcomes = {r["leadId"]: r for r in batch["results"]}
    assert outcomes["cross-2"].get("error", {}).get("code") == "location_not_connected", outcomes["cross-2"]
    assert outcomes["cross-3"]["outcome"] == "created"  # A's own lead in the same batch still works
    assert any(c.get("email") == "own@cross.example" for c in stack.ghl.admin.state(loc_a)["contacts"])
    stack.drain(timeout=60)

    assert stack.ghl.admin.state(loc_b) == before["ghl"]
    assert stack.rankr.admin.state(tenants["acct_b"]) == before["rankr"]
    assert _tenant_items(stack, loc_b) == before["items"]
    assert _token_secret(stack, loc_b) == before["token"]
    assert stack.ghl.app.stats()["byLocation"].get(loc_b, 0) == before["calls_b"], "B's token was used"
    assert _status_403(stack) == forbidden_before


def _connection(stack, connection_id: str) -> dict[str, Any] | None:
    table = stack.template.functions["OAuthCallbackFunction"].env["CONNECTIONS_TABLE"]
    item = stack.client("dynamodb").get_item(TableName=table, Key={"connectionId": {"S": connection_id}})
    return {k: next(iter(v.values())) for k, v in item["Item"].items()} if "Item" in item else None


def test_binding_attack_is_refused(e2e_stack, tenants) -> None:
    """An attacker asks the public install route for a link naming the victim's account and completes
    it on their own location; then, holding a genuine link for their own account, installs on a
    location bound to someone else. Neither binds anything to the wrong account."""
    stack = e2e_stack
    victim, loc_b, acct_b = tenants["acct_a"], tenants["loc_b"], tenants["acct_b"]
    evil_loc = new_id("locEvil")
    stack.ghl.admin.create_location(evil_loc)
    stack.ghl.admin.consent(location_id=evil_loc)
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        start = http.get(f"{stack.gateway_url}/oauth/install", params={"rankr_account": victim})
        assert 400 <= start.status_code < 500, start.status_code
        assert "location" not in start.headers and "set-cookie" not in start.headers
        agency = http.get(
            f"{stack.gateway_url}/oauth/install", params={"rankr_account": victim, "agency": "true"}
        )
        assert 400 <= agency.status_code < 500
    assert _connection(stack, evil_loc) is None
    assert all(evil_loc not in json.dumps(i) for i in scan_table(stack, _connections_table(stack)))

    # Relink: a genuine link for the attacker's own account, completed on B's location.
    stack.ghl.admin.consent(location_id=loc_b)
    walk = walk_install(mint_install_link(stack, new_id("acctEvil")))
    assert walk.done is not None and walk.done.status_code == 200, walk.page.text
    assert "already linked to another Rankr account" in walk.done.text
    assert acct_b not in walk.done.text
    record = _connection(stack, loc_b)
    assert record is not None and record["rankrAccountId"] == acct_b

    # Account-only lead pushes of the victim still reach only the victim's location.
    body = _invoke(
        stack, {"leadId": new_id("lead"), "rankrAccountId": victim, "email": "only-a@victim.example"}
    )
    assert body["results"][0]["outcome"] == "created", body
    assert not any(
        c.get("email") == "only-a@victim.example" for c in stack.ghl.admin.state(evil_loc)["contacts"]
    )


def _connections_table(stack) -> str:
    return str(stack.template.functions["OAuthCallbackFunction"].env["CONNECTIONS_TABLE"])
