"""The webhook worker's ports and its outcomes: ledger writes, skips, deletes, audit entries and metrics."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rankr_ghl.flows.inbound.model import (
    DIRECTION,
    FLOW,
    METRIC_ECHO,
    METRIC_FAILED,
    METRIC_SKIPPED,
    METRIC_WRITTEN,
    AppLifecycle,
    EventContext,
    InboundResult,
    entity_of,
)
from rankr_ghl.observability import logger, redact_text
from rankr_ghl.ports import (
    ConnectionLookup,
    Counter,
    GhlRecords,
    NullCounter,
    RankrRecords,
)
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import (
    AuditAction,
    AuditEntry,
    AuditOutcome,
    AuditSink,
    LeadClaimStore,
    LedgerEntry,
    LedgerStore,
    MappingStore,
    Tombstone,
    TombstoneStore,
)
from rankr_ghl.sync.types import DeleteAction, Entity, Side

if TYPE_CHECKING:
    from rankr_ghl.sync.record_state import LedgerAuditWriter, MirrorReads


class InboundOutcomes:
    """Holds the worker's ports; every way an event ends (written, skipped, deleted) is recorded here."""

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
        mirror_reads: MirrorReads,
        ledger_audit: LedgerAuditWriter,
        lead_claims: LeadClaimStore | None = None,
    ) -> None:
        """`mirror_reads`: the record state reads over these stores, one round trip each.
        `ledger_audit`: a step's ledger and audit entries written together over `ledger` and `audit`.
        `lead_claims`: the claims of lead pushes in flight (None: no lead push in this deployment)."""
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
        self._reads = mirror_reads
        self._ledger_audit = ledger_audit

    def _ledger_entries(
        self, ctx: EventContext, entity: Entity, decision: Any, ghl_id: str, rankr_id: str | None
    ) -> list[LedgerEntry]:
        return list(
            decision.ledger_entries(
                ctx.location_id,
                entity,
                change_id=ghl_id,
                other_id=rankr_id,
                correlation_id=ctx.correlation_id,
            )
        )

    def _no_write(
        self, ctx: EventContext, entity: Entity, *, ghl_id: str, rankr_id: str | None, decision: Any
    ) -> InboundResult:
        from rankr_ghl.sync.echo import Action

        echo = decision.action is Action.SKIP_ECHO
        if echo:
            self._metrics.count(METRIC_ECHO)
        ledger = (
            [] if echo or rankr_id is None else self._ledger_entries(ctx, entity, decision, ghl_id, rankr_id)
        )
        reason = "echo" if echo else decision.reason or "in_sync"
        self._audit_entry(
            ctx,
            entity,
            AuditAction.SKIP,
            outcome=AuditOutcome.SKIPPED,
            ghl_id=ghl_id,
            rankr_id=rankr_id,
            reason=reason,
            ledger=ledger,
        )
        if echo:
            return InboundResult("echo", "echo", entity, ghl_id, rankr_id)
        return InboundResult("in_sync", decision.reason, entity, ghl_id, rankr_id)

    def _written(
        self,
        ctx: EventContext,
        entity: Entity,
        *,
        ghl_id: str,
        rankr_id: str,
        decision: Any,
        created: bool,
        ledger: Sequence[LedgerEntry] = (),
    ) -> InboundResult:
        """`ledger`: the entries of the write, stored with its audit entry (a failure raises)."""
        self._audit_entry(
            ctx,
            entity,
            AuditAction.CREATE if created else AuditAction.UPDATE,
            outcome=AuditOutcome.SUCCESS,
            ghl_id=ghl_id,
            rankr_id=rankr_id,
            fields=tuple(decision.fields_changed),
            reason=decision.reason,
            ledger=ledger,
        )
        self._metrics.count(METRIC_WRITTEN)
        return InboundResult("written", "created" if created else "updated", entity, ghl_id, rankr_id)

    # -- deletes -----------------------------------------------------------------------------------
    def _delete(self, ctx: EventContext, entity: Entity, ghl_id: str, reason: str) -> InboundResult:
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

    def _deleted(
        self, ctx: EventContext, entity: Entity, ghl_id: str, rankr_id: str, reason: str
    ) -> InboundResult:
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
        self, ctx: EventContext, entity: Entity, ghl_id: str, rankr_id: str | None, reason: str
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
        ctx: EventContext,
        entity: Entity,
        action: AuditAction,
        *,
        outcome: AuditOutcome,
        ghl_id: str | None,
        rankr_id: str | None,
        fields: tuple[str, ...] = (),
        reason: str | None = None,
        error: str | None = None,
        ledger: Sequence[LedgerEntry] = (),
    ) -> None:
        """`ledger`: entries to store with the audit entry, in one round trip (a failure to store them
        raises; the audit entry itself stays best effort)."""
        entry = AuditEntry(
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
        if ledger:
            self._ledger_audit.write(ledger, entry)
        else:
            self._safe_audit(entry)

    def record_failure(self, message: Mapping[str, Any], error: BaseException) -> None:
        """Audit a failed attempt (the record will be retried, then dead-lettered)."""
        self._metrics.count(METRIC_FAILED)
        event = message.get("event") or {}
        location_id = message.get("locationId") or event.get("locationId")
        entity = entity_of(str(message.get("eventType", "")))
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
