"""The incremental pass over contacts: what changed on either side since the last completed run.

GHL contacts whose `dateUpdated` is past the checkpoint (minus an overlap for search's indexing lag),
then Rankr contacts `updated_since` the checkpoint that the GHL half did not already compare. GHL
reads follow what changed and what the connector does not already know (`known_state`): a Rankr
change the ledger shows was synced, or a deleted pair whose GHL side is tombstoned, costs no GHL read.
"""

from __future__ import annotations

from typing import Any

from rankr_ghl.flows.reconcile.child_phases import ChildPhases
from rankr_ghl.flows.reconcile.known_state import pair_ledgers, rankr_change_known
from rankr_ghl.flows.reconcile.record_values import is_deleted, iso, lead_id_from_tags
from rankr_ghl.ports import Record
from rankr_ghl.sync.echo import is_echo
from rankr_ghl.sync.ports import IdMapping, LedgerEntry
from rankr_ghl.sync.types import Entity, Side

CHANGED_SORT: list[dict[str, Any]] = [{"field": "dateUpdated", "direction": "asc"}]


class IncrementalPass(ChildPhases):
    def phase_ghl_changed(self) -> None:
        assert self.since is not None
        filters = [{"field": "dateUpdated", "operator": "range", "value": {"gte": iso(self.since)}}]
        while True:
            records = self.search_page(CHANGED_SORT, filters)
            self.tick("ghl_contacts", len(records))
            for record in records:
                self.changed_ghl_contact(record)
            if len(records) < self.settings.page_size:
                return
            if not self.advance_search(records, CHANGED_SORT):
                return
            self.page_boundary()

    def changed_ghl_contact(self, record: Record) -> None:
        ghl_id = str(record["id"])
        self.processed_ghl.add(ghl_id)
        link = self.mappings.get_by_ghl(self.location_id, Entity.CONTACT, ghl_id)
        if link is None:
            lead = lead_id_from_tags(record.get("tags"))
            if lead and self.mappings.get_by_rankr(self.location_id, Entity.CONTACT, lead) is None:
                twin = self.rankr.get(self.account_id, Entity.CONTACT, lead, None)
                if twin is not None and not is_deleted(twin):
                    self.link_and_sync(record, str(twin["id"]), "lead_id")
                    self.sync_notes(ghl_id)
                    return
            self.create_in_rankr(record)
            self.sync_notes(ghl_id)
            return
        rankr_rec = self.rankr.get(self.account_id, Entity.CONTACT, link.rankr_id, None)
        if rankr_rec is None or is_deleted(rankr_rec):
            self.rankr_deleted(record, link)
            return
        if not self.sync_pair(Entity.CONTACT, record, rankr_rec, link):
            ledger_g = self.ledger.get(self.location_id, Entity.CONTACT, Side.GHL, ghl_id)
            if is_echo(self.contact_mapping.from_ghl(record), ledger_g, self.contact_mapping, Side.GHL):
                return  # its dateUpdated moved because of our own write: no person touched its notes
        self.sync_notes(ghl_id, link)

    def phase_rankr_changed(self) -> None:
        assert self.since is not None
        while True:
            page = self.rankr.list_contacts(
                self.account_id,
                updated_since=self.since,
                include_deleted=True,
                cursor=self.state.get("rankrCursor"),
                limit=self.settings.page_size,
            )
            self.tick("rankr_contacts", len(page.records))
            self.changed_rankr_contacts(page.records)
            if not page.next_cursor:
                return
            self.state["rankrCursor"] = page.next_cursor
            self.page_boundary()

    def changed_rankr_contacts(self, records: list[Record]) -> None:
        """One page of changed Rankr contacts, with the ledger entries of the mapped ones read in
        batches (to tell a change the connector already synced from a person's edit)."""
        links = {
            str(record["id"]): self.mappings.get_by_rankr(self.location_id, Entity.CONTACT, str(record["id"]))
            for record in records
        }
        pending = [
            link
            for record in records
            if (link := links[str(record["id"])]) is not None
            and link.ghl_id not in self.processed_ghl
            and not is_deleted(record)
        ]
        ledgers = pair_ledgers(self.ledger, self.location_id, Entity.CONTACT, pending)
        for record in records:
            link = links[str(record["id"])]
            if link is None:
                self.unmapped_rankr_contact(record)
            else:
                self.changed_mapped_rankr_contact(record, link, ledgers)

    def changed_rankr_contact(self, record: Record) -> None:
        """One Rankr contact compared on its own (test-transfer): always against a fresh GHL read."""
        link = self.mappings.get_by_rankr(self.location_id, Entity.CONTACT, str(record["id"]))
        if link is None:
            self.unmapped_rankr_contact(record)
        else:
            self.changed_mapped_rankr_contact(record, link, None)

    def unmapped_rankr_contact(self, record: Record) -> None:
        rankr_id = str(record["id"])
        if is_deleted(record) or self.tombstones.is_tombstoned(
            self.location_id, Side.RANKR, Entity.CONTACT, rankr_id
        ):
            return
        self.create_in_ghl(record)

    def changed_mapped_rankr_contact(
        self, record: Record, link: IdMapping, ledgers: dict[tuple[Side, str], LedgerEntry] | None
    ) -> None:
        """`ledgers`: the page's ledger entries, to skip what the connector already synced (None: read
        GHL whatever the ledger says)."""
        if link.ghl_id in self.processed_ghl:
            return  # compared in the GHL pass of this run (our own write bumped updatedAt)
        if (
            ledgers is not None
            and is_deleted(record)
            and self.tombstones.is_tombstoned(self.location_id, Side.GHL, Entity.CONTACT, link.ghl_id)
        ):
            self.tick("rankr_changes_known")
            return  # gone on both sides, and known to be (a GHL 404 or its ContactDelete event)
        if (
            ledgers is not None
            and not is_deleted(record)
            and rankr_change_known(self.contact_mapping, self.common, record, link, ledgers)
        ):
            self.tick("rankr_changes_known")
            self.sync_rankr_side_notes(link)
            return
        ghl_rec = self.read_ghl(Entity.CONTACT, link)
        if ghl_rec is None:
            self.ghl_deleted(Entity.CONTACT, link, not is_deleted(record))
            return
        if is_deleted(record):
            self.rankr_deleted(ghl_rec, link)
            return
        self.sync_pair(Entity.CONTACT, ghl_rec, record, link)
        self.sync_rankr_side_notes(link)
