"""Token vault on the real adapters (DynamoDB lease, Secrets Manager) against the GHL sandbox."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import httpx
import pytest
from rankr_ghl import wiring
from rankr_ghl.connections import ConnectionNeedsReauth, ConnectionStatus, ConnectionUninstalled
from rankr_ghl.connections.vault import TokenVault

pytestmark = pytest.mark.integration

THREADS = 20
PROCESSES = 4
THREADS_PER_PROCESS = 5


def token_works(base_url: str, location_id: str, token: str) -> bool:
    r = httpx.get(
        f"{base_url}/contacts/",
        params={"locationId": location_id, "limit": 1},
        headers={"Authorization": f"Bearer {token}", "Version": "2021-07-28"},
        timeout=10,
    )
    return r.status_code == 200


def fresh_vault(**overrides) -> TokenVault:
    """A new 'container': own cache and lease owner, shared AWS + GHL."""
    from rankr_ghl.connections.vault import VaultConfig

    cfg = VaultConfig(poll_interval_s=0.05, **overrides)
    return TokenVault(
        wiring.root().token_store(),
        wiring.root().connection_store(),
        wiring.root().ghl_oauth_client(),
        config=cfg,
    )


def _child(location_id: str, ready, go, results) -> None:  # runs in a spawned process
    from rankr_ghl import wiring as child_wiring
    from rankr_ghl.connections.vault import TokenVault, VaultConfig

    vault = TokenVault(
        child_wiring.root().token_store(),
        child_wiring.root().connection_store(),
        child_wiring.root().ghl_oauth_client(),
        config=VaultConfig(poll_interval_s=0.05),
    )
    out: list[str] = []
    barrier = threading.Barrier(THREADS_PER_PROCESS)

    def call() -> None:
        barrier.wait()
        try:
            out.append("ok:" + vault.get_token(location_id))
        except Exception as exc:
            out.append("error:" + type(exc).__name__)

    threads = [threading.Thread(target=call) for _ in range(THREADS_PER_PROCESS)]
    ready.put(os.getpid())
    go.wait(30)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(out)


def test_refresh_race_threads_and_processes(conn_env, powertools_logs):
    loc = conn_env.new_id()
    old = conn_env.install_location(loc, expired=True)
    ctx = multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_child, args=(loc, ready, go, results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=60)
    conn_env.ghl.admin.reset_stats()

    vault = fresh_vault()
    local: list[str] = []
    barrier = threading.Barrier(THREADS)

    def call() -> None:
        barrier.wait()
        local.append(vault.get_token(loc))

    threads = [threading.Thread(target=call) for _ in range(THREADS)]
    go.set()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    remote: list[str] = []
    for _ in procs:
        remote.extend(results.get(timeout=60))
    for p in procs:
        p.join(30)

    assert all(r.startswith("ok:") for r in remote), remote
    tokens = set(local) | {r.removeprefix("ok:") for r in remote}
    conn_env.seen(*tokens)
    assert len(local) == THREADS and len(remote) == PROCESSES * THREADS_PER_PROCESS
    stats = conn_env.ghl.admin.stats()
    # This location's grants only: other tests' background work shares the sandbox.
    assert stats["refreshGrantsBySubject"].get(loc) == 1, stats["refreshGrantsBySubject"]
    assert len(tokens) == 1
    token = tokens.pop()
    assert token != old.access_token.get_secret_value()
    assert token_works(conn_env.ghl.url, loc, token)
    assert not token_works(conn_env.ghl.url, loc, old.access_token.get_secret_value())
    stored = wiring.root().token_store().read(loc, fresh=True)
    assert stored.access_token.get_secret_value() == token
    record = wiring.root().connection_store().get(loc)
    assert record.last_refresh_at is not None
    # The leak check reads real log output (the winner may be a child process; waiters log here).
    assert loc in powertools_logs.getvalue()


class FailingTokenStore:
    """Secrets Manager refusing the vault's rotation writes (`replace`) while `fail` > 0."""

    def __init__(self, inner, fail: int) -> None:
        self.inner = inner
        self.fail = fail

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def replace(self, connection_id, bundle):
        if self.fail > 0:
            self.fail -= 1
            raise RuntimeError("injected PutSecretValue failure")
        self.inner.replace(connection_id, bundle)


def test_unwritable_secret_keeps_the_pair_in_the_pending_slot(conn_env):
    loc = conn_env.new_id()
    old = conn_env.install_location(loc, expired=True)
    from rankr_ghl.connections.vault import VaultConfig

    store = FailingTokenStore(wiring.root().token_store(), fail=10_000)
    vault = TokenVault(
        store,
        wiring.root().connection_store(),
        wiring.root().ghl_oauth_client(),
        config=VaultConfig(write_backoff_s=0.01, default_budget_s=2.5, poll_interval_s=0.05, lease_wait_s=1),
    )
    conn_env.ghl.admin.reset_stats()
    token = vault.get_token(loc)
    conn_env.seen(token)
    assert token_works(conn_env.ghl.url, loc, token)
    # Secrets Manager still holds the old (now spent) pair; the live one waits in DynamoDB.
    assert (
        wiring.root().token_store().read(loc).access_token.get_secret_value()
        == old.access_token.get_secret_value()
    )
    pending = wiring.root().connection_store().read_pending_token(loc)
    assert pending is not None and pending.access_token.get_secret_value() == token
    assert not vault.has_unsaved_tokens()
    # This container is recycled. The next one that must refresh reconciles the pending pair first.
    later = fresh_vault(refresh_margin_s=90_000)  # every stored token counts as expiring
    assert later.get_token(loc) != old.access_token.get_secret_value()
    assert wiring.root().connection_store().read_pending_token(loc) is None
    stored = wiring.root().token_store().read(loc)
    conn_env.seen(stored.access_token.get_secret_value())
    assert stored.issued_at >= pending.issued_at
    assert wiring.root().connection_store().get(loc).status is ConnectionStatus.ACTIVE


def test_replayed_old_uninstall_after_reinstall_is_skipped(conn_env):
    loc = conn_env.new_id()
    conn_env.install_location(loc, lifecycle_event_ms=int(time.time() * 1000) - 60_000)
    lifecycle = wiring.root().connection_lifecycle()
    uninstall_at = int(time.time() * 1000) - 30_000
    assert lifecycle.handle_uninstall(
        location_id=loc, company_id=None, event_ms=uninstall_at, event_id="wh-u"
    )
    assert wiring.root().connection_store().get(loc).status is ConnectionStatus.UNINSTALLED
    conn_env.install_location(loc, lifecycle_event_ms=int(time.time() * 1000))  # the reinstall's callback
    assert (
        lifecycle.handle_uninstall(location_id=loc, company_id=None, event_ms=uninstall_at, event_id="wh-u")
        == []
    )
    assert wiring.root().connection_store().get(loc).status is ConnectionStatus.ACTIVE
    assert not wiring.root().token_store().is_scheduled_for_deletion(loc)
    item = conn_env.aws.client("dynamodb").get_item(
        TableName=conn_env.env["CONNECTIONS_TABLE"], Key={"connectionId": {"S": loc}}
    )["Item"]
    assert item["staleEventCount"]["N"] == "1"
    assert item["lastStaleEvent"]["M"]["eventId"]["S"] == "wh-u"


def test_rotation_write_never_recreates_a_deleted_secret(conn_env):
    from rankr_ghl.connections import ConnectionUninstalled as Gone

    loc = conn_env.new_id()
    bundle = conn_env.install_location(loc)
    store = wiring.root().token_store()
    store.schedule_deletion(loc, 7)
    with pytest.raises(Gone):
        store.replace(loc, bundle)
    with pytest.raises(Gone):
        store.write(loc, bundle)
    assert store.is_scheduled_for_deletion(loc)
    never = conn_env.new_id()
    with pytest.raises(Gone):
        store.replace(never, bundle)
    assert store.read(never) is None


def test_invalid_grant_marks_needs_reauth(conn_env):
    loc = conn_env.new_id()
    conn_env.install_location(loc, expired=True)
    # The refresh token is spent elsewhere (and the grace window closed): GHL says invalid_grant.
    conn_env.ghl.admin.uninstall(location_id=loc, emit_webhook=False)
    conn_env.ghl.admin.create_location(loc)
    vault = fresh_vault()
    conn_env.ghl.admin.reset_stats()
    with pytest.raises(ConnectionNeedsReauth):
        vault.get_token(loc)
    assert wiring.root().connection_store().get(loc).status is ConnectionStatus.NEEDS_REAUTH
    for _ in range(3):
        with pytest.raises(ConnectionNeedsReauth):
            vault.get_token(loc)
    with pytest.raises(ConnectionNeedsReauth):
        fresh_vault().get_token(loc)
    assert conn_env.ghl.admin.stats()["refreshGrants"] == 1  # no retry storm


def test_uninstall_schedules_secret_deletion_and_stops_traffic(conn_env):
    loc = conn_env.new_id()
    conn_env.install_location(loc)
    lifecycle = wiring.root().connection_lifecycle()
    vault = wiring.root().token_vault()
    assert vault.get_token(loc)
    assert lifecycle.is_active(loc)
    lifecycle.handle_uninstall(location_id=loc, company_id=None)
    assert wiring.root().token_store().is_scheduled_for_deletion(loc)
    assert wiring.root().connection_store().get(loc).status is ConnectionStatus.UNINSTALLED
    assert not lifecycle.is_active(loc)
    with pytest.raises(ConnectionUninstalled):
        vault.get_token(loc)
    with pytest.raises(ConnectionUninstalled):
        fresh_vault().get_token(loc)
    lifecycle.handle_uninstall(location_id=loc, company_id=None)  # redelivery is harmless


def test_install_webhook_before_agency_callback_is_retryable_then_mints(conn_env):
    from rankr_ghl.connections import CompanyTokenNotStored

    company = conn_env.new_id("co")
    loc = conn_env.new_id()
    conn_env.ghl.admin.create_company(company)
    conn_env.ghl.admin.create_location(loc, company_id=company)
    lifecycle = wiring.root().connection_lifecycle()
    with pytest.raises(CompanyTokenNotStored) as info:
        lifecycle.handle_install(location_id=loc, company_id=company)
    assert info.value.retryable
    # The agency callback finishes: its token is stored.
    from rankr_ghl.connections.models import (
        Connection,
        TokenBundle,
        UserType,
        company_connection_id,
        from_epoch,
    )
    from rankr_ghl.wire_values import SecretStr

    pair = conn_env.ghl.admin.tokens(company_id=company)
    conn_env.seen(pair["access_token"], pair["refresh_token"])
    now = time.time()
    cid = company_connection_id(company)
    wiring.root().token_store().install(
        cid,
        TokenBundle(
            access_token=SecretStr(pair["access_token"]),
            refresh_token=SecretStr(pair["refresh_token"]),
            expires_at=now + 86000,
            user_type=UserType.COMPANY,
            company_id=company,
            issued_at=now,
        ),
    )
    wiring.root().connection_store().save_all(
        [
            Connection(
                connection_id=cid,
                company_id=company,
                user_type=UserType.COMPANY,
                installed_at=from_epoch(now),
            )
        ]
    )
    created = lifecycle.handle_install(location_id=loc, company_id=company)
    assert [c.connection_id for c in created] == [loc]
    token = wiring.root().token_vault().get_token(loc)
    conn_env.seen(token)
    assert token_works(conn_env.ghl.url, loc, token)
