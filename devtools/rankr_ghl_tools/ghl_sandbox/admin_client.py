"""`SandboxAdmin`: Python client of the sandbox's /_admin HTTP API (httpx)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx


class SandboxAdminError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"sandbox admin call failed: {status} {body}")
        self.status = status
        self.body = body


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


class SandboxAdmin:
    def __init__(self, base_url: str, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SandboxAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(
        self, method: str, path: str, json: dict[str, Any] | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        response = self._client.request(method, f"/_admin{path}", json=json, params=params)
        body = response.json() if response.content else None
        if response.status_code >= 400:
            raise SandboxAdminError(response.status_code, body)
        return body

    def _call_dict(self, method: str, path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        return dict(self._call(method, path, json=json))

    # state
    def reset(self) -> None:
        self._call("POST", "/reset")

    def create_location(
        self,
        location_id: str,
        *,
        company_id: str | None = None,
        name: str | None = None,
        allow_duplicates: bool = False,
        duplicate_priority: Sequence[str] = ("email", "phone"),
        rate_limit: dict[str, int] | None = None,
        active: bool | None = None,
        installed: bool | None = None,
        address: str | None = None,
        scopes: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """rate_limit: {"max": 100, "intervalMs": 10000, "daily": 200000}.

        scopes: what tokens issued for this location grant (None: every scope of the app).
        """
        return self._call_dict(
            "POST",
            "/locations",
            _clean(
                {
                    "locationId": location_id,
                    "companyId": company_id,
                    "name": name,
                    "allowDuplicates": allow_duplicates,
                    "duplicatePriority": list(duplicate_priority),
                    "rateLimit": rate_limit,
                    "active": active,
                    "installed": installed,
                    "address": address,
                    "scopes": list(scopes) if scopes is not None else None,
                }
            ),
        )

    def update_location(self, location_id: str, **fields: Any) -> dict[str, Any]:
        """Partial update with API names, e.g. update_location("L", active=False, rateLimit={...})."""
        return self._call_dict("POST", "/locations", {"locationId": location_id, **fields})

    def locations(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/locations")["locations"])

    def create_company(
        self, company_id: str, *, name: str | None = None, rate_limit: dict[str, int] | None = None
    ) -> dict[str, Any]:
        return self._call_dict(
            "POST", "/companies", _clean({"companyId": company_id, "name": name, "rateLimit": rate_limit})
        )

    def tokens(
        self,
        location_id: str | None = None,
        company_id: str | None = None,
        *,
        scopes: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """A fresh token pair; `scopes` overrides the location's scopes for this pair only."""
        body = {
            "locationId": location_id,
            "companyId": company_id,
            "scopes": list(scopes) if scopes else None,
        }
        return self._call_dict("POST", "/tokens", _clean(body))

    def expire_tokens(self, location_id: str | None = None, company_id: str | None = None) -> int:
        body = _clean({"locationId": location_id, "companyId": company_id})
        return int(self._call("POST", "/expire-tokens", body)["expired"])

    def uninstall(
        self, location_id: str | None = None, company_id: str | None = None, emit_webhook: bool = True
    ) -> dict[str, Any]:
        return self._call_dict(
            "POST",
            "/uninstall",
            _clean({"locationId": location_id, "companyId": company_id, "emitWebhook": emit_webhook}),
        )

    def consent(self, location_id: str | None = None, company_id: str | None = None) -> None:
        self._call("POST", "/consent", _clean({"locationId": location_id, "companyId": company_id}))

    def seed(
        self,
        location_id: str,
        contacts: int,
        *,
        tasks_per_contact: int = 0,
        notes_per_contact: int = 0,
        appointments_per_contact: int = 0,
        with_email: bool = True,
        with_phone: bool = True,
        emit_webhook: bool = False,
    ) -> list[str]:
        return list(
            self._call(
                "POST",
                "/seed",
                {
                    "locationId": location_id,
                    "contacts": contacts,
                    "tasksPerContact": tasks_per_contact,
                    "notesPerContact": notes_per_contact,
                    "appointmentsPerContact": appointments_per_contact,
                    "withEmail": with_email,
                    "withPhone": with_phone,
                    "emitWebhook": emit_webhook,
                },
            )["contactIds"]
        )

    def create(
        self,
        location_id: str,
        entity: str,
        fields: dict[str, Any],
        *,
        contact_id: str | None = None,
        emit_webhook: bool = True,
    ) -> dict[str, Any]:
        return self._call_dict(
            "POST",
            "/create",
            _clean(
                {
                    "locationId": location_id,
                    "entity": entity,
                    "contactId": contact_id,
                    "fields": fields,
                    "emitWebhook": emit_webhook,
                }
            ),
        )

    def edit(
        self,
        location_id: str,
        entity: str,
        entity_id: str,
        changes: dict[str, Any],
        *,
        contact_id: str | None = None,
        emit_webhook: bool = True,
    ) -> dict[str, Any]:
        return self._call_dict(
            "POST",
            "/edit",
            _clean(
                {
                    "locationId": location_id,
                    "entity": entity,
                    "id": entity_id,
                    "contactId": contact_id,
                    "changes": changes,
                    "emitWebhook": emit_webhook,
                }
            ),
        )

    def delete(
        self,
        location_id: str,
        entity: str,
        entity_id: str,
        *,
        contact_id: str | None = None,
        emit_webhook: bool = True,
    ) -> None:
        self._call(
            "POST",
            "/delete",
            _clean(
                {
                    "locationId": location_id,
                    "entity": entity,
                    "id": entity_id,
                    "contactId": contact_id,
                    "emitWebhook": emit_webhook,
                }
            ),
        )

    def state(self, location_id: str) -> dict[str, Any]:
        return dict(self._call("GET", "/state", params={"locationId": location_id}))

    # observation and chaos
    def stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "/stats"))

    def reset_stats(self) -> None:
        self._call("POST", "/stats/reset")

    def faults(
        self,
        *,
        rate429: float = 0,
        rate500: float = 0,
        rate502: float = 0,
        rate503: float = 0,
        rate_slow: float = 0,
        slow_seconds: float = 5,
        rate_drop: float = 0,
        rate422_created: float = 0,
        paths: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        return self._call_dict(
            "POST",
            "/faults",
            _clean(
                {
                    "rate429": rate429,
                    "rate500": rate500,
                    "rate502": rate502,
                    "rate503": rate503,
                    "rateSlow": rate_slow,
                    "slowSeconds": slow_seconds,
                    "rateDrop": rate_drop,
                    "rate422Created": rate422_created,
                    "paths": list(paths) if paths is not None else None,
                    "seed": seed,
                }
            ),
        )

    def clear_faults(self) -> None:
        self._call("POST", "/faults", {})

    def config(self, **changes: Any) -> dict[str, Any]:
        """Change SandboxConfig fields at runtime, e.g. config(refresh_grace_s=0.2)."""
        return dict(self._call("POST", "/config", changes))

    def webhooks(
        self,
        urls: Sequence[str] | None = None,
        *,
        duplicate_rate: float = 0,
        drop_rate: float = 0,
        delay_ms: float = 0,
        reorder: bool = False,
        retry: bool = True,
        enabled: bool = True,
        seed: int | None = None,
    ) -> dict[str, Any]:
        return self._call_dict(
            "POST",
            "/webhooks",
            _clean(
                {
                    "urls": list(urls) if urls is not None else None,
                    "duplicateRate": duplicate_rate,
                    "dropRate": drop_rate,
                    "delayMs": delay_ms,
                    "reorder": reorder,
                    "retry": retry,
                    "enabled": enabled,
                    "seed": seed,
                }
            ),
        )

    def webhook_log(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/webhooks/log")["deliveries"])

    def webhook_events(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/webhooks/events")["events"])

    def emit(
        self,
        type: str,
        *,
        location_id: str | None = None,
        company_id: str | None = None,
        entity_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return dict(
            self._call(
                "POST",
                "/webhooks/emit",
                _clean(
                    {
                        "type": type,
                        "locationId": location_id,
                        "companyId": company_id,
                        "id": entity_id,
                        "payload": payload,
                    }
                ),
            )["event"]
        )

    def resend(self, webhook_id: str) -> int:
        return int(self._call("POST", "/webhooks/resend", {"webhookId": webhook_id})["scheduled"])

    def flush(self, timeout_s: float = 30.0) -> dict[str, Any]:
        return dict(self._call("POST", "/webhooks/flush", {"timeoutS": timeout_s}))

    # variant switches (see ghl_sandbox/variants.py and docs/ghl-variants.md)
    def variants(self, location_id: str | None = None, **switches: Any) -> dict[str, Any]:
        """Set switches for one location (or company), or globally with no location_id.

        Grouped switches take a dict: variants("L1", tags={"store": "preserve"}, search_order="ignored").
        Returns {"global", "locations", "effective", "locationId"}; "effective" is for `location_id`.
        """
        return self._call_dict("POST", "/variants", _clean({"locationId": location_id, "switches": switches}))

    def get_variants(self, location_id: str | None = None) -> dict[str, Any]:
        return dict(self._call("GET", "/variants", params=_clean({"locationId": location_id})))

    def reset_variants(self, location_id: str | None = None) -> dict[str, Any]:
        """Drop one location's overrides, or (no location_id) every override and the global settings."""
        return self._call_dict("POST", "/variants/reset", _clean({"locationId": location_id}))

    def public_key(self) -> dict[str, Any]:
        return dict(self._call("GET", "/public-key"))
