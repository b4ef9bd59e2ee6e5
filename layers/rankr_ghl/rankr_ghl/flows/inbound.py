"""Webhook worker logic: each queued GHL event means "this entity changed" -> mirror it into Rankr.

Never applies the payload as a diff: the entity's CURRENT state is fetched from GHL (through the
rate-limited client with the location's token) and mirrored, so duplicated or reordered deliveries
converge. Per event (docs/queue-design.md, issue 6 §2):

- Contact{Create,Update,TagUpdate,DndUpdate}: GET the contact (404 = deleted), map it, run the echo
  check against the ledger, create (Idempotency-Key from location + GHL id) or PATCH the mapped Rankr
  contact, then store mapping, ledger and audit. An unmapped contact that a lead push in flight claimed
  (same lead tag, e-mail or phone) is linked to that lead instead of getting a Rankr twin.
- ContactDelete (or a 404): soft-delete the mapped Rankr contact and leave a tombstone, so a late
  create/update event cannot resurrect it.
- TaskCreate/TaskComplete: fetch the task (its contact found with the location task search when the
  payload lacks `contactId`) and mirror it under the mapped Rankr contact. TaskDelete: soft delete.
- Note{Create,Update}: fetch and mirror. NoteDelete: soft delete.
- Appointment*: fetch through calendars; when that is forbidden (403: no calendars scope) use the
  payload. 404 or AppointmentDelete: mark deleted. The documented examples carry the wrong `type`,
  which is harmless: the fetched state decides.
- INSTALL/UNINSTALL: the connections lifecycle.

Paused, needs_reauth, uninstalled and unlinked connections are skipped and counted (not errors).
Retryable failures raise, so the SQS record is retried and lands in the DLQ after maxReceiveCount.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from rankr_ghl.flows.queue_message import (
    APP_EVENTS,
    APPOINTMENT_EVENTS,
    CONTACT_EVENTS,
    NOTE_EVENTS,
    TASK_EVENTS,
)
from rankr_ghl.observability import logger, redact_text
from rankr_ghl.ports import (
    ConnectionLookup,
    Counter,
    GhlRecords,
    NullCounter,
    RankrRecords,
    Record,
    RecordReadForbidden,
)
from rankr_ghl.rankr.keys import ghl_mirror_key
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import (
    CLAIM_LINK_ORIGIN,
    AuditAction,
    AuditEntry,
    AuditOutcome,
    AuditSink,
    IdMapping,
    LeadClaim,
    LeadClaimStore,
    LedgerStore,
    MappingConflict,
    MappingStore,
    Tombstone,
    TombstoneStore,
    lead_claim_identities,
)
from rankr_ghl.sync.types import DeleteAction, Entity, Side

if TYPE_CHECKING:
    from rankr_ghl.connections.models import Connection
    from rankr_ghl.sync.mapping import EntityMapping

FLOW = "webhook"
DIRECTION = "ghl_to_rankr"

# Metric names (EMF).
METRIC_PROCESSED = "WebhookEventsProcessed"
METRIC_WRITTEN = "WebhookRankrWrites"
METRIC_ECHO = "WebhookEchoSkipped"
METRIC_SKIPPED = "WebhookEventsSkipped"  # dimension reason
METRIC_FAILED = "WebhookEventsFailed"
METRIC_CLAIM_LINKED = "WebhookLeadClaimLinked"
# Identities of one contact looked up in the lead claims (lead tags, e-mail, phone): one batch get.
MAX_CLAIM_IDENTITIES = 8


# The worker mirrors the webhook payload when GHL refuses to show the appointment.
AppointmentFetchForbidden = RecordReadForbidden


# ----------------------------------------------------------------------------------------------- ports
class AppLifecycle(Protocol):
    def handle_install(self, *, location_id: str | None, company_id: str | None) -> Any: ...

    def handle_uninstall(self, *, location_id: str | None, company_id: str | None) -> Any: ...


@dataclass(frozen=True)
class InboundResult:
    outcome: str  # written | echo | in_sync | deleted | skipped | install | uninstall
    reason: str = ""
    entity: Entity | None = None
    ghl_id: str | None = None
    rankr_id: str | None = None


@dataclass(frozen=True)
class _Ctx:
    location_id: str
    account_id: str
    correlation_id: str | None
    event_type: str


# ----------------------------------------------------------------------------------------------- service
class InboundProcessor:
    def __init__(
        self,
        *,
        ghl: GhlRecords,
        rankr: RankrRecords,
        connections: ConnectionLookup,
        lifecycle: AppLifecycle | Callable[[], AppLifecycle],
        mappings: MappingStore,
        ledger: LedgerStore,
        tombstones: TombstoneStore,
        audit: AuditSink,
        mapping_resolver: MappingResolver | None = None,
        metrics: Counter | None = None,
        lead_claims: LeadClaimStore | None = None,
    ) -> None:
        """`lead_claims`: the claims of lead pushes in flight (None: no lead push in this deployment)."""
        self._ghl = ghl
        self._rankr = rankr
        self._connections = connections
        self._lifecycle = lifecycle
        self._mappings = mappings
        self._ledger = ledger
        self._tombstones = tombstones
        self._audit = audit
        self._resolver = mapping_resolver or MappingResolver()
        self._metrics = metrics or NullCounter()
        self._lead_claims = lead_claims

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
        skip_reason = _inactive_reason(connection)
        if skip_reason is not None or connection is None:
            return self._skip(
                location_id, _entity_of(event_type), skip_reason or "not_connected", correlation_id
            )
        account_id = connection.rankr_account_id
        if not account_id:
            return self._skip(location_id, _entity_of(event_type), "unlinked", correlation_id)
        ctx = _Ctx(location_id, account_id, correlation_id, event_type)

        if event_type in CONTACT_EVENTS:
            contact_id = str(event["id"])
            if event_type == "ContactDelete":
                return self._delete(ctx, Entity.CONTACT, contact_id, "ghl_delete_event")
            return self._sync_contact(ctx, contact_id)
        if event_type in TASK_EVENTS:
            return self._task(ctx, event)
        if event_type in NOTE_EVENTS:
            return self._note(ctx, event)
        if event_type in APPOINTMENT_EVENTS:
            return self._appointment(ctx, event)
        return self._skip(location_id, None, "unsupported_type", correlation_id)

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
        if event_type == "INSTALL":
            lifecycle.handle_install(location_id=location_id, company_id=company_id)
            outcome = "install"
        else:
            lifecycle.handle_uninstall(location_id=location_id, company_id=company_id)
            outcome = "uninstall"
        logger.info(
            "app event handled",
            extra={"event_type": event_type, "location_id": location_id, "company_id": company_id},
        )
        return InboundResult(outcome)

    # -- contacts ----------------------------------------------------------------------------------
    def _sync_contact(self, ctx: _Ctx, contact_id: str) -> InboundResult:
        if self._tombstones.is_tombstoned(ctx.location_id, Side.GHL, Entity.CONTACT, contact_id):
            return self._skip(
                ctx.location_id, Entity.CONTACT, "tombstoned", ctx.correlation_id, ghl_id=contact_id
            )
        record = self._ghl.get_contact(ctx.location_id, contact_id)
        if record is None:
            return self._delete(ctx, Entity.CONTACT, contact_id, "ghl_not_found")
        return self._mirror(ctx, Entity.CONTACT, contact_id, record, parent=None)

    def _ensure_contact_mapping(self, ctx: _Ctx, ghl_contact_id: str) -> IdMapping | None:
        """The parent contact's mapping, mirroring the contact first when it is not mapped yet."""
        mapping = self._mappings.get_by_ghl(ctx.location_id, Entity.CONTACT, ghl_contact_id)
        if mapping is None:
            self._sync_contact(ctx, ghl_contact_id)
            mapping = self._mappings.get_by_ghl(ctx.location_id, Entity.CONTACT, ghl_contact_id)
        return mapping

    # -- tasks -------------------------------------------------------------------------------------
    def _task(self, ctx: _Ctx, event: Mapping[str, Any]) -> InboundResult:
        task_id = str(event["id"])
        if ctx.event_type == "TaskDelete":
            return self._delete(ctx, Entity.TASK, task_id, "ghl_delete_event")
        if self._tombstones.is_tombstoned(ctx.location_id, Side.GHL, Entity.TASK, task_id):
            return self._skip(ctx.location_id, Entity.TASK, "tombstoned", ctx.correlation_id, ghl_id=task_id)
        contact_id = event.get("contactId") or self._ghl.find_task_contact(ctx.location_id, task_id)
        if not contact_id:
            return self._delete(ctx, Entity.TASK, task_id, "ghl_not_found")
        record = self._ghl.get_task(ctx.location_id, str(contact_id), task_id)
        if record is None:
            return self._delete(ctx, Entity.TASK, task_id, "ghl_not_found")
        if ctx.event_type == "TaskComplete":
            record.setdefault("completed", True)
        return self._mirror_child(ctx, Entity.TASK, task_id, record, str(contact_id))

    # -- notes -------------------------------------------------------------------------------------
    def _note(self, ctx: _Ctx, event: Mapping[str, Any]) -> InboundResult:
        note_id = str(event["id"])
        if ctx.event_type == "NoteDelete":
            return self._delete(ctx, Entity.NOTE, note_id, "ghl_delete_event")
        if self._tombstones.is_tombstoned(ctx.location_id, Side.GHL, Entity.NOTE, note_id):
            return self._skip(ctx.location_id, Entity.NOTE, "tombstoned", ctx.correlation_id, ghl_id=note_id)
        contact_id = event.get("contactId")
        if not contact_id:
            existing = self._mappings.get_by_ghl(ctx.location_id, Entity.NOTE, note_id)
            contact_id = existing.ghl_parent_id if existing else None
        if not contact_id:
            # Notes are contact-scoped in GHL and there is no location-wide note search.
            return self._skip(
                ctx.location_id, Entity.NOTE, "missing_contact", ctx.correlation_id, ghl_id=note_id
            )
        record = self._ghl.get_note(ctx.location_id, str(contact_id), note_id)
        if record is None:
            return self._delete(ctx, Entity.NOTE, note_id, "ghl_not_found")
        return self._mirror_child(ctx, Entity.NOTE, note_id, record, str(contact_id))

    def _mirror_child(
        self, ctx: _Ctx, entity: Entity, ghl_id: str, record: Record, ghl_contact_id: str
    ) -> InboundResult:
        parent = self._ensure_contact_mapping(ctx, ghl_contact_id)
        if parent is None:
            return self._skip(
                ctx.location_id, entity, "contact_not_mirrored", ctx.correlation_id, ghl_id=ghl_id
            )
        return self._mirror(ctx, entity, ghl_id, record, parent=parent)

    # -- appointments ------------------------------------------------------------------------------
    def _appointment(self, ctx: _Ctx, event: Mapping[str, Any]) -> InboundResult:
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

    def _mirror_appointment(self, ctx: _Ctx, appointment_id: str, record: Record) -> InboundResult:
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
    def _entity_mapping(self, ctx: _Ctx, entity: Entity) -> EntityMapping | None:
        em = self._resolver.for_location(ctx.location_id, ctx.account_id).for_entity(entity)
        return em if em.enabled else None

    def _mirror(
        self,
        ctx: _Ctx,
        entity: Entity,
        ghl_id: str,
        record: Record,
        *,
        parent: IdMapping | None,
        adopted: IdMapping | None = None,
    ) -> InboundResult:
        """`adopted`: the mapping just stored for a record our create key had already made (then it
        is mirrored as an update, without re-reading the mapping)."""
        from rankr_ghl.sync.echo import Action, decide, load_ledgers  # see _mirror_appointment

        em = self._entity_mapping(ctx, entity)
        if em is None:
            return self._skip(ctx.location_id, entity, "entity_disabled", ctx.correlation_id, ghl_id=ghl_id)
        mapping = adopted or self._mappings.get_by_ghl(ctx.location_id, entity, ghl_id)
        if mapping is None and entity is Entity.CONTACT and self._lead_claims is not None:
            claimed = self._link_claimed_contact(ctx, ghl_id, record)
            if isinstance(claimed, InboundResult):
                return claimed
            mapping = claimed
        parent_rankr = parent.rankr_id if parent else None
        existing: Record | None = None
        if mapping is not None:
            existing = self._rankr.get(ctx.account_id, entity, mapping.rankr_id, mapping.rankr_parent_id)
            if existing is None or existing.get("deletedAt"):
                # Deleted in Rankr: do not resurrect from GHL (Rankr's delete flows the other way).
                return self._skip(
                    ctx.location_id,
                    entity,
                    "rankr_deleted",
                    ctx.correlation_id,
                    ghl_id=ghl_id,
                    rankr_id=mapping.rankr_id,
                )
        current = em.from_ghl(record)
        other = em.from_rankr(existing) if existing is not None else None
        ledger_ghl, ledger_rankr = load_ledgers(
            self._ledger,
            ctx.location_id,
            entity,
            ghl_id=ghl_id,
            rankr_id=mapping.rankr_id if mapping else None,
        )
        if (
            mapping is not None
            and ledger_ghl is None
            and ledger_rankr is None
            and self._lead_push_pending(ctx, entity, record, mapping.rankr_id)
        ):
            # Linked by a lead push that has not written its ledger yet: its GHL writes are still
            # landing (tags follow the upsert), so GHL's state must not overwrite the lead now. The
            # push's ledger makes the next event an echo; an abandoned claim expires (TTL).
            return self._skip(
                ctx.location_id,
                entity,
                "pending_lead_push",
                ctx.correlation_id,
                ghl_id=ghl_id,
                rankr_id=mapping.rankr_id,
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
        if decision.action is not Action.WRITE:
            rankr_id = mapping.rankr_id if mapping else None
            return self._no_write(ctx, entity, ghl_id=ghl_id, rankr_id=rankr_id, decision=decision)

        body = decision.rankr_body(em)
        if mapping is None:
            if entity is Entity.TASK and not body.get("title"):
                body["title"] = "(untitled task)"  # Rankr requires a title; GHL allows none
            if entity is Entity.NOTE and not body.get("body"):
                return self._skip(ctx.location_id, entity, "empty_note", ctx.correlation_id, ghl_id=ghl_id)
            from rankr_ghl.rankr.errors import RankrIdempotencyKeyReused, RankrNotFound

            key = ghl_mirror_key(entity.value, ctx.location_id, ghl_id)
            adopted_id: str | None = None
            try:
                rankr_id = str(self._rankr.create(ctx.account_id, entity, body, parent_rankr, key)["id"])
            except RankrNotFound:
                if parent_rankr is None:
                    raise
                # The parent's Rankr record is gone (or never existed there): retrying cannot help, so
                # skip and audit instead of cycling the message to the DLQ; reconcile re-checks it.
                return self._skip(
                    ctx.location_id,
                    entity,
                    "rankr_parent_missing",
                    ctx.correlation_id,
                    ghl_id=ghl_id,
                    rankr_id=parent_rankr,
                )
            except RankrIdempotencyKeyReused as reused:
                if reused.resource_id is None:
                    raise
                # An earlier attempt created the record but crashed before the mapping write, and the
                # GHL record changed since (so the body differs). That record is ours: adopt it, never
                # create a twin, and bring it up to date below.
                rankr_id = adopted_id = reused.resource_id
                logger.info(
                    "rankr create key already used: adopting the record it created",
                    extra={"location_id": ctx.location_id, "entity": entity.value, "rankr_id": rankr_id},
                )
            link = IdMapping(
                location_id=ctx.location_id,
                entity=entity,
                ghl_id=ghl_id,
                rankr_id=rankr_id,
                ghl_parent_id=parent.ghl_id if parent else None,
                rankr_parent_id=parent_rankr,
                account_id=ctx.account_id,
            )
            try:
                self._mappings.put(link)
            except MappingConflict as exc:
                # Someone linked this GHL record meanwhile (lead push): keep theirs, audit ours, and
                # soft-delete the Rankr record we just created, or it stays behind as a duplicate.
                self._rankr.delete(ctx.account_id, entity, rankr_id, parent_rankr)
                self._audit_entry(
                    ctx,
                    entity,
                    AuditAction.FAILURE,
                    outcome=AuditOutcome.FAILED,
                    ghl_id=ghl_id,
                    rankr_id=rankr_id,
                    reason="mapping_conflict",
                    error=str(exc),
                )
                self._metrics.count(METRIC_FAILED)
                return InboundResult("skipped", "mapping_conflict", entity, ghl_id, rankr_id)
            if adopted_id is not None:  # now mapped: mirror the current state as an update
                return self._mirror(ctx, entity, ghl_id, record, parent=parent, adopted=link)
            self._store_ledger(ctx, entity, decision, ghl_id, rankr_id)
            return self._written(
                ctx, entity, ghl_id=ghl_id, rankr_id=rankr_id, decision=decision, created=True
            )

        self._rankr.update(ctx.account_id, entity, mapping.rankr_id, body, mapping.rankr_parent_id)
        self._store_ledger(ctx, entity, decision, ghl_id, mapping.rankr_id)
        return self._written(
            ctx, entity, ghl_id=ghl_id, rankr_id=mapping.rankr_id, decision=decision, created=False
        )

    # -- lead claims (docs/lead-push.md): a lead push between its GHL write and its mapping write ----
    def _live_claims(self, ctx: _Ctx, entity: Entity, record: Record) -> list[LeadClaim]:
        if entity is not Entity.CONTACT or self._lead_claims is None:
            return []
        identities = lead_claim_identities(
            email=record.get("email"), phone=record.get("phone"), tags=record.get("tags")
        )
        if not identities:
            return []
        return self._lead_claims.find(ctx.location_id, identities[:MAX_CLAIM_IDENTITIES])

    def _lead_push_pending(self, ctx: _Ctx, entity: Entity, record: Record, rankr_id: str) -> bool:
        return any(claim.lead_id == rankr_id for claim in self._live_claims(ctx, entity, record))

    def _link_claimed_contact(
        self, ctx: _Ctx, ghl_id: str, record: Record
    ) -> InboundResult | IdMapping | None:
        """An unmapped contact that a lead push in flight claimed: link it to that lead (provisionally;
        lead push confirms the link, or replaces it with the contact it resolved) instead of creating a
        Rankr twin. Nothing is written to Rankr: the lead is the source of this contact's data.

        Returns the result, or the mapping someone stored meanwhile (mirror with it), or None when no
        claim applies (mirror as usual)."""
        claims = self._live_claims(ctx, Entity.CONTACT, record)
        if not claims:
            return None
        claim = claims[0]  # lead tag, then e-mail, then phone (GHL's default match order)
        kind = claim.identity.partition(":")[0]
        wanted = IdMapping(
            location_id=ctx.location_id,
            entity=Entity.CONTACT,
            ghl_id=ghl_id,
            rankr_id=claim.lead_id,
            account_id=ctx.account_id,
            attributes={
                "origin": CLAIM_LINK_ORIGIN,
                "matchedBy": f"claim:{kind}",
                "claimedAt": claim.claimed_at.isoformat(),
            },
        )
        try:
            self._mappings.put(wanted)
        except MappingConflict as exc:
            existing = exc.existing
            if existing is None:
                raise  # the store could not settle the race: retry the event
            if exc.side is Side.GHL:
                return existing  # linked meanwhile, by the lead push itself as a rule
            if existing.attributes.get("origin") == CLAIM_LINK_ORIGIN:
                # The lead is provisionally linked to another contact (duplicates allowed): lead push
                # decides which one is its own; no twin meanwhile.
                return self._skip(
                    ctx.location_id,
                    Entity.CONTACT,
                    "pending_lead_push",
                    ctx.correlation_id,
                    ghl_id=ghl_id,
                    rankr_id=claim.lead_id,
                )
            return None  # the lead is linked for good to another contact: this one is someone else's
        self._metrics.count(METRIC_CLAIM_LINKED)
        self._audit_entry(
            ctx,
            Entity.CONTACT,
            AuditAction.LINK,
            outcome=AuditOutcome.SUCCESS,
            ghl_id=ghl_id,
            rankr_id=claim.lead_id,
            reason=f"lead_claim_{kind}",
        )
        logger.info(
            "contact linked to the lead pushing it",
            extra={"location_id": ctx.location_id, "ghl_id": ghl_id, "rankr_id": claim.lead_id, "by": kind},
        )
        return InboundResult("linked", "pending_lead_push", Entity.CONTACT, ghl_id, claim.lead_id)

    def _store_ledger(
        self, ctx: _Ctx, entity: Entity, decision: Any, ghl_id: str, rankr_id: str | None
    ) -> None:
        entries = decision.ledger_entries(
            ctx.location_id, entity, change_id=ghl_id, other_id=rankr_id, correlation_id=ctx.correlation_id
        )
        if entries:
            self._ledger.put_many(entries)  # both sides in one round trip

    def _no_write(
        self, ctx: _Ctx, entity: Entity, *, ghl_id: str, rankr_id: str | None, decision: Any
    ) -> InboundResult:
        from rankr_ghl.sync.echo import Action

        action = decision.action
        if action is Action.SKIP_ECHO:
            self._metrics.count(METRIC_ECHO)
            self._audit_entry(
                ctx,
                entity,
                AuditAction.SKIP,
                outcome=AuditOutcome.SKIPPED,
                ghl_id=ghl_id,
                rankr_id=rankr_id,
                reason="echo",
            )
            return InboundResult("echo", "echo", entity, ghl_id, rankr_id)
        if rankr_id is not None:
            self._store_ledger(ctx, entity, decision, ghl_id, rankr_id)
        self._audit_entry(
            ctx,
            entity,
            AuditAction.SKIP,
            outcome=AuditOutcome.SKIPPED,
            ghl_id=ghl_id,
            rankr_id=rankr_id,
            reason=decision.reason or "in_sync",
        )
        return InboundResult("in_sync", decision.reason, entity, ghl_id, rankr_id)

    def _written(
        self, ctx: _Ctx, entity: Entity, *, ghl_id: str, rankr_id: str, decision: Any, created: bool
    ) -> InboundResult:
        self._metrics.count(METRIC_WRITTEN)
        self._audit_entry(
            ctx,
            entity,
            AuditAction.CREATE if created else AuditAction.UPDATE,
            outcome=AuditOutcome.SUCCESS,
            ghl_id=ghl_id,
            rankr_id=rankr_id,
            fields=tuple(decision.fields_changed),
            reason=decision.reason,
        )
        return InboundResult("written", "created" if created else "updated", entity, ghl_id, rankr_id)

    # -- deletes -----------------------------------------------------------------------------------
    def _delete(self, ctx: _Ctx, entity: Entity, ghl_id: str, reason: str) -> InboundResult:
        """GHL deleted the record: tombstone it and soft-delete the mapped Rankr record."""
        self._tombstones.bury(Tombstone(ctx.location_id, Side.GHL, entity, ghl_id, reason=reason))
        em = self._resolver.for_location(ctx.location_id, ctx.account_id).for_entity(entity)
        if entity is Entity.APPOINTMENT:
            existing = self._rankr.get(ctx.account_id, entity, ghl_id, None)
            if (
                existing is None
                or existing.get("deletedAt")
                or em.delete_action(Side.GHL) is DeleteAction.NONE
            ):
                return self._deleted_noop(ctx, entity, ghl_id, None, reason)
            self._rankr.delete(ctx.account_id, entity, ghl_id, None)
            return self._deleted(ctx, entity, ghl_id, ghl_id, reason)
        mapping = self._mappings.get_by_ghl(ctx.location_id, entity, ghl_id)
        if mapping is None or em.delete_action(Side.GHL) is DeleteAction.NONE:
            return self._deleted_noop(ctx, entity, ghl_id, mapping.rankr_id if mapping else None, reason)
        self._rankr.delete(ctx.account_id, entity, mapping.rankr_id, mapping.rankr_parent_id)
        self._ledger.delete(ctx.location_id, entity, Side.GHL, ghl_id)
        return self._deleted(ctx, entity, ghl_id, mapping.rankr_id, reason)

    def _deleted(self, ctx: _Ctx, entity: Entity, ghl_id: str, rankr_id: str, reason: str) -> InboundResult:
        self._metrics.count(METRIC_WRITTEN)
        self._audit_entry(
            ctx,
            entity,
            AuditAction.DELETE,
            outcome=AuditOutcome.SUCCESS,
            ghl_id=ghl_id,
            rankr_id=rankr_id,
            reason=reason,
        )
        return InboundResult("deleted", reason, entity, ghl_id, rankr_id)

    def _deleted_noop(
        self, ctx: _Ctx, entity: Entity, ghl_id: str, rankr_id: str | None, reason: str
    ) -> InboundResult:
        self._audit_entry(
            ctx,
            entity,
            AuditAction.SKIP,
            outcome=AuditOutcome.SKIPPED,
            ghl_id=ghl_id,
            rankr_id=rankr_id,
            reason=f"{reason}_nothing_to_delete",
        )
        return InboundResult("deleted", "nothing_to_delete", entity, ghl_id, rankr_id)

    # -- skips and audit ---------------------------------------------------------------------------
    def _skip_unrouted(self, event_type: str, reason: str) -> InboundResult:
        self._metrics.count(METRIC_SKIPPED, reason)
        logger.warning("webhook event skipped", extra={"event_type": event_type, "reason": reason})
        return InboundResult("skipped", reason)

    def _skip(
        self,
        location_id: str,
        entity: Entity | None,
        reason: str,
        correlation_id: str | None,
        *,
        ghl_id: str | None = None,
        rankr_id: str | None = None,
    ) -> InboundResult:
        self._metrics.count(METRIC_SKIPPED, reason)
        logger.info(
            "webhook event skipped",
            extra={
                "location_id": location_id,
                "reason": reason,
                "ghl_id": ghl_id,
                "correlation_id": correlation_id,
            },
        )
        if entity is not None:
            self._safe_audit(
                AuditEntry(
                    location_id=location_id,
                    entity=entity,
                    action=AuditAction.SKIP,
                    outcome=AuditOutcome.SKIPPED,
                    direction=DIRECTION,
                    ghl_id=ghl_id,
                    rankr_id=rankr_id,
                    reason=reason,
                    correlation_id=correlation_id,
                    flow=FLOW,
                )
            )
        return InboundResult("skipped", reason, entity, ghl_id, rankr_id)

    def _audit_entry(
        self,
        ctx: _Ctx,
        entity: Entity,
        action: AuditAction,
        *,
        outcome: AuditOutcome,
        ghl_id: str | None,
        rankr_id: str | None,
        fields: tuple[str, ...] = (),
        reason: str | None = None,
        error: str | None = None,
    ) -> None:
        self._safe_audit(
            AuditEntry(
                location_id=ctx.location_id,
                entity=entity,
                action=action,
                outcome=outcome,
                direction=DIRECTION,
                ghl_id=ghl_id,
                rankr_id=rankr_id,
                fields=fields,
                reason=reason,
                error=redact_text(error) if error else None,
                correlation_id=ctx.correlation_id,
                flow=FLOW,
            )
        )

    def record_failure(self, message: Mapping[str, Any], error: BaseException) -> None:
        """Audit a failed attempt (the record will be retried, then dead-lettered)."""
        self._metrics.count(METRIC_FAILED)
        event = message.get("event") or {}
        location_id = message.get("locationId") or event.get("locationId")
        entity = _entity_of(str(message.get("eventType", "")))
        if not location_id or entity is None:
            return
        ghl_id = event.get("id") or (event.get("appointment") or {}).get("id")
        self._safe_audit(
            AuditEntry(
                location_id=str(location_id),
                entity=entity,
                action=AuditAction.FAILURE,
                outcome=AuditOutcome.FAILED,
                direction=DIRECTION,
                ghl_id=str(ghl_id) if ghl_id else None,
                reason=type(error).__name__,
                error=redact_text(str(error))[:500],
                correlation_id=message.get("correlationId"),
                flow=FLOW,
            )
        )

    def _safe_audit(self, entry: AuditEntry) -> None:
        try:
            self._audit.record(entry)
        except Exception:  # the audit log must never turn a done write into a retry
            logger.exception("audit write failed", extra={"location_id": entry.location_id})


# ------------------------------------------------------------------------------------------- helpers
def _entity_of(event_type: str) -> Entity | None:
    if event_type in CONTACT_EVENTS:
        return Entity.CONTACT
    if event_type in TASK_EVENTS:
        return Entity.TASK
    if event_type in NOTE_EVENTS:
        return Entity.NOTE
    if event_type in APPOINTMENT_EVENTS:
        return Entity.APPOINTMENT
    return None


def _inactive_reason(connection: Connection | None) -> str | None:
    if connection is None:
        return "not_connected"
    status = str(getattr(connection.status, "value", connection.status))
    return None if status == "active" else f"connection_{status}"
