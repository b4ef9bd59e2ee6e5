"""Rotated pairs are never lost: writes retried within the invocation's time, a second durable
place when the secret stays unwritable, needs_reauth only on the latest pair and cleared by a save."""

from __future__ import annotations

import threading

import pytest
from rankr_ghl.connections.errors import ConnectionNeedsReauth, ConnectionUninstalled, TokenRefreshDeferred
from rankr_ghl.connections.models import ConnectionStatus


def stored_refresh(world, cid: str) -> str:
    return world.tokens.read(cid).refresh_token.get_secret_value()


def test_secret_writes_fail_four_times_then_recover_in_the_same_call(world):
    world.install_location("loc1", expires_in=10)
    world.tokens.fail_writes = 4
    token = world.vault().get_token("loc1")
    assert world.tokens.read("loc1").access_token.get_secret_value() == token
    assert "TokenWriteFailed" not in world.metrics.counts
    assert "TokenSavedAsPending" not in world.metrics.counts
    assert world.oauth.refresh_calls == 1


def test_write_retries_stop_at_the_invocations_remaining_time(world):
    world.install_location("loc1", expires_in=10)
    world.tokens.fail_writes = 1000
    start = world.clock()
    world.vault(remaining_s=lambda: 6.0 - (world.clock() - start)).get_token("loc1")
    # 6 s left, 2 s kept in reserve: the retries end within the invocation.
    assert world.clock() - start <= 4.0 + 1e-6
    assert world.metrics.counts["TokenSavedAsPending"] == 1


def test_unwritable_secret_falls_back_to_pending_and_a_new_container_reconciles(world):
    old = world.install_location("loc1", expires_in=10)
    world.tokens.fail_writes = 1000
    first = world.vault().get_token("loc1")  # the container that got the grant is then recycled
    assert world.metrics.counts["TokenSavedAsPending"] == 1
    assert stored_refresh(world, "loc1") == old.refresh_token.get_secret_value()  # secret: spent pair
    assert "loc1" not in world.connections.leases  # durable: nobody needs to wait for us
    world.tokens.fail_writes = 0
    world.clock.advance(86399)  # the new pair expires too: the next container must refresh
    second = world.vault().get_token("loc1")
    assert second != first
    assert world.oauth.refresh_calls == 2
    # The spent refresh token was never sent again, so GHL never answered invalid_grant.
    assert len(world.oauth.sent_refresh_tokens) == len(set(world.oauth.sent_refresh_tokens))
    assert world.connections.get("loc1").status is ConnectionStatus.ACTIVE
    assert world.tokens.read("loc1").access_token.get_secret_value() == second
    assert world.connections.read_pending_token("loc1") is None
    assert world.metrics.counts["TokenPendingReconciled"] == 1


def test_no_refresh_starts_without_time_to_store_it(world):
    world.install_location("loc1", expires_in=-1)  # expired: serving it is no option
    with pytest.raises(TokenRefreshDeferred) as info:
        world.vault(remaining_s=lambda: 1.0).get_token("loc1")
    assert info.value.retryable
    assert world.oauth.refresh_calls == 0
    assert "loc1" not in world.connections.leases


def test_expiring_but_valid_token_is_served_when_no_time_to_refresh(world):
    bundle = world.install_location("loc1", expires_in=120)
    assert world.vault(remaining_s=lambda: 1.0).get_token("loc1") == bundle.access_token.get_secret_value()
    assert world.oauth.refresh_calls == 0


def test_container_dies_after_the_grant_before_the_write(world):
    world.oauth.reuse_grace_s = 30.0
    world.oauth.clock = world.clock
    old = world.install_location("loc1", expires_in=10)
    # The dead container took the lease and got GHL's new pair, then vanished before writing it.
    assert world.connections.acquire_lease("loc1", "dead", 25, world.clock())
    lost = world.oauth.refresh(old.refresh_token.get_secret_value(), "Location")
    token = world.vault(lease_wait_s=60).get_token("loc1")  # waits out the 25 s lease (< 30 s grace)
    assert token == lost.access_token  # GHL's grace handed back the same pair: nothing lost
    assert stored_refresh(world, "loc1") == lost.refresh_token
    assert world.connections.get("loc1").status is ConnectionStatus.ACTIVE
    assert len(world.oauth.live_refresh) == 1  # one grant: the pair the dead container received


class StallingTokens:
    """The first `replace` blocks until released: a writer stalled past its lease."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.stalled = threading.Event()
        self.release = threading.Event()
        self._first = True

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def replace(self, connection_id, bundle) -> None:
        if self._first:
            self._first = False
            self.stalled.set()
            assert self.release.wait(10)
        self.inner.replace(connection_id, bundle)


def _stalled_writer(world):
    from rankr_ghl.connections.vault import TokenVault, VaultConfig

    tokens = StallingTokens(world.tokens)
    writer = TokenVault(
        tokens,
        world.connections,
        world.oauth,
        config=VaultConfig(),
        clock=world.clock,
        sleep=world.clock.sleep,
        metric=world.metrics,
    )
    out: dict[str, object] = {}
    thread = threading.Thread(target=lambda: out.setdefault("token", writer.get_token("loc1")))
    thread.start()
    assert tokens.stalled.wait(10)
    world.clock.advance(40)  # the writer's 25 s lease expires (and GHL's 30 s grace passes)
    return tokens, thread, out


def test_lease_expires_while_writer_stalled_write_lands_before_the_rejection(world):
    world.install_location("loc1", expires_in=10)
    tokens, thread, out = _stalled_writer(world)
    real_refresh = world.oauth.refresh

    def refresh_while_writer_lands(refresh_token, user_type):
        tokens.release.set()  # the stalled write completes while GHL answers the second container
        thread.join(10)
        return real_refresh(refresh_token, user_type)

    world.oauth.refresh = refresh_while_writer_lands
    token = world.vault().get_token("loc1")
    assert token == out["token"]  # the second container uses the writer's pair
    assert world.connections.get("loc1").status is ConnectionStatus.ACTIVE
    assert "TokenNeedsReauth" not in world.metrics.counts
    assert world.metrics.counts["TokenInvalidGrantSuperseded"] == 1


def test_lease_expires_while_writer_stalled_write_lands_after_the_rejection(world):
    world.install_location("loc1", expires_in=10)
    tokens, thread, out = _stalled_writer(world)
    other = world.vault()
    with pytest.raises(ConnectionNeedsReauth):
        other.get_token("loc1")  # GHL rejected the spent token and nothing newer was stored yet
    assert world.connections.get("loc1").status is ConnectionStatus.NEEDS_REAUTH
    tokens.release.set()
    thread.join(10)
    # Saving the valid pair cleared the mark; other containers recover after their memo.
    assert world.connections.get("loc1").status is ConnectionStatus.ACTIVE
    assert world.metrics.counts["TokenReauthCleared"] == 1
    world.clock.advance(61)
    assert other.get_token("loc1") == out["token"]


def test_memory_only_pair_saved_later_clears_needs_reauth(world):
    world.install_location("loc1", expires_in=10)
    world.connections.fail_pending = True
    world.tokens.fail_writes = 1000
    vault = world.vault()
    token = vault.get_token("loc1")
    assert vault.has_unsaved_tokens()
    world.connections.set_status("loc1", ConnectionStatus.NEEDS_REAUTH, "invalid_grant")
    world.tokens.fail_writes = 0
    assert vault.get_token("loc1") == token
    assert world.connections.get("loc1").status is ConnectionStatus.ACTIVE


def test_rotation_never_resurrects_an_uninstalled_secret(world):
    world.install_location("loc1", expires_in=10)
    real_refresh = world.oauth.refresh

    def uninstall_during_refresh(refresh_token, user_type):
        world.tokens.schedule_deletion("loc1", 7)  # UNINSTALL processed meanwhile
        return real_refresh(refresh_token, user_type)

    world.oauth.refresh = uninstall_during_refresh
    with pytest.raises(ConnectionUninstalled):
        world.vault().get_token("loc1")
    assert world.tokens.read("loc1") is None
    assert world.connections.read_pending_token("loc1") is None


def test_invocation_deadline_feeds_the_vault(world):
    from rankr_ghl.deadlines import InvocationDeadline

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 3_000

    deadline = InvocationDeadline(clock=world.clock)
    assert deadline.remaining_s() is None
    deadline.start(Context())
    world.install_location("loc1", expires_in=-1)
    with pytest.raises(TokenRefreshDeferred):
        world.vault(remaining_s=deadline.remaining_s).get_token("loc1")
    deadline.start(None)
    assert deadline.remaining_s() is None


def test_the_root_vault_reads_the_invocation_deadline():
    from rankr_ghl import deadlines, wiring

    vault = wiring.root().token_vault()
    assert vault._remaining_s == deadlines.invocation.remaining_s
