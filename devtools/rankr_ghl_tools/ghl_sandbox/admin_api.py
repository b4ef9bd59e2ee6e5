"""The /_admin HTTP API (no auth, never rate limited or faulted). See INTERFACE.md."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from .server import SandboxApp
from .store import ADMIN_CONTACT_FIELDS, ApiError

AdminHandler = Callable[[dict[str, Any], dict[str, str]], Any]


class AdminApi:
    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.store = app.store
        self.routes: dict[tuple[str, str], AdminHandler] = {
            ("POST", "/_admin/reset"): self.reset,
            ("GET", "/_admin/locations"): self.list_locations,
            ("POST", "/_admin/locations"): self.upsert_location,
            ("POST", "/_admin/companies"): self.upsert_company,
            ("POST", "/_admin/tokens"): self.tokens,
            ("POST", "/_admin/expire-tokens"): self.expire_tokens,
            ("POST", "/_admin/uninstall"): self.uninstall,
            ("POST", "/_admin/consent"): self.consent,
            ("POST", "/_admin/seed"): self.seed,
            ("POST", "/_admin/edit"): self.edit,
            ("POST", "/_admin/delete"): self.delete,
            ("POST", "/_admin/create"): self.create,
            ("GET", "/_admin/state"): self.state,
            ("GET", "/_admin/stats"): self.stats,
            ("POST", "/_admin/stats/reset"): self.reset_stats,
            ("GET", "/_admin/faults"): lambda _b, _q: self.app.faults.settings.to_dict(),
            ("POST", "/_admin/faults"): self.faults,
            ("GET", "/_admin/config"): lambda _b, _q: self.app.config.to_dict(),
            ("POST", "/_admin/config"): self.config,
            ("GET", "/_admin/webhooks"): lambda _b, _q: self.app.webhooks.settings.to_dict(),
            ("POST", "/_admin/webhooks"): self.webhooks,
            ("GET", "/_admin/webhooks/log"): lambda _b, _q: {"deliveries": self.app.webhooks.log_view()},
            ("GET", "/_admin/webhooks/events"): lambda _b, _q: {"events": list(self.app.webhooks.events)},
            ("POST", "/_admin/webhooks/emit"): self.emit,
            ("POST", "/_admin/webhooks/resend"): self.resend,
            ("POST", "/_admin/webhooks/flush"): self.flush,
            ("GET", "/_admin/public-key"): lambda _b, _q: self.app.webhooks.signer.public_keys(),
            ("GET", "/_admin/variants"): lambda _b, q: self.store.variants.view(q.get("locationId")),
            ("POST", "/_admin/variants"): self.set_variants,
            ("POST", "/_admin/variants/reset"): self.reset_variants,
        }

    def handle(self, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, Any]:
        handler = self.routes.get((method, path.rstrip("/") or "/"))
        if handler is None:
            return 404, {"statusCode": 404, "message": f"Cannot {method} {path}"}
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ApiError(400, "admin body must be a JSON object")
            return 200, handler(body, query)
        except ApiError as exc:
            return exc.status, exc.body
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {"statusCode": 400, "message": f"{type(exc).__name__}: {exc}"}

    # ------------------------------------------------------------------ handlers

    def reset(self, _body: dict[str, Any], _query: dict[str, str]) -> Any:
        initial = self.app.initial_config
        self.app.config.update(dataclasses.asdict(initial))
        self.app.limiter.algorithm = initial.rate_limit_algorithm
        self.store.reset()
        self.store.variants.reset()
        self.app.limiter.reset()
        self.app.faults.reset(self.app.config.seed)
        self.app.webhooks.reset()
        self.app.reset_stats()
        return {"ok": True}

    def list_locations(self, _body: dict[str, Any], _query: dict[str, str]) -> Any:
        with self.store.lock:
            return {"locations": [self.store.location_view(loc) for loc in self.store.locations.values()]}

    def upsert_location(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        return self.store.location_view(self.store.upsert_location(body))

    def upsert_company(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        company = self.store.upsert_company(body)
        return {"companyId": company.id, "name": company.name, "installed": company.installed}

    def tokens(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        scopes = body.get("scopes")
        if scopes is not None and (
            not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes)
        ):
            raise ApiError(400, "scopes must be a list of scope names")
        return self.store.admin_tokens(
            body.get("locationId"), body.get("companyId"), None if scopes is None else frozenset(scopes)
        )

    def set_variants(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        """{"locationId"?: id, "switches": {...}}: a location's (or company's) overrides, else global."""
        switches = body.get("switches")
        if not isinstance(switches, dict):
            raise ApiError(400, 'switches must be an object, e.g. {"search_order": "ignored"}')
        location_id = body.get("locationId")
        self.store.variants.set(location_id, switches)
        return self.store.variants.view(location_id)

    def reset_variants(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        """Drop one location's overrides, or (no locationId) every override and the global settings."""
        location_id = body.get("locationId")
        self.store.variants.reset(location_id)
        return self.store.variants.view(location_id)

    def expire_tokens(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        if not body.get("locationId") and not body.get("companyId"):
            raise ApiError(400, "locationId or companyId is required")
        return {"expired": self.store.expire_tokens(body.get("locationId"), body.get("companyId"))}

    def uninstall(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        location_id, company_id = body.get("locationId"), body.get("companyId")
        with self.store.lock:
            if location_id:
                self.store.get_location(location_id).installed = False
            elif company_id and company_id in self.store.companies:
                self.store.companies[company_id].installed = False
            else:
                raise ApiError(400, "locationId or companyId of a known install is required")
            self.store.revoke(location_id, None if location_id else company_id)
        event = None
        if body.get("emitWebhook", True):
            event = self.app.webhooks.emit("UNINSTALL", self._app_event("UNINSTALL", location_id, company_id))
        return {"ok": True, "event": event}

    def consent(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        with self.store.lock:
            if body.get("locationId"):
                self.store.consent_override = ("Location", body["locationId"])
            elif body.get("companyId"):
                self.store.consent_override = ("Company", body["companyId"])
            else:
                self.store.consent_override = None
        return {"ok": True}

    def seed(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        return {"contactIds": self.store.seed(body)}

    def _entity_args(self, body: dict[str, Any]) -> tuple[str, str, bool]:
        entity = body.get("entity")
        if entity not in ("contact", "task", "note", "appointment"):
            raise ApiError(400, "entity must be contact, task, note or appointment")
        entity_id = body.get("id")
        if body.get("locationId") and entity_id:
            owner = self.store.owner_of(entity, entity_id)
            if owner is not None and owner != body["locationId"]:
                raise ApiError(400, f"{entity} {entity_id} belongs to another location")
        return entity, entity_id or "", bool(body.get("emitWebhook", True))

    def edit(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        entity, entity_id, emit = self._entity_args(body)
        changes = body.get("changes") or {}
        if not isinstance(changes, dict):
            raise ApiError(400, "changes must be an object")
        store = self.store
        if entity == "contact":
            return store.contact_view(
                store.update_contact(entity_id, changes, emit=emit, allowed=ADMIN_CONTACT_FIELDS)
            )
        if entity == "task":
            return store.task_view(store.update_task(None, entity_id, changes, emit=emit), with_dates=True)
        if entity == "note":
            return store.note_view(store.update_note(None, entity_id, changes, emit=emit))
        return store.appointment_event_view(store.update_appointment(entity_id, changes, emit=emit))

    def delete(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        entity, entity_id, emit = self._entity_args(body)
        store = self.store
        if entity == "contact":
            store.delete_contact(entity_id, emit=emit)
        elif entity == "task":
            store.delete_task(None, entity_id, emit=emit)
        elif entity == "note":
            store.delete_note(None, entity_id, emit=emit)
        else:
            store.delete_appointment(entity_id, emit=emit)
        return {"succeded": True}

    def create(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        entity, _, emit = self._entity_args({**body, "id": None})
        fields = body.get("fields") or {}
        if not isinstance(fields, dict):
            raise ApiError(400, "fields must be an object")
        store = self.store
        if entity == "contact":
            errors = store._validate_contact_body(fields, ADMIN_CONTACT_FIELDS)
            if errors:
                raise ApiError(422, errors)
            contact = store.create_contact(
                {**fields, "locationId": body.get("locationId")}, emit=emit, check_fields=False
            )
            return store.contact_view(contact)
        contact_id = body.get("contactId")
        if not contact_id:
            raise ApiError(400, "contactId is required")
        if body.get("locationId") and store.owner_of("contact", contact_id) not in (None, body["locationId"]):
            raise ApiError(400, "contact belongs to another location")
        if entity == "task":
            return store.task_view(store.create_task(contact_id, fields, emit=emit), with_dates=True)
        if entity == "note":
            return store.note_view(store.create_note(contact_id, fields, emit=emit))
        return store.appointment_event_view(store.create_appointment(contact_id, fields, emit=emit))

    def state(self, _body: dict[str, Any], query: dict[str, str]) -> Any:
        if not query.get("locationId"):
            raise ApiError(400, "locationId query parameter is required")
        return self.store.dump(query["locationId"])

    def stats(self, _body: dict[str, Any], _query: dict[str, str]) -> Any:
        return self.app.stats()

    def reset_stats(self, _body: dict[str, Any], _query: dict[str, str]) -> Any:
        self.app.reset_stats()
        return {"ok": True}

    def faults(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        return self.app.faults.configure(body).to_dict()

    def config(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        self.app.config.update(body)
        if "rate_limit_algorithm" in body:
            self.app.limiter.algorithm = body["rate_limit_algorithm"]
        return self.app.config.to_dict()

    def webhooks(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        return self.app.webhooks.configure(body).to_dict()

    def flush(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        return self.app.webhooks.flush(float(body.get("timeoutS", 30)))

    def resend(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        return {"scheduled": self.app.webhooks.resend(str(body.get("webhookId", "")))}

    def _app_event(self, event_type: str, location_id: str | None, company_id: str | None) -> dict[str, Any]:
        cfg = self.app.config
        with self.store.lock:
            loc = self.store.locations.get(location_id or "")
            company_id = company_id or (loc.company_id if loc else None)
            company = self.store.companies.get(company_id or "")
        payload: dict[str, Any] = {"type": event_type, "appId": cfg.app_id}
        if event_type == "UNINSTALL":
            payload.update({"locationId": location_id} if location_id else {"companyId": company_id})
            return payload
        if location_id:
            payload.update(
                locationId=location_id,
                companyId=company_id,
                userId=f"user-{company_id}",
                planId=cfg.plan_id,
                trial={"onTrial": False, "trialDuration": 0},
                isWhitelabelCompany=False,
                whitelabelDetails={},
                companyName=company.name if company else f"Company {company_id}",
                versionId=cfg.app_version_id,
                installType="Location",
            )
        else:
            payload.update(
                companyId=company_id,
                planId=cfg.plan_id,
                trial={"onTrial": False, "trialDuration": 0},
                versionId=cfg.app_version_id,
                installType="Company",
            )
        return payload

    def emit(self, body: dict[str, Any], _query: dict[str, str]) -> Any:
        event_type = body.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise ApiError(400, "type is required")
        payload = body.get("payload") or {}
        if not isinstance(payload, dict):
            raise ApiError(400, "payload must be an object")
        location_id, company_id = body.get("locationId"), body.get("companyId")
        if event_type in ("INSTALL", "UNINSTALL"):
            base = self._app_event(event_type, location_id, company_id)
        elif body.get("id"):
            base = self._entity_event(event_type, str(body["id"]))
        else:
            base = {"type": event_type, "locationId": location_id}
        envelope = self.app.webhooks.emit(event_type, {**base, **payload})
        return {"event": envelope}

    def _entity_event(self, event_type: str, entity_id: str) -> dict[str, Any]:
        store = self.store
        with store.lock:
            if event_type.startswith("Contact"):
                return store.contact_event(event_type, store.get_contact(entity_id))
            if event_type.startswith("Task"):
                return store.task_event(event_type, store.get_task(None, entity_id))
            if event_type.startswith("Note"):
                return store.note_event(event_type, store.get_note(None, entity_id))
            if event_type.startswith("Appointment"):
                return store.appointment_event(event_type, store.get_appointment(entity_id))
        raise ApiError(400, f"cannot build a {event_type} event from an id; pass payload")
