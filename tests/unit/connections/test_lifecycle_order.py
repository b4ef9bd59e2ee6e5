"""INSTALL/UNINSTALL are applied in event order (time, then webhookId); stale ones are audited and skipped."""

from __future__ import annotations

from rankr_ghl.connections.event_order import lifecycle_event_order
from rankr_ghl.connections.install_links import nonce_hash
from rankr_ghl.connections.lifecycle import ConnectionLifecycle
from rankr_ghl.connections.models import ConnectionStatus
from rankr_ghl.connections.oauth_flow import OAuthAppConfig, OAuthInstallService
from rankr_ghl.connections.state import StateSigner


def lifecycle(world):
    return ConnectionLifecycle(
        world.tokens,
        world.connections,
        world.oauth,
        world.vault(),
        app_id="app123",
        clock=world.clock,
        metric=world.metrics,
    )


def callback_install(world, location_id: str) -> None:
    signer = StateSigner("k" * 48, ttl_s=600, clock=world.clock)
    app = OAuthAppConfig(
        client_id="app123-xyz",
        marketplace_url="https://marketplace.gohighlevel.com",
        scopes=("contacts.readonly",),
        redirect_uri="https://api.example/oauth/callback",
    )
    svc = OAuthInstallService(
        app, signer, world.oauth, world.tokens, world.connections, vault=world.vault(), clock=world.clock
    )
    nonce = "browser-nonce-" + location_id
    state = signer.sign("acct_1", browser_hash=nonce_hash(nonce))
    world.oauth.codes["code-" + location_id] = world.oauth.issue("Location", "co1", location_id)
    svc.complete_install(code="code-" + location_id, state=state, browser_nonce=nonce)


def ms(world, offset_s: float = 0) -> int:
    return int((world.clock() + offset_s) * 1000)


def test_install_uninstall_reinstall_then_a_replayed_old_uninstall_is_skipped(world):
    lc = lifecycle(world)
    callback_install(world, "loc1")  # install
    world.clock.advance(60)
    uninstall_at = ms(world)
    lc.handle_uninstall(location_id="loc1", company_id=None, event_ms=uninstall_at, event_id="wh-u1")
    assert world.connections.get("loc1").status is ConnectionStatus.UNINSTALLED
    assert world.tokens.read("loc1") is None
    world.clock.advance(60)
    callback_install(world, "loc1")  # reinstall
    assert world.connections.get("loc1").status is ConnectionStatus.ACTIVE
    # GHL retries (or someone replays) the old UNINSTALL after the reinstall.
    done = lc.handle_uninstall(location_id="loc1", company_id=None, event_ms=uninstall_at, event_id="wh-u1")
    assert done == []
    assert world.connections.get("loc1").status is ConnectionStatus.ACTIVE
    assert world.tokens.read("loc1") is not None  # the new secret is not scheduled for deletion
    assert world.metrics.counts["LifecycleEventStale"] == 1
    assert world.connections.stale_events == [("loc1", "UNINSTALL", uninstall_at, "wh-u1")]


def test_a_newer_uninstall_still_applies_after_a_reinstall(world):
    lc = lifecycle(world)
    callback_install(world, "loc1")
    world.clock.advance(5)
    lc.handle_uninstall(location_id="loc1", company_id=None, event_ms=ms(world), event_id="wh-2")
    assert world.connections.get("loc1").status is ConnectionStatus.UNINSTALLED


def test_a_retried_uninstall_reapplies_idempotently(world):
    lc = lifecycle(world)
    callback_install(world, "loc1")
    world.clock.advance(5)
    at = ms(world)
    lc.handle_uninstall(location_id="loc1", company_id=None, event_ms=at, event_id="wh-2")
    assert lc.handle_uninstall(location_id="loc1", company_id=None, event_ms=at, event_id="wh-2") == ["loc1"]
    assert "LifecycleEventStale" not in world.metrics.counts


def test_same_time_orders_by_webhook_id(world):
    lc = lifecycle(world)
    callback_install(world, "loc1")
    world.clock.advance(5)
    at = ms(world)
    world.connections.claim_lifecycle_event("loc1", at, "wh-b")
    assert lc.handle_uninstall(location_id="loc1", company_id=None, event_ms=at, event_id="wh-a") == []
    assert world.connections.get("loc1").status is ConnectionStatus.ACTIVE


def test_a_stale_install_after_a_newer_uninstall_mints_nothing(world):
    world.install_company("co1")
    lc = lifecycle(world)
    install_at = ms(world)
    lc.handle_install(location_id="locN", company_id="co1", event_ms=install_at, event_id="wh-i")
    lc.handle_uninstall(location_id="locN", company_id=None, event_ms=install_at + 1000, event_id="wh-u")
    mints = world.oauth.mint_calls
    assert lc.handle_install(location_id="locN", company_id="co1", event_ms=install_at, event_id="wh-i") == []
    assert world.oauth.mint_calls == mints
    assert world.connections.get("locN").status is ConnectionStatus.UNINSTALLED
    assert world.metrics.counts["LifecycleEventStale"] == 1


def test_event_order_reads_the_event_time_then_received_at():
    assert lifecycle_event_order(
        {
            "webhookId": "w1",
            "receivedAt": "2026-01-01T00:00:10+00:00",
            "event": {"timestamp": "2026-01-01T00:00:00Z"},
        }
    ) == (1767225600000, "w1")
    assert lifecycle_event_order({"receivedAt": "2026-01-01T00:00:10.000+00:00", "event": {}}) == (
        1767225610000,
        None,
    )
    assert lifecycle_event_order({"event": {"timestamp": 1767225600, "webhookId": "w2"}}) == (
        1767225600000,
        "w2",
    )
    assert lifecycle_event_order({"event": {}}) == (None, None)
