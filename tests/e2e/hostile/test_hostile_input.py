"""The hostile corpus (hostile_corpus.py) through the local runtime: gateway + Invoke API + workers.

Every case must get a clear 4xx (or, for lead push, a request error / per-lead error; for install,
a redirect to GHL only), never a 5xx, and must leave everything as it was: both sandboxes, every
DynamoDB table (audit records of the rejection allowed), Secrets Manager, every queue, and no run of
a queue-driven function.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from e2e_helpers import assert_nothing_written, install_location, new_id, quick_snapshot, world_snapshot
from hostile_corpus import (
    CASES,
    Case,
    HostileContext,
    LeadPushRequest,
    OAuthRequest,
    WebhookRequest,
)
from rankr_ghl_tools.installs import mint_install_link, walk_install

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_corpus_is_big_enough_and_covers_every_surface() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
    surfaces = {c.surface for c in CASES}
    assert surfaces == {"webhook", "oauth", "lead_push"}
    for case in CASES:
        assert case.status or case.lead_error, f"{case.id} expects nothing"


@pytest.fixture(scope="module")
def hostile_ctx(e2e_stack) -> Iterator[HostileContext]:
    stack = e2e_stack
    account_a, account_b = new_id("acctA"), new_id("acctB")
    location_a, location_b = new_id("locA"), new_id("locB")
    install_location(stack, location_a, account_a)
    install_location(stack, location_b, account_b)
    unconnected = new_id("locU")
    stack.ghl.admin.create_location(unconnected)
    app_secret = stack.template.secrets["AppSecret"]
    secret = json.loads(
        stack.client("secretsmanager").get_secret_value(SecretId=app_secret.name)["SecretString"]
    )

    def used_code() -> str:
        """An authorization code that completed a real install once (for the replay case)."""
        location = new_id("locR")
        stack.ghl.admin.create_location(location)
        stack.ghl.admin.consent(location_id=location)
        walk = walk_install(mint_install_link(stack, new_id("acctR")))
        assert walk.done is not None and walk.done.status_code == 200 and walk.consent is not None
        return parse_qs(urlsplit(walk.consent.headers["location"]).query)["code"][0]

    def replayed_state() -> tuple[str, str]:
        """A state that completed a real install, and an unused code of a second consent."""
        location = new_id("locR")
        stack.ghl.admin.create_location(location)
        stack.ghl.admin.consent(location_id=location)
        walk = walk_install(mint_install_link(stack, new_id("acctR")))
        assert walk.done is not None and walk.done.status_code == 200 and walk.consent is not None
        callback = walk.consent.headers["location"]
        with httpx.Client(timeout=30, follow_redirects=False) as http:
            unused = http.get(walk.start.headers["location"]).headers["location"]
        return parse_qs(urlsplit(unused).query)["code"][0], parse_qs(urlsplit(callback).query)["state"][0]

    yield HostileContext(
        sign=stack.ghl.app.webhooks.signer.sign,
        state_key=secret["state_signing_key"],
        client_id=stack.ghl.config.client_id,
        location_a=location_a,
        account_a=account_a,
        location_b=location_b,
        account_b=account_b,
        location_unconnected=unconnected,
        fresh_code=used_code,
        replayed_state=replayed_state,
    )


def _send(stack, request) -> tuple[int, dict[str, str], str, object]:
    if isinstance(request, WebhookRequest):
        with httpx.Client(timeout=30) as http:
            response = http.post(
                f"{stack.gateway_url}/webhooks/ghl", content=request.body, headers=request.headers
            )
        return response.status_code, dict(response.headers), response.text, None
    if isinstance(request, OAuthRequest):
        with httpx.Client(timeout=30, follow_redirects=False) as http:
            response = http.get(
                f"{stack.gateway_url}{request.path}", params=request.params, headers=request.headers
            )
            # The callback shows its outcome at a clean URL: follow that one redirect, with its cookie.
            target = urlsplit(response.headers.get("location", ""))
            if response.status_code == 303 and target.path == "/oauth/done":
                cookies = [c.split(";", 1)[0] for c in response.headers.get_list("set-cookie")]
                response = http.get(response.headers["location"], headers={"cookie": "; ".join(cookies)})
        headers = {k: v for k, v in response.headers.items() if k.lower() != "set-cookie"}
        # The outcome page only clears its own result cookie.
        if any("max-age=0" not in c.lower() for c in response.headers.get_list("set-cookie")):
            headers["set-cookie"] = "; ".join(response.headers.get_list("set-cookie"))
        return response.status_code, headers, response.text, None
    assert isinstance(request, LeadPushRequest)
    raw = request.raw if request.raw is not None else json.dumps(request.payload).encode()
    result = stack.client("lambda").invoke(
        FunctionName=stack.template.outputs["LeadPushAliasArn"], InvocationType="RequestResponse", Payload=raw
    )
    body = result["Payload"].read()
    return (
        result["StatusCode"],
        {"FunctionError": result.get("FunctionError") or ""},
        body.decode(),
        (json.loads(body) if body else None),
    )


def _assert_redirect_safe(stack, headers: dict[str, str]) -> None:
    location = headers.get("location", "")
    target = urlsplit(location)
    ghl = urlsplit(stack.ghl.url)
    assert (target.scheme, target.netloc) == (ghl.scheme, ghl.netloc), location
    assert target.path == "/v2/oauth/chooselocation"
    configured = stack.template.functions["OAuthCallbackFunction"].env["OAUTH_REDIRECT_URI"]
    assert parse_qs(target.query)["redirect_uri"] == [configured]
    assert "evil" not in location.lower()
    assert "set-cookie" not in {k.lower() for k in headers}


def _assert_lead_push_refused(case: Case, body: object) -> None:
    assert isinstance(body, dict), body
    if case.lead_error == "request":
        assert body.get("error", {}).get("code") == "invalid_request", body
        assert body.get("results") == [], body
        return
    assert "error" not in body, body
    results = body["results"]
    assert results, body
    for result in results:
        assert result["outcome"] == "failed", result
        assert "ghlContactId" not in result, result
        assert result["error"]["retryable"] is False, result
        if case.lead_error != "*":
            assert result["error"]["code"] == case.lead_error, result


@pytest.fixture(scope="module")
def corpus_baseline(e2e_stack, hostile_ctx) -> dict:
    """The full world before the first case (after the fixtures' own installs)."""
    e2e_stack.drain(timeout=30, settle=0.1)
    return world_snapshot(e2e_stack)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_case_is_refused_without_side_effects(
    e2e_stack, hostile_ctx, corpus_baseline, case: Case
) -> None:
    stack = e2e_stack
    request = case.build(hostile_ctx)  # may prepare state (e.g. a used code): settle it first
    stack.drain(timeout=30, settle=0.05)
    before = quick_snapshot(stack)

    status, headers, text, body = _send(stack, request)

    stack.drain(timeout=30, settle=0.05)
    assert status < 500, f"{case.id}: {status} {text[:500]}"
    if case.surface == "lead_push":
        assert status == 200 and not headers["FunctionError"], f"{case.id}: {text[:500]}"
        _assert_lead_push_refused(case, body)
    else:
        assert status in case.status, f"{case.id}: {status} {text[:300]}"
        lowered = {k.lower(): v for k, v in headers.items()}
        if case.redirect_safe and status == 302:
            _assert_redirect_safe(stack, lowered)
        else:
            assert "location" not in lowered, lowered.get("location")
        assert "set-cookie" not in lowered
    assert quick_snapshot(stack) == before, f"{case.id} wrote or queued something"


def test_corpus_left_everything_as_it_was(e2e_stack, corpus_baseline) -> None:
    """After every case: both sandboxes, every table (rejection audits allowed), secrets and queues
    are as before the corpus, apart from the installs the replay case needed (setup, not attack)."""
    e2e_stack.drain(timeout=30, settle=0.1)
    after = world_snapshot(e2e_stack)
    setup_locations = [loc for loc in after["ghl_state"] if loc.startswith("locR")]
    for key in ("ghl_state",):
        for loc in setup_locations:
            after[key].pop(loc, None)
    setup_ids = set(setup_locations)
    used_states = 0
    for logical_id, table in after["tables"].items():
        for item_key in [k for k, v in table.items() if any(loc in str(v) for loc in setup_ids)]:
            del table[item_key]
        known = corpus_baseline["tables"].get(logical_id, {})
        for item_key in [k for k in table if "DEDUPE#oauth-state#" in k and k not in known]:
            used_states += 1
            del table[item_key]
        for item_key in [k for k in table if "DEDUPE#install-link#" in k and k not in known]:
            del table[item_key]  # the setup installs' used links
    assert used_states == len(setup_ids)  # one used-state marker per setup install, none from a case
    after["secrets"] = {k: v for k, v in after["secrets"].items() if not any(loc in k for loc in setup_ids)}
    after["ghl_tokens"] = corpus_baseline["ghl_tokens"] if setup_ids else after["ghl_tokens"]
    after["ghl_write_calls"] = corpus_baseline["ghl_write_calls"]  # the setup installs' own calls
    assert_nothing_written(corpus_baseline, after, allow_audit_rejections=True)
