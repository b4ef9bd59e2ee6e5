"""Tasks and notes of a contact, and the location task search."""

from __future__ import annotations

from typing import Any

from ..util import (
    new_id,
    now_ms,
    parse_time_ms,
)
from ..variants import Variants
from .records import (
    LocationState,
    Record,
    unprocessable,
)
from .search import SearchStore


class TaskNoteStore(SearchStore):
    def _validate_task(self, body: dict[str, Any], *, create: bool) -> list[str]:
        allowed = {"title", "body", "dueDate", "completed", "assignedTo"}
        errors = [f"property {k} should not exist" for k in body if k not in allowed]
        if create:
            errors += [f"{k} should not be empty" for k in ("title", "dueDate", "completed") if k not in body]
        for key in ("title", "body", "assignedTo", "dueDate"):
            if key in body and body[key] is not None and not isinstance(body[key], str):
                errors.append(f"{key} must be a string")
        if "completed" in body and not isinstance(body["completed"], bool):
            errors.append("completed must be a boolean value")
        if isinstance(body.get("dueDate"), str):
            try:
                parse_time_ms(body["dueDate"])
            except ValueError:
                errors.append("dueDate must be a valid ISO 8601 date string")
        return errors

    def create_task(
        self, contact_id: str, body: dict[str, Any], *, emit: bool = True, when: int | None = None
    ) -> Record:
        errors = self._validate_task(body, create=True)
        if errors:
            raise unprocessable(errors)
        with self.lock:
            loc, _ = self._contact(contact_id)
            stamp = when if when is not None else now_ms()
            t: Record = {
                "id": new_id(),
                "locationId": loc.id,
                "contactId": contact_id,
                "title": body["title"],
                "body": body.get("body"),
                "assignedTo": body.get("assignedTo"),
                "dueDate_ms": parse_time_ms(body["dueDate"]),
                "completed": body["completed"],
                "dateAdded_ms": stamp,
                "dateUpdated_ms": stamp,
            }
            self._file_child(self.task_loc, loc, loc.tasks, loc.tasks_by_contact, t)
            if emit:
                self.sink("TaskCreate", self.task_event("TaskCreate", t))
            return t

    def _task(self, contact_id: str | None, task_id: str) -> tuple[LocationState, Record]:
        return self._child(self.task_loc, lambda loc: loc.tasks, "Task", contact_id, task_id)

    def get_task(self, contact_id: str | None, task_id: str) -> Record:
        with self.lock:
            return self._task(contact_id, task_id)[1]

    def list_tasks(self, contact_id: str) -> list[Record]:
        with self.lock:
            loc, _ = self._contact(contact_id)
            return [loc.tasks[t] for t in loc.tasks_by_contact.get(contact_id, {})]

    def update_task(
        self,
        contact_id: str | None,
        task_id: str,
        body: dict[str, Any],
        *,
        emit: bool = True,
        only_completed: bool = False,
    ) -> Record:
        errors = self._validate_task(body, create=False)
        if only_completed:
            errors = (
                [e for e in errors if not e.startswith("property")]
                + (["completed should not be empty"] if "completed" not in body else [])
                + [f"property {k} should not exist" for k in body if k != "completed"]
            )
        if errors:
            raise unprocessable(errors)
        with self.lock:
            loc, old = self._task(contact_id, task_id)
            new = dict(old)
            for key in ("title", "body", "assignedTo", "completed"):
                if key in body:
                    new[key] = body[key]
            if "dueDate" in body:
                new["dueDate_ms"] = parse_time_ms(body["dueDate"])
            if new == old:
                return old
            new["dateUpdated_ms"] = max(now_ms(), old["dateUpdated_ms"])
            loc.tasks[task_id] = new
            # GHL has no TaskUpdate event: only completion is announced.
            if emit and new.get("completed") and not old.get("completed"):
                self.sink("TaskComplete", self.task_event("TaskComplete", new))
            return new

    def delete_task(self, contact_id: str | None, task_id: str, *, emit: bool = True) -> None:
        with self.lock:
            loc, t = self._task(contact_id, task_id)
            del loc.tasks[task_id]
            loc.tasks_by_contact.get(t["contactId"], {}).pop(task_id, None)
            del self.task_loc[task_id]
            if emit:
                self.sink("TaskDelete", self.task_event("TaskDelete", t))

    def search_tasks(self, location_id: str, body: dict[str, Any]) -> dict[str, Any]:
        errors = []
        for key in ("contactId", "assignedTo"):
            if key in body and (
                not isinstance(body[key], list) or not all(isinstance(v, str) for v in body[key])
            ):
                errors.append(f"{key} must be an array of strings")
        if "completed" in body and not isinstance(body["completed"], bool):
            errors.append("completed must be a boolean value")
        for key in ("limit", "skip"):
            if key in body and (
                isinstance(body[key], bool) or not isinstance(body[key], int) or body[key] < 0
            ):
                errors.append(f"{key} must be a non-negative number")
        if errors:
            raise unprocessable(errors)
        limit, skip = body.get("limit", 25), body.get("skip", 0)
        contact_ids = set(body.get("contactId") or [])
        assigned = set(body.get("assignedTo") or [])
        needle = (body.get("query") or "").lower()
        with self.lock:
            loc = self.get_location(location_id)
            rows = [
                t
                for t in loc.tasks.values()
                if (not contact_ids or t["contactId"] in contact_ids)
                and ("completed" not in body or bool(t.get("completed")) == body["completed"])
                and (not assigned or t.get("assignedTo") in assigned)
                and (
                    not needle
                    or needle in (t.get("title") or "").lower()
                    or needle in (t.get("body") or "").lower()
                )
            ]
            variants = self.variants_for(loc.id)
            if variants.task_search_max_limit is not None:
                limit = min(limit, variants.task_search_max_limit)  # capped silently
            if variants.task_search_order == "unstable":
                self.rng.shuffle(rows)  # a fresh order on every request
            else:
                rows.sort(key=lambda t: (t["dateAdded_ms"], t["id"]))
            return {
                "tasks": [
                    _search_item(self.task_view(t, with_dates=True), variants)
                    for t in rows[skip : skip + limit]
                ],
                "total": len(rows),
            }

    # ------------------------------------------------------------------ notes

    def _validate_note(self, body: dict[str, Any], *, create: bool) -> list[str]:
        allowed = {"userId", "body", "title", "color", "pinned"}
        errors = [f"property {k} should not exist" for k in body if k not in allowed]
        if create and not body.get("body"):
            errors.append("body should not be empty")
        for key in ("userId", "body", "title", "color"):
            if key in body and body[key] is not None and not isinstance(body[key], str):
                errors.append(f"{key} must be a string")
        if "pinned" in body and not isinstance(body["pinned"], bool):
            errors.append("pinned must be a boolean value")
        return errors

    def create_note(
        self, contact_id: str, body: dict[str, Any], *, emit: bool = True, when: int | None = None
    ) -> Record:
        errors = self._validate_note(body, create=True)
        if errors:
            raise unprocessable(errors)
        with self.lock:
            loc, _ = self._contact(contact_id)
            stamp = when if when is not None else now_ms()
            n: Record = {
                "id": new_id(),
                "locationId": loc.id,
                "contactId": contact_id,
                **{k: body.get(k) for k in ("userId", "body", "title", "color")},
                "pinned": bool(body.get("pinned", False)),
                "dateAdded_ms": stamp,
                "dateUpdated_ms": stamp,
            }
            self._file_child(self.note_loc, loc, loc.notes, loc.notes_by_contact, n)
            self._note_touches_contact(loc, contact_id, stamp)
            if emit:
                self.sink("NoteCreate", self.note_event("NoteCreate", n))
            return n

    def _note_touches_contact(self, loc: LocationState, contact_id: str, stamp: int) -> None:
        """Under notes_bump_contact_date_updated "yes", a note write moves its contact's dateUpdated."""
        if self.variants_for(loc.id).notes_bump_contact_date_updated != "yes":
            return
        old = loc.contacts.get(contact_id)
        if old is None:
            return
        new = {**old, "dateUpdated_ms": max(stamp, old["dateUpdated_ms"])}
        loc.contacts[contact_id] = new
        self._search_write(loc, contact_id, new)

    def _note(self, contact_id: str | None, note_id: str) -> tuple[LocationState, Record]:
        return self._child(self.note_loc, lambda loc: loc.notes, "Note", contact_id, note_id)

    def get_note(self, contact_id: str | None, note_id: str) -> Record:
        with self.lock:
            return self._note(contact_id, note_id)[1]

    def list_notes(self, contact_id: str) -> list[Record]:
        with self.lock:
            loc, _ = self._contact(contact_id)
            return [loc.notes[n] for n in loc.notes_by_contact.get(contact_id, {})]

    def update_note(
        self, contact_id: str | None, note_id: str, body: dict[str, Any], *, emit: bool = True
    ) -> Record:
        errors = self._validate_note(body, create=False)
        if errors:
            raise unprocessable(errors)
        with self.lock:
            loc, old = self._note(contact_id, note_id)
            new = {**old, **body}
            if new == old:
                return old
            new["dateUpdated_ms"] = max(now_ms(), old["dateUpdated_ms"])
            loc.notes[note_id] = new
            self._note_touches_contact(loc, new["contactId"], new["dateUpdated_ms"])
            if emit:
                self.sink("NoteUpdate", self.note_event("NoteUpdate", new))
            return new

    def delete_note(self, contact_id: str | None, note_id: str, *, emit: bool = True) -> None:
        with self.lock:
            loc, n = self._note(contact_id, note_id)
            del loc.notes[note_id]
            loc.notes_by_contact.get(n["contactId"], {}).pop(note_id, None)
            del self.note_loc[note_id]
            self._note_touches_contact(loc, n["contactId"], now_ms())
            if emit:
                self.sink("NoteDelete", self.note_event("NoteDelete", n))


def _search_item(view: dict[str, Any], variants: Variants) -> dict[str, Any]:
    """A task as the location task search returns it: the keys of its contact and body vary."""
    item = {k: v for k, v in view.items() if k not in ("contactId", "body")}
    contact_key = variants.task_search_contact_key
    if contact_key == "contactIds":
        item[contact_key] = [view["contactId"]]
    elif contact_key == "contact":
        item[contact_key] = {"id": view["contactId"]}
    elif contact_key is not None:
        item[contact_key] = view["contactId"]
    if variants.task_search_body_key is not None and "body" in view:
        item[variants.task_search_body_key] = view["body"]
    return item
