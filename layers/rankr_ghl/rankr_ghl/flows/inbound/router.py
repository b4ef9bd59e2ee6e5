"""Webhook worker logic: each queued GHL event means "this entity changed" -> mirror it into Rankr.

Never applies the payload as a diff: the entity's CURRENT state is fetched from GHL (through the
rate-limited client with the location's token) and mirrored, so duplicated or reordered deliveries
converge. Per event (docs/queue-design.md):

- Contact{Create,Update,TagUpdate,DndUpdate}: GET the contact (404 = deleted), map it, run the echo
  check against the ledger, create (Idempotency-Key from location + GHL id) or PATCH the mapped Rankr
  contact, then store mapping, ledger and audit. An unmapped contact that a lead push in flight claimed
  (same lead tag, e-mail or phone) is linked to that lead instead of getting a Rankr twin.
- ContactDelete (or a 404): soft-delete the mapped Rankr contact and leave a tombstone, so a late
  create/update event cannot resurrect it.
- TaskCreate/TaskComplete: fetch the task and mirror it under the mapped Rankr contact. When the
  payload lacks `contactId`, the contact comes from the task's mapping, else the location task search;
  a search miss (or a 404 under a contact only the search named) is skipped with metric and audit,
  never soft-deleted. TaskDelete: soft delete.
- Note{Create,Update}: fetch and mirror. NoteDelete: soft delete.
- Appointment*: fetch through calendars; when that is forbidden (403: no calendars scope) use the
  payload. 404 or AppointmentDelete: mark deleted. The documented examples carry the wrong `type`,
  which is harmless: the fetched state decides.
- INSTALL/UNINSTALL: the connections lifecycle.
- A read GHL refuses for lack of scope (401 or 403 with a scope message) is skipped with metric and
  audit (`ghl_permission_denied`), never retried: it would block the location's FIFO group.

Paused, needs_reauth, uninstalled and unlinked connections are skipped and counted (not errors).
Retryable failures raise, so the SQS record is retried and lands in the DLQ after maxReceiveCount.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rankr_ghl.connections.event_order import lifecycle_event_order
from rankr_ghl.flows.inbound.mirror import MirrorSteps
from rankr_ghl.flows.inbound.model import (
    METRIC_PROCESSED,
    AppLifecycle,
    AppointmentFetchForbidden,
    EventContext,
    InboundResult,
    entity_of,
    inactive_reason,
)
from rankr_ghl.flows.queue_message import (
    APP_EVENTS,
    APPOINTMENT_EVENTS,
    CONTACT_EVENTS,
    NOTE_EVENTS,
    TASK_EVENTS,
)
from rankr_ghl.ghl.errors import GHLForbidden
from rankr_ghl.observability import logger
from rankr_ghl.ports import (
    Record,
)
from rankr_ghl.sync.ports import (
    IdMapping,
)
from rankr_ghl.sync.types import Entity, Side

if TYPE_CHECKING:
    from rankr_ghl.sync.record_state import RecordState


class InboundProcessor(MirrorSteps):
    """Routes one queued event: app events to the lifecycle, entity events to the mirror step."""

    # -- entry points ------------------------------------------------------------------------------
    def process(self, message: Mapping[str, Any]) -> InboundResult:
        event: Mapping[str, Any] = message["event"]
        event_type: str = message["eventType"]
        correlation_id = message.get("correlationId")
        self._metrics.count(METRIC_PROCESSED)
        if event_type in APP_EVENTS:
            return self._app_event(event_type, message)

        location_id = message.get("locationId") or event.get("locationId")
        if not isinstance(location_id, str) or not location_id:
            return self._skip_unrouted(event_type, "missing_location")
        connection = self._connections.get(location_id)
        skip_reason = inactive_reason(connection)
        if skip_reason is not None or connection is None:
            return self._skip(
                location_id, entity_of(event_type), skip_reason or "not_connected", correlation_id
            )
        account_id = connection.rankr_account_id
        if not account_id:
            return self._skip(location_id, entity_of(event_type), "unlinked", correlation_id)
        ctx = EventContext(location_id, account_id, correlation_id, event_type)
        try:
            return self._route(ctx, event)
        except GHLForbidden:
            # The token lacks the scope (GHL answers 401 or 403 with a scope message): a retry or a
            # token refresh cannot help, and raising would hold the location's FIFO group until the
            # message dead-letters. Skipped with metric and audit; reconcile repairs once granted.
            logger.warning(
                "GHL refused the read for lack of scope; event skipped",
                extra={"event_type": event_type, "location_id": location_id},
            )
            return self._skip(location_id, entity_of(event_type), "ghl_permission_denied", correlation_id)

    def _route(self, ctx: EventContext, event: Mapping[str, Any]) -> InboundResult:
        event_type = ctx.event_type
        if event_type in CONTACT_EVENTS:
            contact_id = str(event["id"])
            if event_type == "ContactDelete":
                return self._delete(ctx, Entity.CONTACT, contact_id, "ghl_delete_event")
            return self._sync_contact(ctx, contact_id)
        if event_type in TASK_EVENTS:
            return self._child(ctx, Entity.TASK, event, "TaskDelete")
        if event_type in NOTE_EVENTS:
            return self._child(ctx, Entity.NOTE, event, "NoteDelete")
        if event_type in APPOINTMENT_EVENTS:
            return self._appointment(ctx, event)
        return self._skip(ctx.location_id, None, "unsupported_type", ctx.correlation_id)

    # -- app events --------------------------------------------------------------------------------
    def _lifecycle_impl(self) -> AppLifecycle:
        lifecycle = self._lifecycle
        if callable(lifecycle) and not hasattr(lifecycle, "handle_install"):
            lifecycle = lifecycle()
            self._lifecycle = lifecycle
        return lifecycle  # type: ignore[return-value]

    def _app_event(self, event_type: str, message: Mapping[str, Any]) -> InboundResult:
        event = message["event"]
        location_id = event.get("locationId") or None
        company_id = event.get("companyId") or None
        lifecycle = self._lifecycle_impl()
        # A cached connection (CachedConnectionLookup) must not outlive an install/uninstall seen here.
        invalidate = getattr(self._connections, "invalidate", None)
        if callable(invalidate):
            invalidate()
        event_ms, event_id = lifecycle_event_order(message)
        if event_type == "INSTALL":
            lifecycle.handle_install(
                location_id=location_id, company_id=company_id, event_ms=event_ms, event_id=event_id
            )
            outcome = "install"
        else:
            lifecycle.handle_uninstall(
                location_id=location_id, company_id=company_id, event_ms=event_ms, event_id=event_id
            )
            outcome = "uninstall"
        logger.info(
            "app event handled",
            extra={"event_type": event_type, "location_id": location_id, "company_id": company_id},
        )
        return InboundResult(outcome)

    # -- contacts ----------------------------------------------------------------------------------
    def _sync_contact(self, ctx: EventContext, contact_id: str) -> InboundResult:
        before = self._reads.record_state(ctx.location_id, Entity.CONTACT, contact_id)
        if before.tombstoned:
            return self._skip(
                ctx.location_id, Entity.CONTACT, "tombstoned", ctx.correlation_id, ghl_id=contact_id
            )
        record = self._ghl.get_contact(ctx.location_id, contact_id)
        if record is None:
            return self._delete(ctx, Entity.CONTACT, contact_id, "ghl_not_found")
        return self._mirror(ctx, Entity.CONTACT, contact_id, record, parent=None, before=before)

    def _ensure_contact_mapping(self, ctx: EventContext, ghl_contact_id: str) -> IdMapping | None:
        """The parent contact's mapping, mirroring the contact first when it is not mapped yet."""
        mapping = self._mappings.get_by_ghl(ctx.location_id, Entity.CONTACT, ghl_contact_id)
        if mapping is None:
            self._sync_contact(ctx, ghl_contact_id)
            mapping = self._mappings.get_by_ghl(ctx.location_id, Entity.CONTACT, ghl_contact_id)
        return mapping

    # -- tasks and notes ---------------------------------------------------------------------------
    def _child(
        self, ctx: EventContext, entity: Entity, event: Mapping[str, Any], delete_event: str
    ) -> InboundResult:
        """A task or note event: its GHL contact comes from the event, else from its mapping, else (a
        task only) from the location task search."""
        child_id = str(event["id"])
        if ctx.event_type == delete_event:
            return self._delete(ctx, entity, child_id, "ghl_delete_event")
        before = self._reads.record_state(ctx.location_id, entity, child_id)
        if before.tombstoned:
            return self._skip(ctx.location_id, entity, "tombstoned", ctx.correlation_id, ghl_id=child_id)
        contact_id = event.get("contactId")
        if not contact_id:
            contact_id = before.mapping.ghl_parent_id if before.mapping else None
        from_search = False
        if not contact_id and entity is Entity.TASK:
            # The location task search is loosely specified (limit caps, order, item keys): a miss
            # there means "unknown", never "deleted".
            contact_id = self._ghl.find_task_contact(ctx.location_id, child_id)
            from_search = True
        if not contact_id:
            # Notes are contact-scoped in GHL and there is no location-wide note search.
            reason = "task_contact_unknown" if entity is Entity.TASK else "missing_contact"
            return self._skip(ctx.location_id, entity, reason, ctx.correlation_id, ghl_id=child_id)
        # The GET confirms: only a 404 under a contact we trust (event or mapping) is a deletion.
        read = self._ghl.get_task if entity is Entity.TASK else self._ghl.get_note
        record = read(ctx.location_id, str(contact_id), child_id)
        if record is None:
            if from_search:
                return self._skip(
                    ctx.location_id, entity, "task_contact_unconfirmed", ctx.correlation_id, ghl_id=child_id
                )
            return self._delete(ctx, entity, child_id, "ghl_not_found")
        if ctx.event_type == "TaskComplete":
            record.setdefault("completed", True)
        return self._mirror_child(ctx, entity, child_id, record, str(contact_id), before=before)

    def _mirror_child(
        self,
        ctx: EventContext,
        entity: Entity,
        ghl_id: str,
        record: Record,
        ghl_contact_id: str,
        *,
        before: RecordState,
    ) -> InboundResult:
        parent = self._ensure_contact_mapping(ctx, ghl_contact_id)
        if parent is None:
            return self._skip(
                ctx.location_id, entity, "contact_not_mirrored", ctx.correlation_id, ghl_id=ghl_id
            )
        return self._mirror(ctx, entity, ghl_id, record, parent=parent, before=before)

    # -- appointments ------------------------------------------------------------------------------
    def _appointment(self, ctx: EventContext, event: Mapping[str, Any]) -> InboundResult:
        payload = event.get("appointment")
        payload = dict(payload) if isinstance(payload, Mapping) else {}
        appointment_id = str(payload.get("id"))
        if ctx.event_type == "AppointmentDelete":
            return self._delete(ctx, Entity.APPOINTMENT, appointment_id, "ghl_delete_event")
        if self._tombstones.is_tombstoned(ctx.location_id, Side.GHL, Entity.APPOINTMENT, appointment_id):
            return self._skip(
                ctx.location_id, Entity.APPOINTMENT, "tombstoned", ctx.correlation_id, ghl_id=appointment_id
            )
        try:
            record = self._ghl.get_appointment(ctx.location_id, appointment_id)
        except AppointmentFetchForbidden:
            logger.info(
                "appointment fetch forbidden; mirroring the payload", extra={"ghl_id": appointment_id}
            )
            record = payload
        if record is None:
            return self._delete(ctx, Entity.APPOINTMENT, appointment_id, "ghl_not_found")
        return self._mirror_appointment(ctx, appointment_id, record)

    def _mirror_appointment(self, ctx: EventContext, appointment_id: str, record: Record) -> InboundResult:
        # The echo check (and the mapping code it uses) only when a record is mirrored: an event
        # skipped before (location not connected, tombstoned, ...) does not load it (cold start).
        from rankr_ghl.sync.echo import Action, decide, load_ledgers

        entity = Entity.APPOINTMENT
        em = self._entity_mapping(ctx, entity)
        if em is None:
            return self._skip(
                ctx.location_id, entity, "entity_disabled", ctx.correlation_id, ghl_id=appointment_id
            )
        current = em.from_ghl(record)
        existing = self._rankr.get(ctx.account_id, entity, appointment_id, None)
        other = em.from_rankr(existing) if existing is not None else None
        ledger_ghl, ledger_rankr = load_ledgers(
            self._ledger, ctx.location_id, entity, ghl_id=appointment_id, rankr_id=appointment_id
        )
        decision = decide(
            Side.GHL,
            current,
            other,
            ledger_current=ledger_ghl,
            ledger_other=ledger_rankr,
            mapping=em,
            current_ts=em.timestamp(Side.GHL, record),
            other_ts=em.timestamp(Side.RANKR, existing) if existing else None,
        )
        # The mirror exists but is deleted while GHL still has the appointment (e.g. a delete event
        # overtaken by a later real change): PUT revives it.
        revive = existing is not None and bool(existing.get("deletedAt"))
        if decision.action is not Action.WRITE and not revive:
            return self._no_write(
                ctx, entity, ghl_id=appointment_id, rankr_id=appointment_id, decision=decision
            )
        body = em.to_rankr(current)  # PUT replaces: always the full mirror
        contact_mapping = None
        ghl_contact = record.get("contactId")
        if isinstance(ghl_contact, str) and ghl_contact:
            contact_mapping = self._mappings.get_by_ghl(ctx.location_id, Entity.CONTACT, ghl_contact)
        body["contactId"] = contact_mapping.rankr_id if contact_mapping else None
        self._rankr.put_appointment(ctx.account_id, appointment_id, body)
        return self._written(
            ctx,
            entity,
            ghl_id=appointment_id,
            rankr_id=appointment_id,
            decision=decision,
            created=existing is None,
        )

    # -- the mirror step shared by contacts, tasks and notes -----------------------------------------
