"""Deletes, each proven by a direct read of the deleted side and audited with that evidence.

Absence from a search or a list is never proof: GHL's search lags writes and documents no order, and
its task search pages over a changing set. A candidate becomes a delete only when a GET answers 404
(GHL) or the record reads back deleted (Rankr), and only within the run's delete budget.
"""

from __future__ import annotations

from rankr_ghl.flows.reconcile.jobs import FLOW, DiffKind
from rankr_ghl.flows.reconcile.pair_sync import PairSync
from rankr_ghl.ports import Record
from rankr_ghl.sync.ports import AuditAction, IdMapping, Tombstone
from rankr_ghl.sync.types import DeleteAction, Entity, Side

# Evidence codes, stored in the audit entry's fields.
GHL_GET_404 = "evidence:ghl_get_404"
RANKR_READ_DELETED = "evidence:rankr_read_deleted"


class Deletes(PairSync):
    def rankr_deleted(self, ghl_rec: Record, link: IdMapping) -> None:
        """The mapped Rankr contact read back deleted (or 404); GHL's still exists."""
        action = self.contact_mapping.delete_action(Side.RANKR)
        if action is DeleteAction.NONE:
            return
        if action is DeleteAction.TAG:
            tag = self.contact_mapping.deleted_tag
            if tag.lower() in {str(t).lower() for t in ghl_rec.get("tags") or []}:
                return  # already marked: in sync
        self.report.found(
            Entity.CONTACT, DiffKind.DELETED_IN_RANKR, ghl_id=link.ghl_id, rankr_id=link.rankr_id
        )
        if self.dry_run:
            return
        if action is DeleteAction.DELETE and not self.deletes_allowed(Entity.CONTACT, 1):
            return

        def work() -> None:
            if action is DeleteAction.TAG:
                self.ghl.add_tags(self.location_id, link.ghl_id, [self.contact_mapping.deleted_tag])
                self.audit(
                    Entity.CONTACT,
                    AuditAction.UPDATE,
                    "rankr_to_ghl",
                    DiffKind.DELETED_IN_RANKR,
                    fields=["tags", RANKR_READ_DELETED],
                    ghl_id=link.ghl_id,
                    rankr_id=link.rankr_id,
                )
            else:
                self.ghl.delete_contact(self.location_id, link.ghl_id)
                self.forget(Entity.CONTACT, link, deleted_side=Side.RANKR)
                self.audit(
                    Entity.CONTACT,
                    AuditAction.DELETE,
                    "rankr_to_ghl",
                    DiffKind.DELETED_IN_RANKR,
                    fields=[RANKR_READ_DELETED],
                    ghl_id=link.ghl_id,
                    rankr_id=link.rankr_id,
                )
            self.count_repaired(Entity.CONTACT, DiffKind.DELETED_IN_RANKR)

        self.guard(
            Entity.CONTACT, DiffKind.DELETED_IN_RANKR, work, ghl_id=link.ghl_id, rankr_id=link.rankr_id
        )

    def read_ghl(self, entity: Entity, link: IdMapping) -> Record | None:
        """The direct read that decides a delete candidate: the record, or None on GHL's 404."""
        self.tick("ghl_confirm_reads")
        return self.ghl.get(self.location_id, entity, link.ghl_id, link.ghl_parent_id)

    def ghl_deleted(
        self, entity: Entity, link: IdMapping, rankr_live: bool, *, reserved: bool = False
    ) -> None:
        """The GHL record answered 404 to a direct read. Like the webhook worker's delete, the mapping
        stays (with a GHL tombstone), so a late event cannot resurrect the record. `reserved`: the
        caller already took this delete from the budget."""
        entity_mapping = self.field_mapping.for_entity(entity)
        action = entity_mapping.delete_action(Side.GHL)
        if not rankr_live or action is DeleteAction.NONE:
            # Already deleted on both sides, or deliberately kept in Rankr: remember, do not count.
            if not self.dry_run and not self.tombstones.is_tombstoned(
                self.location_id, Side.GHL, entity, link.ghl_id
            ):
                self.tombstones.bury(Tombstone(self.location_id, Side.GHL, entity, link.ghl_id, reason=FLOW))
            return
        self.report.found(entity, DiffKind.DELETED_IN_GHL, ghl_id=link.ghl_id, rankr_id=link.rankr_id)
        if self.dry_run:
            return
        if not reserved and not self.deletes_allowed(entity, 1):
            return

        def work() -> None:
            self.rankr.delete(self.account_id, entity, link.rankr_id, link.rankr_parent_id)
            self.forget(entity, link, deleted_side=Side.GHL)
            self.audit(
                entity,
                AuditAction.DELETE,
                "ghl_to_rankr",
                DiffKind.DELETED_IN_GHL,
                fields=[GHL_GET_404],
                ghl_id=link.ghl_id,
                rankr_id=link.rankr_id,
            )
            self.count_repaired(entity, DiffKind.DELETED_IN_GHL)

        self.guard(entity, DiffKind.DELETED_IN_GHL, work, ghl_id=link.ghl_id, rankr_id=link.rankr_id)

    def forget(self, entity: Entity, link: IdMapping, *, deleted_side: Side) -> None:
        """Tombstone the deleted side and drop both ledgers; the mapping stays as the pair's memory."""
        record_id = link.ghl_id if deleted_side is Side.GHL else link.rankr_id
        self.tombstones.bury(Tombstone(self.location_id, deleted_side, entity, record_id, reason=FLOW))
        self.ledger.delete(self.location_id, entity, Side.GHL, link.ghl_id)
        self.ledger.delete(self.location_id, entity, Side.RANKR, link.rankr_id)
