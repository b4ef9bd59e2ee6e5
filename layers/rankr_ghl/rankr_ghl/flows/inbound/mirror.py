"""The mirror step: one GHL record onto its Rankr twin (echo check, create with a replay-safe key,
update, conflicts), linking a new GHL contact to the lead that claimed it instead of twinning it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rankr_ghl.flows.inbound.model import (
    MAX_CLAIM_IDENTITIES,
    METRIC_CLAIM_LINKED,
    METRIC_FAILED,
    EventContext,
    InboundResult,
)
from rankr_ghl.flows.inbound.outcomes import InboundOutcomes
from rankr_ghl.observability import logger
from rankr_ghl.ports import (
    Record,
)
from rankr_ghl.rankr.keys import ghl_mirror_key
from rankr_ghl.sync.ports import (
    CLAIM_LINK_ORIGIN,
    AuditAction,
    AuditOutcome,
    IdMapping,
    LeadClaim,
    MappingConflict,
    lead_child_claim_identity,
    lead_claim_identities,
    lead_push_settling,
)
from rankr_ghl.sync.types import Entity, Side

if TYPE_CHECKING:
    from rankr_ghl.sync.mapping import EntityMapping
    from rankr_ghl.sync.record_state import MirrorState, RecordState


class MirrorSteps(InboundOutcomes):
    def _entity_mapping(self, ctx: EventContext, entity: Entity) -> EntityMapping | None:
        em = self._resolver.for_location(ctx.location_id, ctx.account_id).for_entity(entity)
        return em if em.enabled else None

    def _mirror(
        self,
        ctx: EventContext,
        entity: Entity,
        ghl_id: str,
        record: Record,
        *,
        parent: IdMapping | None,
        before: RecordState,
        adopted: IdMapping | None = None,
    ) -> InboundResult:
        """`before`: the record's state read before the GHL fetch. `adopted`: the mapping just stored
        for a record our create key had already made (then it is mirrored as an update, without
        re-reading the mapping)."""
        from rankr_ghl.sync.echo import Action, decide, load_ledgers  # see _mirror_appointment

        state: MirrorState | None = None
        claims: list[LeadClaim] | None = None  # this record's live lead claims, once read
        if adopted is not None:
            mapping: IdMapping | None = adopted
        else:
            # The mapping, ledger entries, (for a record unmapped before the fetch) the claims and (for
            # a resolver whose cache is cold) the mapping document in one read; the mapping is read
            # again here, after the fetch, as the decision needs it.
            hint = before.mapping
            identities = [] if hint is not None else self._claim_identities(ctx, entity, record, parent)
            state = self._reads.mirror_state(
                ctx.location_id,
                entity,
                ghl_id,
                rankr_id=hint.rankr_id if hint is not None else None,
                claim_identities=identities,
                with_mapping_document=not self._resolver.is_cached(ctx.location_id, ctx.account_id),
                account_id=ctx.account_id,
            )
            if state.mapping_document_read:
                self._resolver.prime(ctx.location_id, ctx.account_id, state.mapping_document)
            mapping = state.mapping
            if hint is None:
                claims = state.claims or []
        em = self._entity_mapping(ctx, entity)
        if em is None:
            return self._skip(ctx.location_id, entity, "entity_disabled", ctx.correlation_id, ghl_id=ghl_id)
        if mapping is None and entity is Entity.CONTACT and self._lead_claims is not None:
            claimed = self._link_claimed_contact(ctx, ghl_id, record, claims)
            if isinstance(claimed, InboundResult):
                return claimed
            mapping = claimed
        if mapping is None and self._lead_child_pending(ctx, entity, record, parent, claims):
            # A lead's own note or task that its lead push is about to map (Rankr keeps it on the lead).
            return self._skip(ctx.location_id, entity, "pending_lead_push", ctx.correlation_id, ghl_id=ghl_id)
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
        if state is None:
            ledger_ghl, ledger_rankr = load_ledgers(
                self._ledger,
                ctx.location_id,
                entity,
                ghl_id=ghl_id,
                rankr_id=mapping.rankr_id if mapping else None,
            )
        else:
            ledger_ghl, ledger_rankr = state.ledger_ghl, None
            if mapping is not None and mapping.rankr_id == state.rankr_id:
                ledger_rankr = state.ledger_rankr
            elif mapping is not None:  # mapped to another twin than before the fetch, or just linked
                ledger_rankr = self._ledger.get(ctx.location_id, entity, Side.RANKR, mapping.rankr_id)
        if (
            mapping is not None
            and lead_push_settling(ledger_ghl, ledger_rankr)
            and self._lead_push_pending(ctx, entity, record, mapping.rankr_id, claims)
        ):
            # Linked by a lead push that has not settled yet (no ledger, or only the base it wrote
            # with its link): its GHL writes are still landing (tags follow the upsert), so GHL's
            # state must not overwrite the lead now. The push's settle makes the next event an echo;
            # an abandoned claim expires (TTL), and the pair is then decided against its base.
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
                return self._mirror(ctx, entity, ghl_id, record, parent=parent, before=before, adopted=link)
            return self._written(
                ctx,
                entity,
                ghl_id=ghl_id,
                rankr_id=rankr_id,
                decision=decision,
                created=True,
                ledger=self._ledger_entries(ctx, entity, decision, ghl_id, rankr_id),
            )

        self._rankr.update(ctx.account_id, entity, mapping.rankr_id, body, mapping.rankr_parent_id)
        return self._written(
            ctx,
            entity,
            ghl_id=ghl_id,
            rankr_id=mapping.rankr_id,
            decision=decision,
            created=False,
            ledger=self._ledger_entries(ctx, entity, decision, ghl_id, mapping.rankr_id),
        )

    # -- lead claims (docs/lead-push.md): a lead push between its GHL write and its mapping write ----
    def _claim_identities(
        self, ctx: EventContext, entity: Entity, record: Record, parent: IdMapping | None
    ) -> list[str]:
        """The identities a lead push in flight would have claimed this record by: a contact's lead
        tags, e-mail and phone; a note's or task's text on its contact."""
        if self._lead_claims is None:
            return []
        if entity is Entity.CONTACT:
            identities = lead_claim_identities(
                email=record.get("email"), phone=record.get("phone"), tags=record.get("tags")
            )
            return identities[:MAX_CLAIM_IDENTITIES]
        if entity in (Entity.NOTE, Entity.TASK):
            contact_id = parent.ghl_id if parent is not None else str(record.get("contactId") or "")
            text = record.get("body" if entity is Entity.NOTE else "title")
            identity = lead_child_claim_identity(entity, contact_id, text)
            return [identity] if identity is not None else []
        return []

    def _live_claims(
        self,
        ctx: EventContext,
        entity: Entity,
        record: Record,
        parent: IdMapping | None,
        known: list[LeadClaim] | None,
    ) -> list[LeadClaim]:
        """`known`: the claims already read with the record's mapping (None: not read yet)."""
        if known is not None:
            return known
        identities = self._claim_identities(ctx, entity, record, parent)
        if not identities or self._lead_claims is None:
            return []
        return self._lead_claims.find(ctx.location_id, identities)

    def _lead_child_pending(
        self,
        ctx: EventContext,
        entity: Entity,
        record: Record,
        parent: IdMapping | None,
        known: list[LeadClaim] | None,
    ) -> bool:
        if entity not in (Entity.NOTE, Entity.TASK) or self._lead_claims is None:
            return False
        return bool(self._live_claims(ctx, entity, record, parent, known))

    def _lead_push_pending(
        self, ctx: EventContext, entity: Entity, record: Record, rankr_id: str, known: list[LeadClaim] | None
    ) -> bool:
        if entity is not Entity.CONTACT:
            return False
        claims = self._live_claims(ctx, entity, record, None, known)
        return any(claim.lead_id == rankr_id for claim in claims)

    def _link_claimed_contact(
        self, ctx: EventContext, ghl_id: str, record: Record, known: list[LeadClaim] | None
    ) -> InboundResult | IdMapping | None:
        """An unmapped contact that a lead push in flight claimed: link it to that lead (provisionally;
        lead push confirms the link, or replaces it with the contact it resolved) instead of creating a
        Rankr twin. Nothing is written to Rankr: the lead is the source of this contact's data.

        Returns the result, or the mapping someone stored meanwhile (mirror with it), or None when no
        claim applies (mirror as usual)."""
        claims = self._live_claims(ctx, Entity.CONTACT, record, None, known)
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
