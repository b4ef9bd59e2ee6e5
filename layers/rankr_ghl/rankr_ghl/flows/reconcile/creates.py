"""Creates and links: a record missing on one side is created there, or linked to its twin.

No twins: at the moment of the write, the mapping and the lead claims are read again (a webhook or a
lead push may have linked the record since the pass listed it), creates use the same keys as the
webhook worker and lead push, and when the mapping write still loses a race (`MappingConflict`),
the record this run created is deleted again and the deletion audited.
"""

from __future__ import annotations

from rankr_ghl.flows.reconcile.deletes import Deletes
from rankr_ghl.flows.reconcile.jobs import FLOW, MAX_CLAIM_IDENTITIES, DiffKind
from rankr_ghl.flows.reconcile.record_values import ghl_clears_as_empty_strings, is_deleted
from rankr_ghl.observability import logger
from rankr_ghl.ports import Record
from rankr_ghl.rankr.keys import ghl_mirror_key
from rankr_ghl.sync.echo import Action, Decision, decide
from rankr_ghl.sync.ports import (
    LEAD_CLAIM_TTL_S,
    AuditAction,
    AuditOutcome,
    IdMapping,
    MappingConflict,
    lead_claim_identities,
)
from rankr_ghl.sync.transforms import LEAD_TAG_PREFIX
from rankr_ghl.sync.types import Entity, Side

TWIN_EVIDENCE = "evidence:mapping_conflict"


class Creates(Deletes):
    def create_in_rankr(self, ghl_rec: Record) -> None:
        ghl_id = str(ghl_rec["id"])
        ghl_values = self.contact_mapping.from_ghl(ghl_rec)
        decision = decide(
            Side.GHL, ghl_values, None, ledger_current=None, ledger_other=None, mapping=self.contact_mapping
        )
        if decision.action is not Action.WRITE:
            return
        self.report.found(
            Entity.CONTACT, DiffKind.MISSING_IN_RANKR, ghl_id=ghl_id, fields=decision.fields_changed
        )
        if self.dry_run:
            return

        def work() -> None:
            from rankr_ghl.rankr.errors import RankrIdempotencyKeyReused

            if self.linked_meanwhile(ghl_rec):
                return
            body = decision.rankr_body(self.contact_mapping)
            key = ghl_mirror_key("contact", self.location_id, ghl_id)
            try:
                created = self.rankr.create(self.account_id, Entity.CONTACT, body, None, key)
            except RankrIdempotencyKeyReused as reused:
                if reused.resource_id is None:
                    raise
                self.adopt(Entity.CONTACT, ghl_rec, reused.resource_id)
                return
            self.record_created(
                Entity.CONTACT,
                decision,
                DiffKind.MISSING_IN_RANKR,
                ghl_id=ghl_id,
                rankr_id=str(created["id"]),
            )

        self.guard(Entity.CONTACT, DiffKind.MISSING_IN_RANKR, work, ghl_id=ghl_id)

    def linked_meanwhile(self, ghl_rec: Record) -> bool:
        """Read at write time: the GHL contact got a mapping, or a lead push in flight claims it (it is
        about to link it to its lead). Either way this run must not create its Rankr twin."""
        ghl_id = str(ghl_rec["id"])
        reason = ""
        if self.mappings.get_by_ghl(self.location_id, Entity.CONTACT, ghl_id) is not None:
            reason = "mapped_meanwhile"
        elif self.lead_claims is not None:
            identities = lead_claim_identities(
                email=ghl_rec.get("email"), phone=ghl_rec.get("phone"), tags=ghl_rec.get("tags")
            )
            if identities and self.lead_claims.find(self.location_id, identities[:MAX_CLAIM_IDENTITIES]):
                reason = "pending_lead_push"
        if not reason:
            return False
        self.audit_create_skipped(DiffKind.MISSING_IN_RANKR, reason, ghl_id=ghl_id)
        return True

    def audit_create_skipped(
        self, kind: DiffKind, reason: str, *, ghl_id: str | None = None, rankr_id: str | None = None
    ) -> None:
        """Audit a contact create this run left to another writer (`reason` names which)."""
        self.audit(
            Entity.CONTACT,
            AuditAction.SKIP,
            "none",
            kind,
            outcome=AuditOutcome.SKIPPED,
            fields=[reason],
            ghl_id=ghl_id,
            rankr_id=rankr_id,
        )

    def create_in_ghl(self, rankr_rec: Record) -> None:
        rankr_id = str(rankr_rec["id"])
        rankr_values = self.contact_mapping.from_rankr(rankr_rec)
        decision = decide(
            Side.RANKR,
            rankr_values,
            None,
            ledger_current=None,
            ledger_other=None,
            mapping=self.contact_mapping,
        )
        if decision.action is not Action.WRITE:
            return
        self.report.found(
            Entity.CONTACT, DiffKind.MISSING_IN_GHL, rankr_id=rankr_id, fields=decision.fields_changed
        )
        if self.dry_run:
            return

        def work() -> None:
            if self.mappings.get_by_rankr(self.location_id, Entity.CONTACT, rankr_id) is not None:
                return  # linked meanwhile (webhook or lead push)
            body = ghl_clears_as_empty_strings(decision.ghl_write(self.contact_mapping).body)
            tags = [str(tag) for tag in body.pop("tags", None) or []]
            lead_tag = f"{LEAD_TAG_PREFIX}{rankr_id}".lower()
            identities = lead_claim_identities(
                email=body.get("email"), phone=body.get("phone"), tags=[lead_tag]
            )
            identities = identities[:MAX_CLAIM_IDENTITIES]
            if self.claimed_by_a_push(rankr_id, identities):
                return
            if self.lead_claims is not None:
                # Claimed like a lead push claims its lead: the contact's create webhook may reach the
                # worker before this run maps it (or after a create GHL applied but answered with an
                # error), and the worker then links the contact to `rankr_id` instead of mirroring it
                # into a Rankr twin.
                self.lead_claims.claim(self.location_id, identities, rankr_id, LEAD_CLAIM_TTL_S)
            created_here = False
            if body.get("email") or body.get("phone"):
                # Upsert: a repeat (crash before the mapping write) finds the same contact, never a
                # twin. Without tags: on a matched contact an upsert's tags would replace the person's
                # own; they are added below, a union.
                created = self.ghl.upsert_contact(self.location_id, body)
            else:
                found = self.ghl.find_contact_by_tag(self.location_id, lead_tag)
                if found is not None:
                    created = found
                else:
                    body["tags"] = sorted({*tags, lead_tag})
                    created = self.ghl.create_contact(self.location_id, body)
                    created_here, tags = True, []
            ghl_id = str(created["id"])
            if tags:
                self.ghl.add_tags(self.location_id, ghl_id, tags)
            self.record_created(
                Entity.CONTACT,
                decision,
                DiffKind.MISSING_IN_GHL,
                ghl_id=ghl_id,
                rankr_id=rankr_id,
                created_here=created_here,
            )
            if self.lead_claims is not None:
                self.lead_claims.release(self.location_id, identities, rankr_id)

        self.guard(Entity.CONTACT, DiffKind.MISSING_IN_GHL, work, rankr_id=rankr_id)

    def claimed_by_a_push(self, rankr_id: str, identities: list[str]) -> bool:
        """A push of another lead with the same e-mail or phone holds a claim on them: it writes that
        GHL contact itself, so this run must not. A claim held for `rankr_id` itself is this record's
        own (an earlier run's, or its own lead push's, whose contact the upsert below matches)."""
        if self.lead_claims is None or not identities:
            return False
        claims = self.lead_claims.find(self.location_id, identities)
        if not any(claim.lead_id != rankr_id for claim in claims):
            return False
        self.audit_create_skipped(DiffKind.MISSING_IN_GHL, "pending_lead_push", rankr_id=rankr_id)
        return True

    def record_created(
        self,
        entity: Entity,
        decision: Decision,
        kind: DiffKind,
        *,
        ghl_id: str,
        rankr_id: str,
        ghl_parent: str | None = None,
        rankr_parent: str | None = None,
        created_here: bool = True,
    ) -> None:
        """A repair created the record on the side `kind` names: map the pair, write both ledger
        entries, audit the create and count the repair. `created_here`: the record is new (not a
        contact GHL's upsert matched), so it is ours to delete when it lost a race."""
        to_rankr = kind is DiffKind.MISSING_IN_RANKR
        try:
            self.put_mapping(
                entity,
                ghl_id,
                rankr_id,
                matched_by="reconcile_create",
                ghl_parent=ghl_parent,
                rankr_parent=rankr_parent,
            )
        except MappingConflict as conflict:
            self.delete_own_twin(entity, conflict, to_rankr=to_rankr, created_here=created_here)
            return
        ids = {"ghl_id": ghl_id, "rankr_id": rankr_id}
        self.ledger.put_many(self.written_entries(entity, decision, **ids, to_rankr=to_rankr))
        self.audit_written(entity, AuditAction.CREATE, decision, kind, **ids, to_rankr=to_rankr)
        self.count_repaired(entity, kind)

    def delete_own_twin(
        self, entity: Entity, conflict: MappingConflict, *, to_rankr: bool, created_here: bool
    ) -> None:
        """Another writer mapped the record first: the one this run created is a twin. Delete it
        (never leave it live) and audit the deletion with the conflict as its evidence."""
        wanted = conflict.wanted
        self.report.found(entity, DiffKind.TWIN, ghl_id=wanted.ghl_id, rankr_id=wanted.rankr_id)
        ours_mapped = (
            self.mappings.get_by_rankr(self.location_id, entity, wanted.rankr_id)
            if to_rankr
            else self.mappings.get_by_ghl(self.location_id, entity, wanted.ghl_id)
        )
        if ours_mapped is not None or not created_here:
            raise conflict  # the record is someone's mapped record, or a match GHL found: keep it
        if to_rankr:
            self.rankr.delete(self.account_id, entity, wanted.rankr_id, wanted.rankr_parent_id)
        else:
            self.ghl.delete_contact(self.location_id, wanted.ghl_id)
        logger.info(
            "reconcile create lost a mapping race: own twin deleted",
            extra={"location_id": self.location_id, "entity": entity.value},
        )
        self.audit(
            entity,
            AuditAction.DELETE,
            "ghl_to_rankr" if to_rankr else "rankr_to_ghl",
            DiffKind.TWIN,
            fields=[TWIN_EVIDENCE],
            ghl_id=wanted.ghl_id,
            rankr_id=wanted.rankr_id,
        )
        self.count_repaired(entity, DiffKind.TWIN)

    def put_mapping(
        self,
        entity: Entity,
        ghl_id: str,
        rankr_id: str,
        *,
        matched_by: str,
        ghl_parent: str | None = None,
        rankr_parent: str | None = None,
    ) -> IdMapping:
        return self.mappings.put(
            IdMapping(
                location_id=self.location_id,
                entity=entity,
                ghl_id=ghl_id,
                rankr_id=rankr_id,
                ghl_parent_id=ghl_parent,
                rankr_parent_id=rankr_parent,
                account_id=self.account_id,
                attributes={"matchedBy": matched_by, "origin": FLOW},
            )
        )

    def adopt(
        self,
        entity: Entity,
        ghl_rec: Record,
        rankr_id: str,
        *,
        ghl_parent: str | None = None,
        rankr_parent: str | None = None,
    ) -> None:
        """Rankr answered `idempotency-key-reused`: our key already created `rankr_id` (an earlier
        attempt crashed before its mapping write, and the GHL record changed since). That record is
        ours: map it, then bring it up to date as a mapped pair. Never create a twin."""
        ghl_id = str(ghl_rec["id"])
        logger.info(
            "rankr create key already used: adopting the record it created",
            extra={"location_id": self.location_id, "entity": entity.value, "rankr_id": rankr_id},
        )
        link = self.put_mapping(
            entity,
            ghl_id,
            rankr_id,
            matched_by="idempotency_key",
            ghl_parent=ghl_parent,
            rankr_parent=rankr_parent,
        )
        self.audit(
            entity, AuditAction.LINK, "none", DiffKind.MISSING_IN_RANKR, ghl_id=ghl_id, rankr_id=rankr_id
        )
        self.count_repaired(entity, DiffKind.MISSING_IN_RANKR)
        rankr_rec = self.rankr.get(self.account_id, entity, rankr_id, rankr_parent)
        if rankr_rec is None or is_deleted(rankr_rec):
            if rankr_rec is not None and entity is Entity.CONTACT:
                self.rankr_deleted(ghl_rec, link)  # deleted in Rankr meanwhile: the mapping's delete rule
            return  # task and note deletes do not flow to GHL (mapping policy)
        # The record holds nothing but what a mirror of this GHL record wrote: an earlier state of it.
        # As the baseline of both sides, GHL's changes since then win over the record's later timestamp.
        entity_mapping = self.field_mapping.for_entity(entity)
        mirrored = entity_mapping.from_rankr(rankr_rec)
        self.observe(entity, entity_mapping, Side.GHL, ghl_id, mirrored)
        self.observe(entity, entity_mapping, Side.RANKR, rankr_id, mirrored)
        self.sync_pair(
            entity,
            ghl_rec,
            rankr_rec,
            link,
            kind=DiffKind.MISSING_IN_RANKR,
            ghl_parent=ghl_parent,
            rankr_parent=rankr_parent,
            count=False,
        )

    def link_and_sync(self, ghl_rec: Record, rankr_id: str, matched_by: str) -> None:
        ghl_id = str(ghl_rec["id"])
        self.report.found(
            Entity.CONTACT, DiffKind.UNMAPPED_MATCH, ghl_id=ghl_id, rankr_id=rankr_id, fields=[matched_by]
        )
        if self.dry_run:
            return
        rankr_rec = self.rankr.get(self.account_id, Entity.CONTACT, rankr_id, None)
        if rankr_rec is None or is_deleted(rankr_rec):
            self.create_in_rankr(ghl_rec)
            return

        def work() -> None:
            link = self.put_mapping(Entity.CONTACT, ghl_id, rankr_id, matched_by=matched_by)
            self.audit(
                Entity.CONTACT,
                AuditAction.LINK,
                "none",
                DiffKind.UNMAPPED_MATCH,
                ghl_id=ghl_id,
                rankr_id=rankr_id,
            )
            self.count_repaired(Entity.CONTACT, DiffKind.UNMAPPED_MATCH)
            self.sync_pair(
                Entity.CONTACT, ghl_rec, rankr_rec, link, kind=DiffKind.UNMAPPED_MATCH, count=False
            )

        self.guard(Entity.CONTACT, DiffKind.UNMAPPED_MATCH, work, ghl_id=ghl_id, rankr_id=rankr_id)
