"""HTTP client of the Rankr records API (contract: docs/rankr-api.yaml).

Create one `RankrClient` per container (module scope, lazily) and reuse it: it owns one httpx connection
pool. Every method takes `account_id` first. Every operation of the contract is safe to retry, creates
included, because creates carry a caller-chosen, deterministic `Idempotency-Key` (see `rankr_ghl.rankr.keys`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import httpx

from rankr_ghl.rankr.contact_wire import ContactRecords, contact_page, contact_record, contact_write_body
from rankr_ghl.rankr.http_base import ApiKey, RankrHttpBase, parse_body, parse_with
from rankr_ghl.rankr.timestamps import format_timestamp

if TYPE_CHECKING:
    from pydantic import BaseModel

    from rankr_ghl.rankr.appointment_models import Appointment, AppointmentPage, AppointmentPut
    from rankr_ghl.rankr.contact_models import Contact, ContactCreate, ContactPage, ContactUpdate
    from rankr_ghl.rankr.task_note_models import (
        Note,
        NoteCreate,
        NotePage,
        NoteUpdate,
        Task,
        TaskCreate,
        TaskPage,
        TaskUpdate,
    )

# No model loads with the client: the typed methods import theirs when first called. The `*_record`
# contact methods (the records adapter's, on a contact webhook's first event) check their bodies with
# `contact_wire` and never load pydantic, whose import alone costs a cold start more than the event.

__all__ = ["ApiKey", "RankrClient"]

MAX_PAGE_SIZE = 500

CONTACTS = "/v1/accounts/{accountId}/contacts"
CONTACT = "/v1/accounts/{accountId}/contacts/{contactId}"
TASKS = "/v1/accounts/{accountId}/contacts/{contactId}/tasks"
TASK = "/v1/accounts/{accountId}/contacts/{contactId}/tasks/{taskId}"
NOTES = "/v1/accounts/{accountId}/contacts/{contactId}/notes"
NOTE = "/v1/accounts/{accountId}/contacts/{contactId}/notes/{noteId}"
APPOINTMENTS = "/v1/accounts/{accountId}/appointments"
APPOINTMENT = "/v1/accounts/{accountId}/appointments/{externalId}"


ItemT = TypeVar("ItemT", bound="BaseModel")
PageT = TypeVar("PageT", bound="BaseModel")


class _WireBody(Protocol):
    def to_json(self, *, partial: bool) -> dict[str, Any]: ...


@dataclass(frozen=True)
class _ChildKind(Generic[ItemT, PageT]):
    """A record that lives under a contact (tasks, notes): its paths, id parameter and models."""

    collection: str
    item: str
    id_param: str
    model: type[ItemT]
    page: type[PageT]


@cache
def _tasks() -> _ChildKind[Task, TaskPage]:
    from rankr_ghl.rankr.task_note_models import Task, TaskPage

    return _ChildKind(TASKS, TASK, "taskId", Task, TaskPage)


@cache
def _notes() -> _ChildKind[Note, NotePage]:
    from rankr_ghl.rankr.task_note_models import Note, NotePage

    return _ChildKind(NOTES, NOTE, "noteId", Note, NotePage)


class RankrClient(RankrHttpBase):
    """Typed, retrying client of the Rankr API."""

    # ------------------------------------------------------------------ contacts

    def create_contact(self, account_id: str, contact: ContactCreate, *, idempotency_key: str) -> Contact:
        from rankr_ghl.rankr.contact_models import Contact

        response = self._post_contact(account_id, contact.to_json(partial=False), idempotency_key)
        return parse_body(Contact, response)

    def get_contact(self, account_id: str, contact_id: str) -> Contact:
        from rankr_ghl.rankr.contact_models import Contact

        return parse_body(Contact, self._get_contact(account_id, contact_id))

    def update_contact(self, account_id: str, contact_id: str, changes: ContactUpdate) -> Contact:
        from rankr_ghl.rankr.contact_models import Contact

        return parse_body(Contact, self._patch_contact(account_id, contact_id, changes.to_json(partial=True)))

    def delete_contact(self, account_id: str, contact_id: str) -> None:
        self._request("DELETE", CONTACT, {"accountId": account_id, "contactId": contact_id})

    def list_contacts(
        self,
        account_id: str,
        *,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> ContactPage:
        """One page, ordered by (updatedAt, id). `include_deleted=None` uses Rankr's default: deleted
        records are included iff `updated_since` is given."""
        from rankr_ghl.rankr.contact_models import ContactPage

        query = _list_query(updated_since, include_deleted, cursor, limit)
        return parse_body(ContactPage, self._list_contacts(account_id, query))

    # The same calls with the contact as a dict in Rankr's wire names (`contact_wire`), for the
    # records adapter: what `Contact.model_dump(mode="json", by_alias=True)` gives, without pydantic.

    def create_contact_record(
        self, account_id: str, body: Mapping[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        """POST a contact given in wire names; unknown or over-long fields fail here (ValueError)."""
        wire = contact_write_body(body, partial=False)
        return parse_with(contact_record, "Contact", self._post_contact(account_id, wire, idempotency_key))

    def get_contact_record(self, account_id: str, contact_id: str) -> dict[str, Any]:
        return parse_with(contact_record, "Contact", self._get_contact(account_id, contact_id))

    def update_contact_record(
        self, account_id: str, contact_id: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PATCH the fields given (None clears one); unknown or over-long fields fail here."""
        wire = contact_write_body(changes, partial=True)
        return parse_with(contact_record, "Contact", self._patch_contact(account_id, contact_id, wire))

    def list_contact_records(
        self,
        account_id: str,
        *,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> ContactRecords:
        """One page, as `list_contacts`."""
        query = _list_query(updated_since, include_deleted, cursor, limit)
        return parse_with(contact_page, "ContactPage", self._list_contacts(account_id, query))

    def _post_contact(self, account_id: str, wire: dict[str, Any], idempotency_key: str) -> httpx.Response:
        path = {"accountId": account_id}
        return self._request("POST", CONTACTS, path, json=wire, idempotency_key=idempotency_key)

    def _get_contact(self, account_id: str, contact_id: str) -> httpx.Response:
        return self._request("GET", CONTACT, {"accountId": account_id, "contactId": contact_id})

    def _patch_contact(self, account_id: str, contact_id: str, wire: dict[str, Any]) -> httpx.Response:
        return self._request("PATCH", CONTACT, {"accountId": account_id, "contactId": contact_id}, json=wire)

    def _list_contacts(self, account_id: str, query: dict[str, str]) -> httpx.Response:
        return self._request("GET", CONTACTS, {"accountId": account_id}, params=query)

    def iter_contacts(
        self,
        account_id: str,
        updated_since: datetime | None = None,
        page_size: int = MAX_PAGE_SIZE,
        *,
        include_deleted: bool | None = None,
    ) -> Iterator[Contact]:
        """Every matching contact, one page in memory at a time."""
        yield from _follow_cursor(
            lambda cursor: self.list_contacts(
                account_id,
                updated_since=updated_since,
                include_deleted=include_deleted,
                cursor=cursor,
                limit=page_size,
            )
        )

    # ------------------------------------------------------------------ tasks and notes (per contact)

    def _create_child(
        self,
        kind: _ChildKind[ItemT, PageT],
        account_id: str,
        contact_id: str,
        body: _WireBody,
        idempotency_key: str,
    ) -> ItemT:
        response = self._request(
            "POST",
            kind.collection,
            {"accountId": account_id, "contactId": contact_id},
            json=body.to_json(partial=False),
            idempotency_key=idempotency_key,
        )
        return parse_body(kind.model, response)

    def _child_request(
        self,
        method: str,
        kind: _ChildKind[ItemT, PageT],
        account_id: str,
        contact_id: str,
        child_id: str,
        *,
        changes: _WireBody | None = None,
    ) -> httpx.Response:
        path = {"accountId": account_id, "contactId": contact_id, kind.id_param: child_id}
        body = changes.to_json(partial=True) if changes is not None else None
        return self._request(method, kind.item, path, json=body)

    def _list_children(
        self, kind: _ChildKind[ItemT, PageT], account_id: str, contact_id: str, query: dict[str, str]
    ) -> PageT:
        path = {"accountId": account_id, "contactId": contact_id}
        return parse_body(kind.page, self._request("GET", kind.collection, path, params=query))

    def create_task(
        self, account_id: str, contact_id: str, task: TaskCreate, *, idempotency_key: str
    ) -> Task:
        return self._create_child(_tasks(), account_id, contact_id, task, idempotency_key)

    def get_task(self, account_id: str, contact_id: str, task_id: str) -> Task:
        kind = _tasks()
        return parse_body(kind.model, self._child_request("GET", kind, account_id, contact_id, task_id))

    def update_task(self, account_id: str, contact_id: str, task_id: str, changes: TaskUpdate) -> Task:
        kind = _tasks()
        response = self._child_request("PATCH", kind, account_id, contact_id, task_id, changes=changes)
        return parse_body(kind.model, response)

    def delete_task(self, account_id: str, contact_id: str, task_id: str) -> None:
        self._child_request("DELETE", _tasks(), account_id, contact_id, task_id)

    def list_tasks(
        self,
        account_id: str,
        contact_id: str,
        *,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> TaskPage:
        query = _list_query(updated_since, include_deleted, cursor, limit)
        return self._list_children(_tasks(), account_id, contact_id, query)

    def iter_tasks(
        self,
        account_id: str,
        contact_id: str,
        *,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Task]:
        return _follow_cursor(
            lambda cursor: self._list_children(
                _tasks(),
                account_id,
                contact_id,
                _list_query(updated_since, include_deleted, cursor, page_size),
            )
        )

    def create_note(
        self, account_id: str, contact_id: str, note: NoteCreate, *, idempotency_key: str
    ) -> Note:
        return self._create_child(_notes(), account_id, contact_id, note, idempotency_key)

    def get_note(self, account_id: str, contact_id: str, note_id: str) -> Note:
        kind = _notes()
        return parse_body(kind.model, self._child_request("GET", kind, account_id, contact_id, note_id))

    def update_note(self, account_id: str, contact_id: str, note_id: str, changes: NoteUpdate) -> Note:
        kind = _notes()
        response = self._child_request("PATCH", kind, account_id, contact_id, note_id, changes=changes)
        return parse_body(kind.model, response)

    def delete_note(self, account_id: str, contact_id: str, note_id: str) -> None:
        self._child_request("DELETE", _notes(), account_id, contact_id, note_id)

    def list_notes(
        self,
        account_id: str,
        contact_id: str,
        *,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> NotePage:
        query = _list_query(updated_since, include_deleted, cursor, limit)
        return self._list_children(_notes(), account_id, contact_id, query)

    def iter_notes(
        self,
        account_id: str,
        contact_id: str,
        *,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Note]:
        return _follow_cursor(
            lambda cursor: self._list_children(
                _notes(),
                account_id,
                contact_id,
                _list_query(updated_since, include_deleted, cursor, page_size),
            )
        )

    # ------------------------------------------------------------------ appointments (GHL mirror)

    def put_appointment(self, account_id: str, external_id: str, appointment: AppointmentPut) -> Appointment:
        """Upsert the mirror of GHL appointment `external_id` (the GHL event id)."""
        from rankr_ghl.rankr.appointment_models import Appointment

        response = self._request(
            "PUT",
            APPOINTMENT,
            {"accountId": account_id, "externalId": external_id},
            json=appointment.to_json(),
        )
        return parse_body(Appointment, response)

    def get_appointment(self, account_id: str, external_id: str) -> Appointment:
        from rankr_ghl.rankr.appointment_models import Appointment

        response = self._request("GET", APPOINTMENT, {"accountId": account_id, "externalId": external_id})
        return parse_body(Appointment, response)

    def delete_appointment(self, account_id: str, external_id: str) -> None:
        self._request("DELETE", APPOINTMENT, {"accountId": account_id, "externalId": external_id})

    def list_appointments(
        self,
        account_id: str,
        *,
        contact_id: str | None = None,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> AppointmentPage:
        from rankr_ghl.rankr.appointment_models import AppointmentPage

        query = _list_query(updated_since, include_deleted, cursor, limit)
        if contact_id is not None:
            query["contactId"] = contact_id
        response = self._request("GET", APPOINTMENTS, {"accountId": account_id}, params=query)
        return parse_body(AppointmentPage, response)

    def iter_appointments(
        self,
        account_id: str,
        *,
        contact_id: str | None = None,
        updated_since: datetime | None = None,
        include_deleted: bool | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Appointment]:
        yield from _follow_cursor(
            lambda cursor: self.list_appointments(
                account_id,
                contact_id=contact_id,
                updated_since=updated_since,
                include_deleted=include_deleted,
                cursor=cursor,
                limit=page_size,
            )
        )


def _follow_cursor(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    """Items of every page, following `nextCursor`; one page in memory at a time."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def _list_query(
    updated_since: datetime | None, include_deleted: bool | None, cursor: str | None, limit: int
) -> dict[str, str]:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    query = {"limit": str(limit)}
    if updated_since is not None:
        query["updated_since"] = format_timestamp(updated_since)
    if include_deleted is not None:
        query["include_deleted"] = "true" if include_deleted else "false"
    if cursor is not None:
        query["cursor"] = cursor
    return query
