"""Tasks: GHL sends no TaskUpdate event, so every run compares them through the location task search.

That search documents no order and pages with skip/limit over a set that changes while it is read,
so it may miss or repeat tasks. A repeat is ignored; a mapped task the scan missed is read directly
(GET /contacts/{id}/tasks/{taskId}) and deleted only on a 404, within the delete budget. The search's
record shape is loose as well: the contact may come as `contactId`, `contactIds` or `contact`, and the
body as `body`, `description` or not at all (then the task is read in full before it is compared).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rankr_ghl.flows.reconcile.notes_phase import NotePhases
from rankr_ghl.flows.reconcile.record_values import is_deleted
from rankr_ghl.ports import Record
from rankr_ghl.sync import diff
from rankr_ghl.sync.ports import IdMapping
from rankr_ghl.sync.types import Entity, Side


def task_contact_id(task: Record) -> str | None:
    """The task's GHL contact, whichever key the search used."""
    contact: Any = task.get("contactId")
    if not contact and isinstance(task.get("contactIds"), list) and task["contactIds"]:
        contact = task["contactIds"][0]
    if not contact and isinstance(task.get("contact"), dict):
        contact = task["contact"].get("id")
    return str(contact) if contact else None


class ChildPhases(NotePhases):
    def phase_tasks(self) -> None:
        task_links: dict[str, IdMapping] = {
            mapping.ghl_id: mapping
            for mapping in self.mappings.list_for_location(self.location_id, Entity.TASK)
        }
        contact_links: dict[str, str | None] = {}  # ghl contact id -> rankr contact id (per run cache)
        seen: set[str] = set()
        skip = 0
        limit = self.settings.task_page_size
        while True:
            page = self.ghl.search_tasks(self.location_id, limit=limit, skip=skip)
            self.tick("ghl_tasks", len(page))
            for task in page:
                task_id = str(task["id"])
                if task.get("deleted") is True or task_id in seen:
                    continue
                seen.add(task_id)
                link = task_links.pop(task_id, None)
                if link is None:
                    self.new_ghl_task(task, contact_links)
                else:
                    self.compare_task(task, link)
            if len(page) < limit:
                break
            skip += len(page)
        self.confirm_missing_tasks(list(task_links.values()))

    def phase_tasks_by_contact(self) -> None:
        """Only after a scan that met unmapped tasks without a contact: every mapped contact's tasks
        (GET /contacts/{id}/tasks, one read per contact), resumable by position in the sorted mapping
        list; each unmapped task is mirrored under the contact it was listed for."""
        if not self.state.get("unattributedTasks"):
            return
        pairs = sorted(
            (mapping.ghl_id, mapping.rankr_id)
            for mapping in self.mappings.list_for_location(self.location_id, Entity.CONTACT)
        )
        contact_links: dict[str, str | None] = dict(pairs)
        start = int(self.state.get("tasksAt") or 0)
        for position in range(start, len(pairs)):
            ghl_id = pairs[position][0]
            for task in self.ghl.list_tasks(self.location_id, ghl_id):
                task_id = str(task.get("id") or "")
                if not task_id or task.get("deleted") is True:
                    continue
                if self.mappings.get_by_ghl(self.location_id, Entity.TASK, task_id) is None:
                    self.new_ghl_task({**task, "contactId": ghl_id}, contact_links)
            self.tick("task_contacts")
            if (position + 1) % self.settings.page_size == 0:
                self.state["tasksAt"] = position + 1
                self.page_boundary()

    def complete_task(self, task: Record, link: IdMapping) -> Record | None:
        """The task with its body: the search's `description` stands in for it, and a search record
        without either is read in full (None: gone meanwhile)."""
        if "body" in task:
            return task
        if "description" in task:
            return {**task, "body": task["description"]}
        return self.read_ghl(
            Entity.TASK, replace(link, ghl_parent_id=task_contact_id(task) or link.ghl_parent_id)
        )

    def compare_task(self, task: Record, link: IdMapping) -> None:
        task_mapping = self.field_mapping.for_entity(Entity.TASK)
        full_task = self.complete_task(task, link)
        if full_task is None:
            return  # deleted meanwhile: its TaskDelete event (or the next run) handles it
        ghl_values = task_mapping.from_ghl(full_task)
        ledger_ghl = self.ledger.get(self.location_id, Entity.TASK, Side.GHL, link.ghl_id)
        names = [f.name for f in task_mapping.fields_on(Side.GHL)]
        if (
            ledger_ghl is not None
            and diff.record_digest(diff.field_digests(ghl_values, names)) == ledger_ghl.digest
        ):
            return  # unchanged in GHL since we last synced it
        twin = self.rankr.get(self.account_id, Entity.TASK, link.rankr_id, link.rankr_parent_id)
        if twin is None or is_deleted(twin):
            return  # deleted in Rankr: task deletes do not flow to GHL (mapping policy)
        differed = self.sync_pair(
            Entity.TASK,
            full_task,
            twin,
            link,
            ghl_parent=task_contact_id(full_task) or link.ghl_parent_id or "",
            rankr_parent=link.rankr_parent_id,
        )
        if not differed and not self.dry_run:
            # Equal but no baseline yet: remember both states so the next run skips the read.
            self.observe(Entity.TASK, task_mapping, Side.GHL, link.ghl_id, ghl_values)
            self.observe(Entity.TASK, task_mapping, Side.RANKR, link.rankr_id, task_mapping.from_rankr(twin))

    def confirm_missing_tasks(self, missing: list[IdMapping]) -> None:
        """Mapped tasks the scan did not return: deletes only after a direct GET answered 404."""
        candidates: list[IdMapping] = []
        for link in missing:
            if self.tombstones.is_tombstoned(self.location_id, Side.GHL, Entity.TASK, link.ghl_id):
                continue  # known to be deleted in GHL
            twin = self.rankr.get(self.account_id, Entity.TASK, link.rankr_id, link.rankr_parent_id)
            if twin is None or is_deleted(twin):
                self.ghl_deleted(Entity.TASK, link, False)  # gone on both sides: a tombstone, no delete
                continue
            candidates.append(link)
        self.report.scanned["task_delete_candidates"] += len(candidates)
        if not candidates or (not self.dry_run and not self.deletes_allowed(Entity.TASK, len(candidates))):
            return
        for link in candidates:
            ghl_task = self.read_ghl(Entity.TASK, link)
            if ghl_task is None:
                self.ghl_deleted(Entity.TASK, link, True, reserved=True)
            else:
                self.compare_task(ghl_task, link)  # live after all: compared as drift

    def new_ghl_task(self, task: Record, contact_links: dict[str, str | None]) -> None:
        contact_id = task_contact_id(task)
        if not contact_id:
            # The search did not say whose task it is (and its TaskCreate event may not either): a full
            # run then lists the mapped contacts' tasks (phase_tasks_by_contact).
            self.state["unattributedTasks"] = int(self.state.get("unattributedTasks") or 0) + 1
            self.tick("unattributed_tasks")
            return
        if contact_id not in contact_links:
            contact = self.mappings.get_by_ghl(self.location_id, Entity.CONTACT, contact_id)
            contact_links[contact_id] = contact.rankr_id if contact else None
        rankr_parent = contact_links[contact_id]
        if rankr_parent is None:
            return  # the contact itself is not mirrored (yet): its tasks follow it
        probe = IdMapping(self.location_id, Entity.TASK, str(task["id"]), "", ghl_parent_id=contact_id)
        complete = self.complete_task(task, probe)
        if complete is not None:
            self.create_child_in_rankr(Entity.TASK, complete, contact_id, rankr_parent)
