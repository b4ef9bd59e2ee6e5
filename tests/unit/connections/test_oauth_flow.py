from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from conn_fakes import Grant
from rankr_ghl.connections.errors import (
    CodeExchangeRejected,
    InstallDenied,
    InstallStorageFailed,
    InvalidState,
    MissingCode,
    StateExpired,
)
from rankr_ghl.connections.install_links import nonce_hash
from rankr_ghl.connections.models import ConnectionStatus, UserType, company_connection_id
from rankr_ghl.connections.oauth_flow import OAuthAppConfig, OAuthInstallService, chooselocation_url
from rankr_ghl.connections.state import StateSigner

KEY = "k" * 48
NONCE = "the-browser-nonce"
BROWSER_HASH = nonce_hash(NONCE)
SCOPES = ("contacts.readonly", "contacts.write", "oauth.readonly")


def service(
    world, *, marketplace="https://marketplace.gohighlevel.com", redirect="https://api.example/oauth/callback"
):
    signer = StateSigner(KEY, ttl_s=600, clock=world.clock)
    app = OAuthAppConfig(
        client_id="app123-xyz", marketplace_url=marketplace, scopes=SCOPES, redirect_uri=redirect
    )
    svc = OAuthInstallService(
        app,
        signer,
        world.oauth,
        world.tokens,
        world.connections,
        vault=world.vault(),
        agency_queue=world.agency_queue,
        agency_progress=world.connections,
        clock=world.clock,
    )
    svc.install_url = lambda account, redirect_uri=None, user_type=UserType.LOCATION: chooselocation_url(
        app, signer, account, redirect_uri=redirect_uri, user_type=user_type, browser_hash=BROWSER_HASH
    )
    return svc


# ------------------------------------------------------------------ state
def test_state_roundtrip_carries_account(world):
    signer = StateSigner(KEY, clock=world.clock)
    decoded = signer.verify(signer.sign("acct_1", UserType.COMPANY, browser_hash=BROWSER_HASH))
    assert decoded.rankr_account_id == "acct_1"
    assert decoded.user_type is UserType.COMPANY


def test_state_without_account(world):
    signer = StateSigner(KEY, clock=world.clock)
    assert signer.verify(signer.sign(None, browser_hash=BROWSER_HASH)).rankr_account_id is None


def test_state_expires(world):
    signer = StateSigner(KEY, ttl_s=600, clock=world.clock)
    state = signer.sign("acct_1", browser_hash=BROWSER_HASH)
    world.clock.advance(601)
    with pytest.raises(StateExpired):
        signer.verify(state)


def test_state_tampered_payload_is_rejected(world):
    signer = StateSigner(KEY, clock=world.clock)
    payload, mac = signer.sign("acct_1", browser_hash=BROWSER_HASH).split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["a"] = "acct_attacker"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidState):
        signer.verify(f"{forged}.{mac}")


def test_state_from_another_key_is_rejected(world):
    other = StateSigner("z" * 48, clock=world.clock).sign("acct_1", browser_hash=BROWSER_HASH)
    with pytest.raises(InvalidState):
        StateSigner(KEY, clock=world.clock).verify(other)


@pytest.mark.parametrize("bad", ["", "abc", "a.b.c", "%%%.###", "x" * 5000, "e30.e30"])
def test_state_malformed(world, bad):
    with pytest.raises(InvalidState):
        StateSigner(KEY, clock=world.clock).verify(bad)


def test_short_key_refused():
    with pytest.raises(ValueError):
        StateSigner("short")


# ------------------------------------------------------------------ install URL
def test_install_url_is_chooselocation_v2(world):
    url = service(world).install_url("acct_7")
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        == "https://marketplace.gohighlevel.com/v2/oauth/chooselocation"
    )
    q = parse_qs(parts.query)
    assert q["response_type"] == ["code"]
    assert q["client_id"] == ["app123-xyz"]
    assert q["redirect_uri"] == ["https://api.example/oauth/callback"]
    assert q["scope"] == [" ".join(SCOPES)]
    assert StateSigner(KEY, clock=world.clock).verify(q["state"][0]).rankr_account_id == "acct_7"


def test_install_url_white_label_and_derived_redirect(world):
    svc = service(world, marketplace="https://marketplace.leadconnectorhq.com/", redirect=None)
    url = svc.install_url(None, redirect_uri="https://derived.example/oauth/callback")
    assert url.startswith("https://marketplace.leadconnectorhq.com/v2/oauth/chooselocation?")
    assert parse_qs(urlsplit(url).query)["redirect_uri"] == ["https://derived.example/oauth/callback"]


# ------------------------------------------------------------------ callback
def test_location_install_stores_secret_and_record(world):
    svc = service(world)
    state = parse_qs(urlsplit(svc.install_url("acct_1")).query)["state"][0]
    grant = world.oauth.issue("Location", "co1", "loc1")
    world.oauth.codes["code-1"] = grant
    result = svc.complete_install(code="code-1", state=state, browser_nonce=NONCE)
    assert result.location_ids == ["loc1"]
    assert result.rankr_account_id == "acct_1"
    stored = world.tokens.read("loc1")
    assert stored.access_token.get_secret_value() == grant.access_token
    assert stored.refresh_token.get_secret_value() == grant.refresh_token
    conn = world.connections.get("loc1")
    assert conn.status is ConnectionStatus.ACTIVE
    assert conn.rankr_account_id == "acct_1"
    assert conn.company_id == "co1"
    assert conn.scopes == ("contacts.readonly", "contacts.write")
    assert conn.token_expires_at is not None


def test_location_install_answers_the_location_s_name_or_none_when_ghl_refuses_it(world):
    svc = service(world)
    world.oauth.names["loc1"] = "Dentist <Downtown>"
    world.oauth.codes["c1"] = world.oauth.issue("Location", "co1", "loc1")
    assert svc.complete_install(code="c1", state=None).location_name == "Dentist <Downtown>"
    world.oauth.name_denied.add("loc2")  # the token lacks locations.readonly: 403
    world.oauth.names["loc2"] = "Never shown"
    world.oauth.codes["c2"] = world.oauth.issue("Location", "co1", "loc2")
    denied = svc.complete_install(code="c2", state=None)
    assert denied.location_name is None and denied.location_ids == ["loc2"]
    assert world.connections.get("loc2") is not None  # the install itself stands


def test_marketplace_install_without_state_keeps_operator_link(world):
    svc = service(world)
    world.oauth.codes["c1"] = world.oauth.issue("Location", None, "loc1")
    svc.complete_install(code="c1", state=None)
    world.connections.link_rankr_account("loc1", "acct_linked")
    world.oauth.codes["c2"] = world.oauth.issue("Location", None, "loc1")
    result = svc.complete_install(code="c2", state=None)
    assert result.rankr_account_id == "acct_linked" and result.claim_code is None
    assert world.connections.get("loc1").rankr_account_id == "acct_linked"


def test_agency_install_stores_the_company_token_queues_the_fan_out_and_mints_nothing(world):
    svc = service(world)
    world.oauth.codes["c"] = world.oauth.issue("Company", "co1", None)
    world.oauth.installed["co1"] = ["locA", "locB", "locC"]
    state = StateSigner(KEY, clock=world.clock).sign("acct_9", UserType.COMPANY, browser_hash=BROWSER_HASH)
    result = svc.complete_install(code="c", state=state, browser_nonce=NONCE)
    assert result.user_type is UserType.COMPANY and result.company_id == "co1"
    assert result.continues and result.location_ids == []
    assert world.oauth.mint_calls == 0  # the fan-out mints, after the answer
    company = world.tokens.read(company_connection_id("co1"))
    assert company.refresh_token is not None
    record = world.connections.get(company_connection_id("co1"))
    assert record.user_type is UserType.COMPANY and record.rankr_account_id == "acct_9"
    assert record.agency_install["status"] == "queued"
    [job] = world.agency_queue.jobs
    assert job.company_id == "co1" and job.requested_ms == int(world.clock() * 1000) and job.part == 0
    assert [c.connection_id for c in world.connections.items.values()] == ["company:co1"]


def test_agency_install_that_cannot_queue_its_fan_out_asks_to_install_again(world):
    svc = service(world)
    world.oauth.codes["c"] = world.oauth.issue("Company", "co1", None)
    world.agency_queue.fail = True
    with pytest.raises(InstallStorageFailed) as info:
        svc.complete_install(code="c", state=None)
    assert "try the install again" in info.value.message
    # The agency itself is stored (a second install re-queues): no location was touched.
    assert world.tokens.read(company_connection_id("co1")) is not None
    assert list(world.connections.items) == ["company:co1"] and world.oauth.mint_calls == 0


def test_agency_install_without_a_fan_out_queue_is_refused_before_storing(world):
    signer = StateSigner(KEY, ttl_s=600, clock=world.clock)
    app = OAuthAppConfig(client_id="app123-xyz", marketplace_url="https://m.example", scopes=SCOPES)
    svc = OAuthInstallService(app, signer, world.oauth, world.tokens, world.connections, clock=world.clock)
    world.oauth.codes["c"] = world.oauth.issue("Company", "co1", None)
    with pytest.raises(InstallStorageFailed):
        svc.complete_install(code="c", state=None)
    assert world.tokens.secrets == {} and world.connections.items == {}


def test_record_failure_rolls_back_secrets(world):
    previous = world.install_company("co1")
    svc = service(world)
    world.oauth.codes["c"] = world.oauth.issue("Company", "co1", None)
    world.connections.fail_save_all = True
    with pytest.raises(InstallStorageFailed) as info:
        svc.complete_install(code="c", state=None)
    assert info.value.http_status == 503
    # The company secret holds its previous pair again, and no fan-out was queued.
    stored = world.tokens.read(company_connection_id("co1"))
    assert stored.access_token.get_secret_value() == previous.access_token.get_secret_value()
    assert world.agency_queue.jobs == []


def test_callback_errors(world):
    svc = service(world)
    with pytest.raises(MissingCode):
        svc.complete_install(code=None, state=None)
    with pytest.raises(InstallDenied):
        svc.complete_install(code=None, state=None, error="access_denied")
    with pytest.raises(InvalidState):
        svc.complete_install(code="x", state="forged.state")
    with pytest.raises(CodeExchangeRejected) as info:
        svc.complete_install(code="unknown-code", state=None)
    assert info.value.http_status == 400
    assert world.tokens.secrets == {} and world.connections.items == {}


def test_expired_state_is_rejected_before_exchange(world):
    svc = service(world)
    state = StateSigner(KEY, ttl_s=600, clock=world.clock).sign("acct", browser_hash=BROWSER_HASH)
    world.oauth.codes["c"] = world.oauth.issue("Location", None, "loc1")
    world.clock.advance(3600)
    with pytest.raises(StateExpired):
        svc.complete_install(code="c", state=state, browser_nonce=NONCE)
    assert "c" in world.oauth.codes  # the code was never spent


def test_location_grant_without_location_id_is_rejected(world):
    svc = service(world)
    world.oauth.codes["c"] = Grant("at", "rt", user_type="Location")
    with pytest.raises(CodeExchangeRejected):
        svc.complete_install(code="c", state=None)


def single_use_service(world):
    from fakes import InMemoryDedupeStore

    signer = StateSigner(KEY, ttl_s=600, clock=world.clock)
    app = OAuthAppConfig(client_id="app123-xyz", marketplace_url="https://m.example", scopes=SCOPES)
    used = InMemoryDedupeStore()
    svc = OAuthInstallService(
        app, signer, world.oauth, world.tokens, world.connections, used_states=used, clock=world.clock
    )
    return svc, signer, used


def test_a_state_completes_one_install_and_a_replay_is_refused_before_any_exchange(world):
    from fakes import InMemoryDedupeStore
    from rankr_ghl.connections.errors import StateReused

    signer = StateSigner(KEY, ttl_s=600, clock=world.clock)
    app = OAuthAppConfig(client_id="app123-xyz", marketplace_url="https://m.example", scopes=SCOPES)
    used = InMemoryDedupeStore()
    svc = OAuthInstallService(
        app, signer, world.oauth, world.tokens, world.connections, used_states=used, clock=world.clock
    )
    state = signer.sign("acct_1", browser_hash=BROWSER_HASH)
    world.oauth.codes["code-1"] = world.oauth.issue("Location", "co1", "loc1")
    svc.complete_install(
        code="code-1", state=state, browser_nonce=NONCE, redirect_uri="https://api.example/cb"
    )
    world.oauth.codes["code-2"] = world.oauth.issue("Location", "co1", "loc2")
    with pytest.raises(StateReused) as refused:
        svc.complete_install(
            code="code-2", state=state, browser_nonce=NONCE, redirect_uri="https://api.example/cb"
        )
    assert refused.value.http_status == 400
    assert "code-2" in world.oauth.codes  # never exchanged
    assert world.connections.get("loc2") is None
    other = signer.sign("acct_1", browser_hash=BROWSER_HASH)  # a fresh install link works
    svc.complete_install(
        code="code-2", state=other, browser_nonce=NONCE, redirect_uri="https://api.example/cb"
    )
    assert world.connections.get("loc2") is not None


def test_a_refused_code_leaves_the_install_link_usable_and_no_marker(world):
    svc, signer, used = single_use_service(world)
    state = signer.sign("acct_1", browser_hash=BROWSER_HASH)
    with pytest.raises(CodeExchangeRejected):
        svc.complete_install(
            code="no-such-code", state=state, browser_nonce=NONCE, redirect_uri="https://api.example/cb"
        )
    assert used._claims == {}
    world.oauth.codes["code-1"] = world.oauth.issue("Location", "co1", "loc1")
    svc.complete_install(
        code="code-1", state=state, browser_nonce=NONCE, redirect_uri="https://api.example/cb"
    )
    assert world.connections.get("loc1") is not None
