"""Comparing one mapped pair (contact, task or note) and writing what the mapping's rules decide."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from rankr_ghl.flows.reconcile.context import RunContext
from rankr_ghl.flows.reconcile.jobs import MAX_CLAIM_IDENTITIES, DiffKind
from rankr_ghl.flows.reconcile.record_values import common_fields, ghl_clears_as_empty_strings
from rankr_ghl.ports import Record
from rankr_ghl.sync import diff
from rankr_ghl.sync.echo import Action, Decision, load_ledgers, reconcile_pair
from rankr_ghl.sync.ledger_entries import ledger_entry
from rankr_ghl.sync.mapping import EntityMapping
from rankr_ghl.sync.ports import (
    CLAIM_LINK_ORIGIN,
    LEAD_PUSH_CHILDREN,
    LEAD_PUSH_CHILDREN_PENDING,
    AuditAction,
    AuditOutcome,
    IdMapping,
    LedgerEntry,
    lead_claim_identities,
    lead_push_settling,
)
from rankr_ghl.sync.transforms import LEAD_TAG_PREFIX
from rankr_ghl.sync.types import Entity, Side

# GHL's and our clocks may disagree: a contact updated up to this long after our last look at it may
# still be a stale copy (one more direct read, never a wrong write).
STALE_COPY_SKEW = timedelta(seconds=30)


def stale_copy(
    entity_mapping: EntityMapping,
    ghl_rec: Record,
    ghl_values: Mapping[str, Any],
    ledger_g: LedgerEntry | None,
) -> bool:
    """True when a GHL record differs from what the connector last saw of it although GHL says it was
    not updated since (its `dateUpdated` is not after the ledger entry): a lagging search index's copy."""
    if ledger_g is None:
        return False
    updated = entity_mapping.timestamp(Side.GHL, ghl_rec)
    if updated is None or updated >= ledger_g.written_at + STALE_COPY_SKEW:
        return False
    names = [f.name for f in entity_mapping.fields_on(Side.GHL)]
    return diff.record_digest(diff.field_digests(ghl_values, names)) != ledger_g.digest


class PairSync(RunContext):
    def sync_pair(
        self,
        entity: Entity,
        ghl_rec: Record,
        rankr_rec: Record,
        link: IdMapping,
        *,
        kind: DiffKind = DiffKind.DRIFTED,
        ghl_parent: str | None = None,
        rankr_parent: str | None = None,
        count: bool = True,
    ) -> bool:
        """Compare a mapped pair and write what the mapping's rules say. True when something differed.
        `count=False`: part of a repair already counted (a link), so not a difference of its own."""
        entity_mapping = self.field_mapping.for_entity(entity)
        ghl_values, rankr_values = entity_mapping.from_ghl(ghl_rec), entity_mapping.from_rankr(rankr_rec)
        differing = diff.changed_fields(ghl_values, rankr_values, common_fields(entity_mapping))
        if not differing:
            return False
        ledger_g, ledger_r = load_ledgers(
            self.ledger, self.location_id, entity, ghl_id=link.ghl_id, rankr_id=link.rankr_id
        )
        unfinished = entity is Entity.CONTACT and self.lead_push_unfinished(ghl_rec, link, ledger_g, ledger_r)
        if unfinished and ledger_g is None and ledger_r is None:
            self.leave_to_lead_push(link)  # no base to judge any field against
            return True
        if entity is Entity.CONTACT and stale_copy(entity_mapping, ghl_rec, ghl_values, ledger_g):
            # A search index entry older than our last look at the contact: GHL's search lags its
            # writes, and the stale copy would undo a newer edit. The contact itself decides.
            self.tick("ghl_stale_search_reads")
            fresh = self.ghl.get(self.location_id, entity, link.ghl_id, None)
            if fresh is None:
                return True  # deleted meanwhile: its event or the delete confirmation handles it
            ghl_rec, ghl_values = fresh, entity_mapping.from_ghl(fresh)
            differing = diff.changed_fields(ghl_values, rankr_values, common_fields(entity_mapping))
            if not differing:
                return False
        plan = reconcile_pair(
            ghl_values,
            rankr_values,
            ledger_g,
            ledger_r,
            entity_mapping,
            ghl_ts=entity_mapping.timestamp(Side.GHL, ghl_rec),
            rankr_ts=entity_mapping.timestamp(Side.RANKR, rankr_rec),
            location_id=self.location_id,
            ghl_id=link.ghl_id,
            rankr_id=link.rankr_id,
            hold_unchanged=unfinished,
        )
        if plan.in_sync and unfinished:
            self.leave_to_lead_push(link)
            return True
        if plan.in_sync:
            if count:
                self.report.found(
                    entity,
                    DiffKind.UNREPAIRABLE,
                    ghl_id=link.ghl_id,
                    rankr_id=link.rankr_id,
                    fields=differing,
                )
            return True
        if count:
            self.report.found(entity, kind, ghl_id=link.ghl_id, rankr_id=link.rankr_id, fields=differing)
        if self.dry_run:
            return True

        ids = {"ghl_id": link.ghl_id, "rankr_id": link.rankr_id}

        def work() -> None:
            entries = []
            if plan.to_rankr.action is Action.WRITE:
                body = plan.to_rankr.rankr_body(entity_mapping)
                self.rankr_update(entity, link.rankr_id, body, rankr_parent)
                entries += self.written_entries(entity, plan.to_rankr, **ids, to_rankr=True)
                self.audit_written(entity, AuditAction.UPDATE, plan.to_rankr, kind, **ids, to_rankr=True)
            if plan.to_ghl.action is Action.WRITE:
                self.ghl_update(
                    entity,
                    entity_mapping=entity_mapping,
                    ghl_id=link.ghl_id,
                    decision=plan.to_ghl,
                    current=ghl_values,
                    parent=ghl_parent,
                    current_tags=ghl_rec.get("tags"),
                )
                entries += self.written_entries(entity, plan.to_ghl, **ids, to_rankr=False)
                self.audit_written(entity, AuditAction.UPDATE, plan.to_ghl, kind, **ids, to_rankr=False)
            for entry in entries:  # later entries (the Rankr -> GHL decision) supersede earlier ones
                self.ledger.put(entry)
            if count:
                self.count_repaired(entity, kind)

        self.guard(entity, kind, work, ghl_id=link.ghl_id, rankr_id=link.rankr_id)
        return True

    def lead_push_unfinished(
        self, ghl_rec: Record, link: IdMapping, ledger_g: LedgerEntry | None, ledger_r: LedgerEntry | None
    ) -> bool:
        """A lead's pair whose lead push has not finished: its ledger is no more than the push's link
        base (or absent), and the mapping is the push's link with its children pending, or the webhook
        worker's provisional link on the lead's claim, or the lead's claim still lives. GHL's contact
        is then half-written (the tags follow the contact; a failed tag write waits for the push's
        retry or replay), and judging its differences by timestamps would take GHL's tag-less state,
        the newer record, to the lead in Rankr, and the push's tags off GHL after. Such a pair is
        decided only on what one side changed against the base; the rest is left to the push (a
        pair with no base at all is left whole)."""
        if not lead_push_settling(ledger_g, ledger_r):
            return False
        # The pass's mapping list may carry ids only: the mapping's attributes are read (only here).
        stored = (
            link
            if link.attributes
            else self.mappings.get_by_ghl(self.location_id, Entity.CONTACT, link.ghl_id)
        )
        attributes = stored.attributes if stored is not None and stored.rankr_id == link.rankr_id else {}
        if (
            attributes.get("origin") == CLAIM_LINK_ORIGIN
            or attributes.get(LEAD_PUSH_CHILDREN) == LEAD_PUSH_CHILDREN_PENDING
        ):
            return True
        if self.lead_claims is None:
            return False
        identities = lead_claim_identities(
            email=ghl_rec.get("email"), phone=ghl_rec.get("phone"), tags=ghl_rec.get("tags")
        )
        if not identities:
            return False
        claims = self.lead_claims.find(self.location_id, identities[:MAX_CLAIM_IDENTITIES])
        return any(claim.lead_id == link.rankr_id for claim in claims)

    def leave_to_lead_push(self, link: IdMapping) -> None:
        self.tick("pending_lead_push")
        self.audit(
            Entity.CONTACT,
            AuditAction.SKIP,
            "none",
            DiffKind.DRIFTED,
            outcome=AuditOutcome.SKIPPED,
            fields=["pending_lead_push"],
            ghl_id=link.ghl_id,
            rankr_id=link.rankr_id,
        )

    def rankr_update(self, entity: Entity, rankr_id: str, body: dict[str, Any], parent: str | None) -> None:
        self.rankr.update(self.account_id, entity, rankr_id, body, parent)

    def ghl_update(
        self,
        entity: Entity,
        *,
        entity_mapping: EntityMapping,
        ghl_id: str,
        decision: Decision,
        current: Mapping[str, Any],
        parent: str | None,
        current_tags: Any = None,
    ) -> None:
        """`current_tags`: the GHL record's raw tags (lead markers included, which canonical forms drop)."""
        write = decision.ghl_write(entity_mapping, current_ghl=dict(current))
        if entity is Entity.CONTACT:
            body = ghl_clears_as_empty_strings(write.body)
            add, remove = write.tags_to_add, write.tags_to_remove
            if add and remove and write.tags_replacement is not None:
                # A tag replacement goes in one PUT: between an add and a remove request, the webhook
                # worker could read the half-way tags (old + new, GHL now the newer side) and mirror
                # them to Rankr as a GHL edit, undoing the Rankr edit being carried over.
                markers = [str(t) for t in (current_tags or []) if str(t).lower().startswith(LEAD_TAG_PREFIX)]
                body["tags"] = sorted({*write.tags_replacement, *markers})
                add, remove = [], []
            if body:
                self.ghl.update_contact(self.location_id, ghl_id, body)
            if add:
                self.ghl.add_tags(self.location_id, ghl_id, add)
            if remove:
                self.ghl.remove_tags(self.location_id, ghl_id, remove)
        elif entity is Entity.TASK and write.body:
            self.ghl.update_task(self.location_id, parent or "", ghl_id, write.body)
        elif entity is Entity.NOTE and write.body:
            self.ghl.update_note(self.location_id, parent or "", ghl_id, write.body)

    def observe(
        self, entity: Entity, entity_mapping: EntityMapping, side: Side, record_id: str, canonical: Record
    ) -> None:
        self.ledger.put(
            ledger_entry(
                self.location_id,
                entity,
                side,
                record_id,
                canonical=canonical,
                mapping=entity_mapping,
                origin="observed",
                correlation_id=self.report.run_id,
            )
        )
