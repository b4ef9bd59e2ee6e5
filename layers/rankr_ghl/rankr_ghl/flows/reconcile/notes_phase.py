"""Notes: per contact, GHL's notes against Rankr's, and the notes pass over every mapped contact.

The incremental pass compares the notes of the contacts that changed in GHL; for a contact that
changed only in Rankr it lists Rankr's notes and reads GHL's only when a Rankr note is new or edited
since the connector last synced it. A lost NoteCreate or NoteUpdate on a contact that did not
otherwise change in GHL is found by the notes pass (mode `notes`, on a slower schedule), which walks
every mapped contact and does not depend on `dateUpdated`.
"""

from __future__ import annotations

from dataclasses import replace

from rankr_ghl.flows.reconcile.creates import Creates
from rankr_ghl.flows.reconcile.jobs import DiffKind
from rankr_ghl.flows.reconcile.known_state import pair_ledgers, rankr_change_known
from rankr_ghl.flows.reconcile.record_values import common_fields, is_deleted
from rankr_ghl.ports import Record
from rankr_ghl.rankr.keys import ghl_mirror_key
from rankr_ghl.sync.echo import Action, decide
from rankr_ghl.sync.ports import IdMapping, lead_child_claim_identity
from rankr_ghl.sync.types import Entity, Side


class NotePhases(Creates):
    def phase_notes_all(self) -> None:
        """Every mapped contact's notes, resumable by position in the sorted mapping list."""
        pairs = sorted(
            (mapping.ghl_id, mapping.rankr_id)
            for mapping in self.mappings.list_for_location(self.location_id, Entity.CONTACT)
        )
        start = int(self.state.get("notesAt") or 0)
        for position in range(start, len(pairs)):
            ghl_id, rankr_id = pairs[position]
            self.sync_notes(ghl_id, IdMapping(self.location_id, Entity.CONTACT, ghl_id, rankr_id))
            if (position + 1) % self.settings.page_size == 0:
                self.state["notesAt"] = position + 1
                self.page_boundary()

    def notes_wanted(self, ghl_contact_id: str) -> bool:
        note_mapping = self.field_mapping.for_entity(Entity.NOTE)
        return self.settings.notes and note_mapping.enabled and ghl_contact_id not in self.notes_done

    def sync_rankr_side_notes(self, link: IdMapping) -> None:
        """Notes of a contact that changed only in Rankr: Rankr's notes are listed (a Rankr call), and
        GHL's only when one of them is not mapped yet or is not what the connector last synced (with
        both sides agreeing then)."""
        if not self.notes_wanted(link.ghl_id):
            return
        rankr_list = self.rankr.list_notes(self.account_id, link.rankr_id)
        live = [note for note in rankr_list if not is_deleted(note)]
        note_links = [self.mappings.get_by_rankr(self.location_id, Entity.NOTE, str(n["id"])) for n in live]
        mapped = [note_link for note_link in note_links if note_link is not None]
        note_mapping = self.field_mapping.for_entity(Entity.NOTE)
        ledgers = pair_ledgers(self.ledger, self.location_id, Entity.NOTE, mapped)
        common = common_fields(note_mapping)
        for note, note_link in zip(live, note_links, strict=True):
            if note_link is None or not rankr_change_known(note_mapping, common, note, note_link, ledgers):
                self.sync_notes(link.ghl_id, link, rankr_list=rankr_list)
                return
        self.notes_done.add(link.ghl_id)
        self.tick("rankr_notes_known")

    def sync_notes(
        self, ghl_contact_id: str, link: IdMapping | None = None, *, rankr_list: list[Record] | None = None
    ) -> None:
        """GHL's notes of one contact against Rankr's (`rankr_list`: Rankr's, when already listed)."""
        if not self.notes_wanted(ghl_contact_id):
            return
        self.notes_done.add(ghl_contact_id)
        link = link or self.mappings.get_by_ghl(self.location_id, Entity.CONTACT, ghl_contact_id)
        if link is None:
            return  # dry run: the contact is not created, so neither are its notes
        ghl_notes = {str(n["id"]): n for n in self.ghl.list_notes(self.location_id, ghl_contact_id)}
        if rankr_list is None:
            rankr_list = self.rankr.list_notes(self.account_id, link.rankr_id)
        rankr_notes = {str(n["id"]): n for n in rankr_list}
        self.tick("note_contacts")
        for nid, note in ghl_notes.items():
            note_link = self.mappings.get_by_ghl(self.location_id, Entity.NOTE, nid)
            if note_link is None:
                self.create_child_in_rankr(Entity.NOTE, note, ghl_contact_id, link.rankr_id)
                continue
            twin = rankr_notes.get(note_link.rankr_id)
            if twin is None or is_deleted(twin):
                continue  # deleted in Rankr: note deletes do not flow to GHL (mapping policy)
            self.sync_pair(
                Entity.NOTE, note, twin, note_link, ghl_parent=ghl_contact_id, rankr_parent=link.rankr_id
            )
        for rankr_id, note in rankr_notes.items():
            if is_deleted(note):
                continue
            note_link = self.mappings.get_by_rankr(self.location_id, Entity.NOTE, rankr_id)
            if note_link is None:
                self.create_note_in_ghl(note, ghl_contact_id, link.rankr_id)
            elif note_link.ghl_id not in ghl_notes:
                self.confirm_missing_note(note_link, note, ghl_contact_id, link.rankr_id)

    def confirm_missing_note(
        self, note_link: IdMapping, rankr_note: Record, ghl_contact_id: str, rankr_contact_id: str
    ) -> None:
        """A mapped note GHL's list did not return: deleted only when a direct GET answers 404."""
        note_link = replace(
            note_link,
            ghl_parent_id=note_link.ghl_parent_id or ghl_contact_id,
            rankr_parent_id=note_link.rankr_parent_id or rankr_contact_id,
        )
        ghl_note = self.read_ghl(Entity.NOTE, note_link)
        if ghl_note is None:
            self.ghl_deleted(Entity.NOTE, note_link, True)
        else:
            self.sync_pair(
                Entity.NOTE,
                ghl_note,
                rankr_note,
                note_link,
                ghl_parent=note_link.ghl_parent_id,
                rankr_parent=note_link.rankr_parent_id,
            )

    def create_child_in_rankr(
        self, entity: Entity, ghl_rec: Record, ghl_parent: str, rankr_parent: str
    ) -> None:
        entity_mapping = self.field_mapping.for_entity(entity)
        ghl_id = str(ghl_rec["id"])
        ghl_values = entity_mapping.from_ghl(ghl_rec)
        decision = decide(
            Side.GHL, ghl_values, None, ledger_current=None, ledger_other=None, mapping=entity_mapping
        )
        if decision.action is not Action.WRITE:
            return
        self.report.found(entity, DiffKind.MISSING_IN_RANKR, ghl_id=ghl_id, fields=decision.fields_changed)
        if self.dry_run:
            return

        def work() -> None:
            from rankr_ghl.rankr.errors import RankrIdempotencyKeyReused

            body = decision.rankr_body(entity_mapping)
            key = ghl_mirror_key(entity.value, self.location_id, ghl_id)
            if self.mappings.get_by_ghl(self.location_id, entity, ghl_id) is not None:
                return  # mapped meanwhile (the webhook worker): no twin
            text = ghl_rec.get("body" if entity is Entity.NOTE else "title")
            claim = lead_child_claim_identity(entity, ghl_parent, text)
            if claim is not None and self.lead_claims and self.lead_claims.find(self.location_id, [claim]):
                return  # a lead's own note or task, which its lead push in flight maps to the lead
            try:
                created = self.rankr.create(self.account_id, entity, body, rankr_parent, key)
            except RankrIdempotencyKeyReused as reused:
                if reused.resource_id is None:
                    raise
                self.adopt(
                    entity, ghl_rec, reused.resource_id, ghl_parent=ghl_parent, rankr_parent=rankr_parent
                )
                return
            self.record_created(
                entity,
                decision,
                DiffKind.MISSING_IN_RANKR,
                ghl_id=ghl_id,
                rankr_id=str(created["id"]),
                ghl_parent=ghl_parent,
                rankr_parent=rankr_parent,
            )

        self.guard(entity, DiffKind.MISSING_IN_RANKR, work, ghl_id=ghl_id)

    def create_note_in_ghl(self, rankr_rec: Record, ghl_parent: str, rankr_parent: str) -> None:
        entity_mapping = self.field_mapping.for_entity(Entity.NOTE)
        rankr_id = str(rankr_rec["id"])
        decision = decide(
            Side.RANKR,
            entity_mapping.from_rankr(rankr_rec),
            None,
            ledger_current=None,
            ledger_other=None,
            mapping=entity_mapping,
        )
        if decision.action is not Action.WRITE:
            return
        self.report.found(
            Entity.NOTE, DiffKind.MISSING_IN_GHL, rankr_id=rankr_id, fields=decision.fields_changed
        )
        if self.dry_run:
            return

        def work() -> None:
            if self.mappings.get_by_rankr(self.location_id, Entity.NOTE, rankr_id) is not None:
                return  # mapped meanwhile: no twin
            created = self.ghl.create_note(
                self.location_id, ghl_parent, decision.ghl_write(entity_mapping).body
            )
            self.record_created(
                Entity.NOTE,
                decision,
                DiffKind.MISSING_IN_GHL,
                ghl_id=str(created["id"]),
                rankr_id=rankr_id,
                ghl_parent=ghl_parent,
                rankr_parent=rankr_parent,
            )

        self.guard(Entity.NOTE, DiffKind.MISSING_IN_GHL, work, rankr_id=rankr_id)
