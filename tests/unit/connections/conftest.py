from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from conn_fakes import (
    FakeClock,
    FakeGHLOAuth,
    MemoryAgencyQueue,
    MemoryConnectionStore,
    MemoryTokenStore,
    MetricsLog,
)
from rankr_ghl.connections.models import Connection, TokenBundle, UserType, company_connection_id, from_epoch
from rankr_ghl.connections.vault import TokenVault, VaultConfig
from rankr_ghl.wire_values import SecretStr


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    connections: MemoryConnectionStore = field(default_factory=MemoryConnectionStore)
    tokens: MemoryTokenStore = field(default_factory=MemoryTokenStore)
    oauth: FakeGHLOAuth = field(default_factory=FakeGHLOAuth)
    metrics: MetricsLog = field(default_factory=MetricsLog)
    agency_queue: MemoryAgencyQueue = field(default_factory=MemoryAgencyQueue)

    def vault(self, *, real_time: bool = False, remaining_s=lambda: None, **cfg: float) -> TokenVault:
        config = VaultConfig(**cfg) if cfg else VaultConfig()
        if real_time:
            return TokenVault(
                self.tokens,
                self.connections,
                self.oauth,
                config=config,
                metric=self.metrics,
                remaining_s=remaining_s,
            )
        return TokenVault(
            self.tokens,
            self.connections,
            self.oauth,
            config=config,
            clock=self.clock,
            sleep=self.clock.sleep,
            metric=self.metrics,
            remaining_s=remaining_s,
        )

    def install_location(
        self,
        location_id: str,
        *,
        expires_in: float = 86399,
        company_id: str | None = None,
        now: float | None = None,
    ) -> TokenBundle:
        grant = self.oauth.issue("Location", company_id, location_id)
        return self._store(location_id, grant, UserType.LOCATION, expires_in, company_id, location_id, now)

    def install_company(
        self, company_id: str, *, expires_in: float = 86399, now: float | None = None
    ) -> TokenBundle:
        grant = self.oauth.issue("Company", company_id, None)
        return self._store(
            company_connection_id(company_id), grant, UserType.COMPANY, expires_in, company_id, None, now
        )

    def mint_location(self, company_id: str, location_id: str, *, expires_in: float = 86399) -> TokenBundle:
        grant = self.oauth.issue("Location", company_id, location_id, with_refresh=False)
        return self._store(
            location_id, grant, UserType.LOCATION, expires_in, company_id, location_id, None, "company"
        )

    def _store(self, cid, grant, user_type, expires_in, company_id, location_id, now, source="location"):
        t = self.clock() if now is None else now
        bundle = TokenBundle(
            access_token=SecretStr(grant.access_token),
            refresh_token=SecretStr(grant.refresh_token) if grant.refresh_token else None,
            expires_at=t + expires_in,
            scopes=("contacts.readonly",),
            user_type=user_type,
            company_id=company_id,
            location_id=location_id,
            issued_at=t,
        )
        self.tokens.install(cid, bundle)
        self.connections.save(
            Connection(
                connection_id=cid,
                location_id=location_id,
                company_id=company_id,
                user_type=user_type,
                scopes=bundle.scopes,
                installed_at=from_epoch(t),
                token_expires_at=from_epoch(bundle.expires_at),
                token_source=source,
            )
        )
        self.tokens.writes = 0
        return bundle


@pytest.fixture
def world() -> World:
    return World()
