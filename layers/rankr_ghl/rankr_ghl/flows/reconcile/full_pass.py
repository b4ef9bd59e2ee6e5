"""The full pass over contacts: every GHL contact against a compact index of Rankr and the mappings.

1. `full_contacts`: GHL's search, page by page in whatever order GHL returns; each contact is compared
   (digest first, a Rankr read only when it differs), linked or created, and its mapping marked seen.
2. `full_unseen`: only after the whole search, the mappings that existed when the pass began and
   were not seen are the delete candidates. If they exceed the delete budget nothing is deleted;
   otherwise each is read directly (GET): a 404 is a delete, a live record is compared as drift.
3. `rankr_unmapped`: live Rankr contacts nobody linked are created in GHL.
"""

from __future__ import annotations

from rankr_ghl.flows.reconcile.child_phases import ChildPhases
from rankr_ghl.flows.reconcile.full_index import DELETED, LIVE, FullIndex
from rankr_ghl.flows.reconcile.record_values import digest8, is_deleted, iso, lead_id_from_tags, parse_iso
from rankr_ghl.ports import Record
from rankr_ghl.sync.ports import IdMapping, utcnow
from rankr_ghl.sync.types import Entity, Side

# Sort only by a field GHL documents; the pass does not depend on the order either way.
FULL_PASS_SORT = [{"field": "dateAdded", "direction": "asc"}]


class FullPass(ChildPhases):
    def build_full_index(self) -> FullIndex:
        """The mappings that existed when the pass began (later ones are not candidates: their
        records were live when linked), and Rankr reduced to digests."""
        if "snapshotAt" not in self.state:  # the mappings' own clock (their `created_at`), not the run's
            self.state["snapshotAt"] = iso(utcnow())
        started = parse_iso(self.state.get("snapshotAt"))
        index = FullIndex.over_mappings(
            (mapping.ghl_id, mapping.rankr_id)
            for mapping in self.mappings.list_for_location(self.location_id, Entity.CONTACT)
            if started is None or mapping.created_at <= started
        )
        self.state["mappedContacts"] = len(index.mapped_ghl)
        mapped_rankr = set(index.mapped_rankr)
        cursor: str | None = None
        while True:
            page = self.rankr.list_contacts(
                self.account_id,
                updated_since=None,
                include_deleted=True,
                cursor=cursor,
                limit=self.settings.page_size,
            )
            for record in page.records:
                self.index_rankr_contact(index, record, mapped_rankr)
            self.tick("rankr_contacts", len(page.records))
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        return index

    def index_rankr_contact(self, index: FullIndex, record: Record, mapped_rankr: set[str]) -> None:
        rankr_id = str(record["id"])
        deleted = is_deleted(record)
        rankr_values = self.contact_mapping.from_rankr(record)
        index.rankr[rankr_id] = digest8(rankr_values, self.common) + (DELETED if deleted else LIVE)
        if deleted or rankr_id in mapped_rankr:
            return
        index.unmapped_rankr[rankr_id] = None
        index.match_lead[rankr_id.lower()] = rankr_id
        if rankr_values.get("email"):
            index.match_email.setdefault(str(rankr_values["email"]), rankr_id)
        if rankr_values.get("phone"):
            index.match_phone.setdefault(str(rankr_values["phone"]), rankr_id)

    def resumed_full_index(self) -> FullIndex:
        """The index, with the seen bitmap of an earlier invocation of this pass laid back over it.
        When the mapping list changed underneath (a mapping was removed), the search starts over."""
        index = self.full_index = self.build_full_index()
        seen = self.state.get("seen")
        if seen is None:
            return index
        if self.state.get("mappingFingerprint") == index.fingerprint() and index.restore_seen(str(seen)):
            return index
        for key in ("seen", "searchOffset", "searchAfter", "searchDone", "unseenAt", "unseenReserved"):
            self.state.pop(key, None)
        return index

    def phase_full_contacts(self) -> None:
        index = self.full_index or self.resumed_full_index()
        self.state["mappingFingerprint"] = index.fingerprint()
        while True:
            records = self.search_page(FULL_PASS_SORT)
            self.tick("ghl_contacts", len(records))
            for record in records:
                index.mark_seen(str(record["id"]))
                self.full_contact(record, index)
            self.state["seen"] = index.seen_state()
            if len(records) < self.settings.page_size:
                self.state["searchDone"] = True
                return
            if not self.advance_search(records, FULL_PASS_SORT):
                self.state["searchDone"] = True
                return
            self.page_boundary()

    def full_contact(self, record: Record, index: FullIndex) -> None:
        ghl_id = str(record["id"])
        rankr_id = index.rankr_for(ghl_id)
        if rankr_id is None:
            self.unmapped_ghl_contact(record, index)
            return
        link = IdMapping(self.location_id, Entity.CONTACT, ghl_id, rankr_id)
        entry = index.rankr.get(rankr_id)
        if entry is not None and entry[-1:] == DELETED:
            self.rankr_deleted(record, link)  # Rankr's list shows it deleted: a direct read
            return
        if entry is not None and digest8(self.contact_mapping.from_ghl(record), self.common) == entry[:8]:
            return  # equal on every common field: nothing to read, nothing to write
        rankr_rec = self.rankr.get(self.account_id, Entity.CONTACT, rankr_id, None)
        if rankr_rec is None or is_deleted(rankr_rec):
            self.rankr_deleted(record, link)
        else:
            self.sync_pair(Entity.CONTACT, record, rankr_rec, link)

    def unmapped_ghl_contact(self, record: Record, index: FullIndex) -> None:
        ghl_values = self.contact_mapping.from_ghl(record)
        match: tuple[str, str] | None = None
        lead = lead_id_from_tags(record.get("tags"))
        if lead and lead.lower() in index.match_lead:
            match = (index.match_lead[lead.lower()], "lead_id")
        elif ghl_values.get("email") and str(ghl_values["email"]) in index.match_email:
            match = (index.match_email[str(ghl_values["email"])], "email")
        elif ghl_values.get("phone") and str(ghl_values["phone"]) in index.match_phone:
            match = (index.match_phone[str(ghl_values["phone"])], "phone")
        if match is not None:
            index.claim(match[0])
            self.link_and_sync(record, match[0], match[1])
        else:
            self.create_in_rankr(record)

    def phase_full_unseen(self) -> None:
        index = self.full_index or self.resumed_full_index()
        if not self.state.get("searchDone"):
            self.phase_full_contacts()  # the mapping list changed under a resumed pass: search again
        start = int(self.state.get("unseenAt") or 0)
        if start == 0 and not self.state.get("unseenReserved"):
            candidates = sum(
                1 for at in index.unseen() if index.rankr_live(index.mapped_rankr[at]) is not False
            )
            self.report.scanned["contact_delete_candidates"] += candidates
            if candidates and not self.dry_run and not self.deletes_allowed(Entity.CONTACT, candidates):
                return
            self.state["unseenReserved"] = True
        for done, at in enumerate(index.unseen(start), 1):
            self.confirm_unseen_contact(index, at)
            if done % self.settings.page_size == 0:
                self.state["unseenAt"] = at + 1
                self.page_boundary()

    def confirm_unseen_contact(self, index: FullIndex, at: int) -> None:
        ghl_id, rankr_id = index.mapped_ghl[at], index.mapped_rankr[at]
        rankr_live = index.rankr_live(rankr_id)
        if not rankr_live and self.tombstones.is_tombstoned(
            self.location_id, Side.GHL, Entity.CONTACT, ghl_id
        ):
            return  # gone on both sides, and known to be
        link = IdMapping(self.location_id, Entity.CONTACT, ghl_id, rankr_id)
        record = self.read_ghl(Entity.CONTACT, link)
        if record is None:
            self.ghl_deleted(Entity.CONTACT, link, rankr_live is not False, reserved=True)
        else:
            self.full_contact(record, index)  # live after all (search lag or order): compare as drift

    def phase_rankr_unmapped(self) -> None:
        index = self.full_index or self.resumed_full_index()
        for position, rankr_id in enumerate(list(index.unmapped_rankr)):
            if self.tombstones.is_tombstoned(self.location_id, Side.RANKR, Entity.CONTACT, rankr_id):
                continue
            if self.mappings.get_by_rankr(self.location_id, Entity.CONTACT, rankr_id) is not None:
                continue  # linked meanwhile (webhook, lead push or an earlier part of this run)
            record = self.rankr.get(self.account_id, Entity.CONTACT, rankr_id, None)
            if record is None or is_deleted(record):
                continue
            self.create_in_ghl(record)
            if position % self.settings.page_size == self.settings.page_size - 1:
                self.page_boundary()
