from __future__ import annotations

import threading
import time

import pytest
from rankr_ghl.connections.errors import (
    ConnectionNeedsReauth,
    ConnectionNotFound,
    ConnectionPaused,
    TokenRefreshInProgress,
)
from rankr_ghl.connections.models import ConnectionStatus, PauseReason, company_connection_id
from rankr_ghl.ghl.tokens import TokenSource


def stored_access(world, cid: str) -> str:
    return world.tokens.read(cid).access_token.get_secret_value()


def test_vault_is_a_token_source(world):
    assert isinstance(world.vault(), TokenSource)


def test_valid_token_is_served_from_cache(world):
    bundle = world.install_location("loc1")
    vault = world.vault()
    assert vault.get_token("loc1") == bundle.access_token.get_secret_value()
    reads = world.tokens.reads
    for _ in range(5):
        vault.get_token("loc1")
    assert world.tokens.reads == reads
    assert world.oauth.refresh_calls == 0


def test_cache_is_reloaded_after_ttl(world):
    world.install_location("loc1")
    vault = world.vault(cache_ttl_s=60)
    vault.get_token("loc1")
    # Another container refreshed: the secret now holds a different (valid) token.
    other = world.install_location("loc1")
    world.clock.advance(61)
    assert vault.get_token("loc1") == other.access_token.get_secret_value()
    assert world.oauth.refresh_calls == 0


def test_unknown_location_raises_not_found(world):
    with pytest.raises(ConnectionNotFound):
        world.vault().get_token("nope")


def test_expiring_token_is_refreshed_and_stored_before_use(world):
    old = world.install_location("loc1", expires_in=120)  # inside the 300 s margin
    vault = world.vault()
    token = vault.get_token("loc1")
    assert token != old.access_token.get_secret_value()
    assert world.oauth.refresh_calls == 1
    assert stored_access(world, "loc1") == token  # persisted
    stored = world.tokens.read("loc1")
    assert stored.refresh_token.get_secret_value() != old.refresh_token.get_secret_value()
    conn = world.connections.get("loc1")
    assert conn.last_refresh_at is not None
    assert conn.token_expires_at.timestamp() == pytest.approx(stored.expires_at)
    assert world.metrics.counts["TokenRefreshed"] == 1
    # The lease is released afterwards.
    assert "loc1" not in world.connections.leases


def test_single_flight_across_threads_and_containers(world):
    world.install_location("loc1", expires_in=-10, now=time.time())  # already expired
    world.oauth.refresh_delay_s = 0.05
    vaults = [world.vault(real_time=True, poll_interval_s=0.01) for _ in range(4)]
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def call(v):
        barrier.wait()
        try:
            results.append(v.get_token("loc1"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(vaults[i % 4],)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert world.oauth.refresh_calls == 1
    assert len(set(results)) == 1
    assert results[0] in world.oauth.valid_access
    assert results[0] == stored_access(world, "loc1")


def test_dead_refresher_lease_expires(world):
    world.install_location("loc1", expires_in=10)
    now = world.clock()
    assert world.connections.acquire_lease("loc1", "dead-container", 25, now)
    vault = world.vault(lease_ttl_s=25, lease_wait_s=60)
    token = vault.get_token("loc1")  # waits (fake clock) until the dead lease expires, then refreshes
    assert world.oauth.refresh_calls == 1
    assert token == stored_access(world, "loc1")
    assert world.clock() >= now + 25


def test_waiter_gives_up_with_retryable_error_while_lease_held(world):
    world.install_location("loc1", expires_in=10)
    assert world.connections.acquire_lease("loc1", "busy-container", 25, world.clock())
    vault = world.vault(lease_ttl_s=25, lease_wait_s=5)
    with pytest.raises(TokenRefreshInProgress) as info:
        vault.get_token("loc1")
    assert info.value.retryable
    assert world.oauth.refresh_calls == 0


def test_waiter_picks_up_the_winners_pair(world):
    world.install_location("loc1", expires_in=10)
    assert world.connections.acquire_lease("loc1", "winner", 25, world.clock())
    vault = world.vault(lease_wait_s=5)
    # The winner publishes while we wait: simulate by writing a fresh pair on the first poll sleep.
    winner_bundle = {}
    original_sleep = world.clock.sleep

    def sleep_and_publish(seconds):
        original_sleep(seconds)
        if not winner_bundle:
            winner_bundle["b"] = world.install_location("loc1")

    vault._sleep = sleep_and_publish
    assert vault.get_token("loc1") == winner_bundle["b"].access_token.get_secret_value()
    assert world.oauth.refresh_calls == 0


def test_failed_write_keeps_pair_in_memory_and_retries(world):
    old = world.install_location("loc1", expires_in=10)
    vault = world.vault(write_attempts=3)
    world.tokens.fail_writes = 3
    world.connections.fail_pending = True  # the second durable place fails too
    token = vault.get_token("loc1")
    assert token in world.oauth.valid_access
    assert world.metrics.counts["TokenWriteFailed"] == 1
    assert stored_access(world, "loc1") == old.access_token.get_secret_value()  # write never landed
    assert vault.has_unsaved_tokens()
    # The lease stays held so no other container spends the old refresh token.
    other = world.vault(lease_wait_s=2)
    other._fail_fast("loc1")
    with pytest.raises(TokenRefreshInProgress):
        other.get_token("loc1")
    assert world.oauth.refresh_calls == 1
    # Secrets Manager recovers: the next call persists the pair and releases the lease.
    assert vault.get_token("loc1") == token
    assert stored_access(world, "loc1") == token
    assert not vault.has_unsaved_tokens()
    assert world.metrics.counts["TokenWriteRecovered"] == 1
    assert "loc1" not in world.connections.leases
    assert world.oauth.refresh_calls == 1
    assert len(world.oauth.sent_refresh_tokens) == len(set(world.oauth.sent_refresh_tokens))


def test_write_retries_within_the_call(world):
    world.install_location("loc1", expires_in=10)
    world.tokens.fail_writes = 2
    token = world.vault(write_attempts=4).get_token("loc1")
    assert stored_access(world, "loc1") == token
    assert "TokenWriteFailed" not in world.metrics.counts


def test_unsaved_pair_is_refreshed_from_memory_not_from_store(world):
    world.install_location("loc1", expires_in=10)
    vault = world.vault(write_attempts=1)
    world.tokens.fail_writes = 10
    world.connections.fail_pending = True
    first = vault.get_token("loc1")
    world.clock.advance(86399)  # the in-memory pair expires too, still unsaved
    second = vault.get_token("loc1")
    assert second != first
    assert world.oauth.refresh_calls == 2
    # Never re-sent a spent refresh token (that would be invalid_grant at GHL).
    assert len(world.oauth.sent_refresh_tokens) == len(set(world.oauth.sent_refresh_tokens))
    world.tokens.fail_writes = 0
    vault.get_token("loc1")
    assert stored_access(world, "loc1") == second


def test_invalid_grant_marks_needs_reauth_and_fails_fast(world):
    bundle = world.install_location("loc1", expires_in=10)
    world.oauth.live_refresh.pop(bundle.refresh_token.get_secret_value())  # GHL no longer knows it
    vault = world.vault()
    with pytest.raises(ConnectionNeedsReauth) as info:
        vault.get_token("loc1")
    assert not info.value.retryable
    assert world.connections.get("loc1").status is ConnectionStatus.NEEDS_REAUTH
    assert world.metrics.counts["TokenNeedsReauth"] == 1
    calls = world.oauth.refresh_calls
    for _ in range(5):
        with pytest.raises(ConnectionNeedsReauth):
            vault.get_token("loc1")
    # Another container does not call GHL either: the record says needs_reauth.
    with pytest.raises(ConnectionNeedsReauth):
        world.vault().get_token("loc1")
    world.clock.advance(120)  # past the memo: still no GHL call, the record decides
    with pytest.raises(ConnectionNeedsReauth):
        vault.get_token("loc1")
    assert world.oauth.refresh_calls == calls == 1


def test_reinstall_heals_needs_reauth(world):
    bundle = world.install_location("loc1", expires_in=10)
    world.oauth.live_refresh.pop(bundle.refresh_token.get_secret_value())
    vault = world.vault()
    with pytest.raises(ConnectionNeedsReauth):
        vault.get_token("loc1")
    fresh = world.install_location("loc1")  # the OAuth callback stores a new pair, status active
    vault.invalidate("loc1")
    assert vault.get_token("loc1") == fresh.access_token.get_secret_value()


def test_location_inactive_pauses_and_retries_later(world):
    world.install_location("loc1", expires_in=10)
    world.oauth.inactive.add("loc1")
    vault = world.vault(inactive_retry_s=300)
    with pytest.raises(ConnectionPaused) as info:
        vault.get_token("loc1")
    assert info.value.retryable
    conn = world.connections.get("loc1")
    assert conn.status is ConnectionStatus.PAUSED
    assert conn.status_reason == PauseReason.LOCATION_INACTIVE
    with pytest.raises(ConnectionPaused):
        vault.get_token("loc1")
    assert world.oauth.refresh_calls == 1
    world.oauth.inactive.clear()
    world.clock.advance(301)
    token = vault.get_token("loc1")  # same refresh token works once the location is active again
    assert token == stored_access(world, "loc1")
    assert world.connections.get("loc1").status is ConnectionStatus.ACTIVE
    assert world.oauth.refresh_calls == 2


def test_report_unauthorized_refreshes_once(world):
    bundle = world.install_location("loc1")
    vault = world.vault()
    rejected = vault.get_token("loc1")
    assert rejected == bundle.access_token.get_secret_value()
    fresh = vault.report_unauthorized("loc1", rejected)
    assert fresh is not None and fresh != rejected
    assert world.oauth.refresh_calls == 1
    assert vault.report_unauthorized("loc1", fresh) is None  # a second 401 at once: give up
    assert world.oauth.refresh_calls == 1


def test_report_unauthorized_with_an_already_replaced_token(world):
    world.install_location("loc1")
    vault = world.vault()
    current = vault.get_token("loc1")
    assert vault.report_unauthorized("loc1", "some-older-token") == current
    assert world.oauth.refresh_calls == 0


def test_report_unauthorized_uses_another_containers_refresh(world):
    world.install_location("loc1")
    vault = world.vault()
    rejected = vault.get_token("loc1")
    newer = world.install_location("loc1")  # another container already rotated
    assert vault.report_unauthorized("loc1", rejected) == newer.access_token.get_secret_value()
    assert world.oauth.refresh_calls == 0


def test_minted_location_token_is_renewed_via_company(world):
    world.install_company("co1", expires_in=10)  # the agency token needs a refresh too
    world.mint_location("co1", "loc9", expires_in=10)
    vault = world.vault()
    token = vault.get_token("loc9")
    assert world.oauth.mint_calls == 1
    assert world.oauth.refresh_calls == 1  # the company token
    stored = world.tokens.read("loc9")
    assert stored.access_token.get_secret_value() == token
    assert stored.refresh_token is None and stored.minted_from_company
    assert world.tokens.read(company_connection_id("co1")).expires_at > world.clock() + 3600


def test_invalid_grant_for_agency_location_falls_back_to_minting(world):
    world.install_company("co1")
    bundle = world.install_location("loc5", expires_in=10, company_id="co1")
    world.oauth.live_refresh.pop(bundle.refresh_token.get_secret_value())
    token = world.vault().get_token("loc5")
    assert world.oauth.mint_calls == 1
    assert stored_access(world, "loc5") == token
    assert world.connections.get("loc5").status is ConnectionStatus.ACTIVE


def test_lease_requires_an_existing_connection(world):
    world.tokens.write("ghost", world.install_location("loc1", expires_in=10))
    vault = world.vault(lease_wait_s=1)
    with pytest.raises(ConnectionNotFound):
        vault.get_token("ghost")
