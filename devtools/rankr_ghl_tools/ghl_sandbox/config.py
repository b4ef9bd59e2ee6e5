"""Configuration of the GHL sandbox (all fields have defaults; see INTERFACE.md)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SandboxConfig:
    client_id: str = "sbxapp-sandbox"
    client_secret: str = "sandbox-client-secret"
    access_token_ttl_s: float = 86399
    refresh_grace_s: float = 30
    rate_limit_max: int = 100
    rate_limit_interval_ms: int = 10000
    daily_limit: int = 200000
    # "fixed": window starts at the first request after the previous one ended (GHL-like counters);
    # "sliding": at most `max` requests in any interval (stricter).
    rate_limit_algorithm: str = "fixed"
    search_index_lag_s: float = 0.0
    max_search_window: int = 10000
    seed: int = 0
    webhook_urls: list[str] = field(default_factory=list)
    auto_consent_location_id: str | None = None
    auto_consent_company_id: str | None = None
    # Webhook delivery: GHL retries any non-2xx up to 12 times with exponential backoff + jitter.
    webhook_retry_base_s: float = 0.05
    webhook_retry_max_delay_s: float = 2.0
    webhook_max_retries: int = 12
    webhook_timeout_s: float = 10.0
    webhook_workers: int = 1
    # Reorder switch: deliveries are held until this many are buffered (or the hold time passes), then
    # released newest first.
    webhook_reorder_batch: int = 2
    webhook_reorder_hold_s: float = 1.0
    # Mirror the doc bug where AppointmentUpdate/Delete examples carry "type": "AppointmentCreate".
    appointment_type_doc_bug: bool = False
    # Also sign with a generated RSA key in X-WH-Signature (legacy header; off like GHL since 2026-09-01).
    sign_rsa: bool = False
    # The spec's UpdateContactDto has no locationId/gender/companyName: PUT with them gets a 422 when strict.
    strict_update_fields: bool = True
    # Initial global variant switches (see variants.py), e.g. {"search_order": "ignored"}.
    variants: dict[str, Any] = field(default_factory=dict)
    app_version_id: str = "sbxversion0000000001"
    plan_id: str = "sbxplan00000000000001"
    scope: str = (
        "contacts.readonly contacts.write calendars/events.readonly locations.readonly "
        "locations/tasks.readonly locations/tags.readonly oauth.readonly oauth.write"
    )

    @property
    def app_id(self) -> str:
        return self.client_id.split("-")[0]

    def update(self, changes: dict[str, Any]) -> None:
        """Apply runtime changes (admin /_admin/config); unknown keys raise ValueError."""
        names = {f.name: f for f in dataclasses.fields(self)}
        for key in changes:
            if key not in names:
                raise ValueError(f"unknown config field: {key}")
        if changes.get("rate_limit_algorithm", "fixed") not in ("fixed", "sliding"):
            raise ValueError("rate_limit_algorithm must be 'fixed' or 'sliding'")
        for key, value in changes.items():
            setattr(self, key, value)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("client_secret", None)
        data["app_id"] = self.app_id
        return data
