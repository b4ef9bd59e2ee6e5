from __future__ import annotations

import pytest
from rankr_ghl.config import AppSecret, ConfigError, Settings
from rankr_ghl.connections.errors import (
    CompanyTokenNotStored,
    ConnectionNotFound,
    ConnectionsError,
    ConnectionUninstalled,
)
from rankr_ghl.connections.lifecycle import ConnectionLifecycle
from rankr_ghl.connections.models import ConnectionStatus, PauseReason, company_connection_id


def lifecycle(world, vault=None, agency_queue=None):
    return ConnectionLifecycle(
        world.tokens,
        world.connections,
        world.oauth,
        vault or world.vault(),
        app_id="app123",
        clock=world.clock,
        metric=world.metrics,
        agency_queue=agency_queue,
    )


def test_install_before_company_token_is_retryable(world):
    with pytest.raises(CompanyTokenNotStored) as info:
        lifecycle(world).handle_install(location_id="locN", company_id="co1")
    assert info.value.retryable
    assert world.tokens.secrets == {}


def test_install_mints_location_once_company_is_stored(world):
    world.install_company("co1")
    world.connections.link_rankr_account(company_connection_id("co1"), "acct_co")
    lc = lifecycle(world)
    created = lc.handle_install(location_id="locN", company_id="co1")
    assert [c.connection_id for c in created] == ["locN"]
    bundle = world.tokens.read("locN")
    assert bundle.minted_from_company
    conn = world.connections.get("locN")
    assert conn.rankr_account_id == "acct_co" and conn.status is ConnectionStatus.ACTIVE
    # Idempotent: a redelivered INSTALL changes nothing.
    again = lc.handle_install(location_id="locN", company_id="co1")
    assert world.oauth.mint_calls == 1
    assert again[0].connection_id == "locN"


def test_install_for_own_grant_location_is_a_no_op(world):
    world.install_location("loc1", company_id="co1")
    lifecycle(world).handle_install(location_id="loc1", company_id="co1")
    assert world.oauth.mint_calls == 0


def test_agency_level_install_fills_missing_locations(world):
    world.install_company("co1")
    world.oauth.installed["co1"] = ["a", "b"]
    world.mint_location("co1", "a")
    created = lifecycle(world).handle_install(location_id=None, company_id="co1")
    assert [c.connection_id for c in created] == ["b"]
    assert world.oauth.mint_calls == 1


def test_agency_level_install_queues_the_fan_out_instead_of_minting(world):
    world.install_company("co1")
    world.oauth.installed["co1"] = ["a", "b"]
    lc = lifecycle(world, agency_queue=world.agency_queue)
    assert lc.handle_install(location_id=None, company_id="co1", event_ms=1234, event_id="wh1") == []
    assert world.oauth.mint_calls == 0 and world.tokens.read("a") is None
    [job] = world.agency_queue.jobs
    assert (job.company_id, job.requested_ms, job.part) == ("co1", 1234, 0)
    assert world.connections.get(company_connection_id("co1")).lifecycle_event_ms == 1234


def test_uninstall_schedules_deletion_and_stops_traffic(world):
    world.install_location("loc1")
    vault = world.vault()
    lc = lifecycle(world, vault)
    assert vault.get_token("loc1")
    assert lc.is_active("loc1")
    lc.handle_uninstall(location_id="loc1", company_id=None)
    assert world.tokens.deleted == {"loc1": 7}
    assert world.connections.get("loc1").status is ConnectionStatus.UNINSTALLED
    assert not lc.is_active("loc1")
    assert lc.status_of("loc1") is ConnectionStatus.UNINSTALLED
    with pytest.raises(ConnectionUninstalled):
        vault.get_token("loc1")
    # Redelivered UNINSTALL is harmless.
    lc.handle_uninstall(location_id="loc1", company_id=None)


def test_agency_uninstall_cascades_to_minted_locations_only(world):
    world.install_company("co1")
    world.mint_location("co1", "minted")
    world.install_location("own", company_id="co1")
    lifecycle(world).handle_uninstall(location_id=None, company_id="co1")
    assert set(world.tokens.deleted) == {company_connection_id("co1"), "minted"}
    assert world.connections.get("own").status is ConnectionStatus.ACTIVE
    assert world.connections.get("minted").status is ConnectionStatus.UNINSTALLED


def test_reinstall_after_uninstall(world):
    world.install_company("co1")
    lc = lifecycle(world)
    lc.handle_install(location_id="locR", company_id="co1")
    lc.handle_uninstall(location_id="locR", company_id=None)
    lc.handle_install(location_id="locR", company_id="co1")
    assert world.connections.get("locR").status is ConnectionStatus.ACTIVE
    assert world.tokens.read("locR") is not None


def test_operator_pause_resume_link(world):
    world.install_location("loc1")
    lc = lifecycle(world)
    assert lc.pause("loc1").status is ConnectionStatus.PAUSED
    assert world.connections.get("loc1").status_reason == PauseReason.OPERATOR
    assert not lc.is_active("loc1")
    with pytest.raises(ConnectionsError):
        lc.pause("loc1")
    assert lc.resume("loc1").status is ConnectionStatus.ACTIVE
    assert lc.link("loc1", " acct_5 ").rankr_account_id == "acct_5"
    with pytest.raises(ConnectionNotFound):
        lc.link("missing", "acct")
    with pytest.raises(ValueError):
        lc.link("loc1", "  ")


def test_operator_pause_does_not_block_tokens(world):
    world.install_location("loc1", expires_in=10)
    lc = lifecycle(world)
    lc.pause("loc1")
    assert world.vault().get_token("loc1")  # CLI test transfers may still read GHL


# ------------------------------------------------------------------ config
def test_settings_defaults_follow_stage():
    s = Settings.from_env({"STAGE": "prod", "GHL_SCOPES": "a b", "UNRELATED": "x"})
    assert s.connections_table == "rankr-ghl-prod-connections"
    assert s.token_secret_prefix == "rankr-ghl/prod/tokens/"
    assert s.app_secret_id == "rankr-ghl/prod/app"
    assert s.scopes == ("a", "b")


def test_settings_explicit_values_win():
    s = Settings.from_env({"CONNECTIONS_TABLE": "t1", "OAUTH_REDIRECT_URI": "https://x/cb"})
    assert s.connections_table == "t1" and s.oauth_redirect_uri == "https://x/cb"


def test_settings_bad_value_names_variable_not_value():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"WEBHOOK_MAX_BODY_BYTES": "sometimes"})
    assert "webhook_max_body_bytes" in str(info.value).lower()
    assert "sometimes" not in str(info.value)


def test_app_secret_hides_values_and_checks_required():
    secret = AppSecret.from_mapping(
        {"client_id": "c", "client_secret": "s3cr3t-value", "state_signing_key": ""}
    )
    assert "s3cr3t-value" not in repr(secret)
    with pytest.raises(ConfigError, match="state_signing_key"):
        secret.require("client_secret", "state_signing_key")


def test_wiring_builds_every_singleton_lazily_without_network(monkeypatch):
    from rankr_ghl import wiring

    monkeypatch.setenv("STAGE", "dev")
    monkeypatch.delenv("CONNECTIONS_TABLE", raising=False)
    monkeypatch.delenv("SYNC_TABLE", raising=False)
    monkeypatch.delenv("AUDIT_TABLE", raising=False)
    wiring.reset()
    try:
        assert wiring.root().connection_store().table_name == "rankr-ghl-dev-connections"
        assert wiring.root().connection_store() is wiring.root().connection_store()
        assert wiring.root().token_store().secret_name("company:c1") == "rankr-ghl/dev/tokens/company-c1"
        assert wiring.root().sync_state().table_name == "rankr-ghl-dev-sync-state"
        assert wiring.root().audit_log().table_name == "rankr-ghl-dev-audit"
    finally:
        wiring.reset()
