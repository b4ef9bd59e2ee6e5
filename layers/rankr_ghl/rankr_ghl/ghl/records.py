"""`GhlRecords` (rankr_ghl.ports) over `GHLClient`: wire-format dicts in and out, None on 404.

The one GHL adapter of the flows. The client comes from a source called on first use, so a path
that never reaches GHL (an event for a location that is not connected) never builds it. Contacts
go through the client's wire-format calls (`contact_records_api`), which check GHL's JSON without
pydantic: a lead push or a contact webhook never loads it. Tasks, notes and appointments keep the
typed models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rankr_ghl.ghl.errors import GHLForbidden, GHLNotFound
from rankr_ghl.ports import GhlSearchPage, GhlUpsert, Record, RecordReadForbidden
from rankr_ghl.sync.types import Entity

if TYPE_CHECKING:
    from rankr_ghl.ghl.client import GHLClient

DEFAULT_TASK_SEARCH_PAGE = 100
DEFAULT_TASK_SEARCH_MAX = 2000


def _record_or_none(fetch: Callable[[], Any]) -> Record | None:
    """A GHL record as the API returns it, or None when GHL answers 404 (deleted meanwhile)."""
    try:
        record: Record = fetch().to_api()
    except GHLNotFound:
        return None
    return record


def _contact_or_none(fetch: Callable[[], Record]) -> Record | None:
    try:
        return fetch()
    except GHLNotFound:
        return None


def _parent(parent_id: str | None) -> str:
    if not parent_id:
        raise ValueError("tasks and notes need their GHL contact id")
    return parent_id


class GhlClientRecords:
    def __init__(
        self,
        client: Callable[[], GHLClient],
        *,
        task_search_page: int = DEFAULT_TASK_SEARCH_PAGE,
        task_search_max: int = DEFAULT_TASK_SEARCH_MAX,
    ) -> None:
        """`client`: called on the first GHL call (the root builds the client lazily)."""
        self._client_source = client
        self._task_search_page = task_search_page
        self._task_search_max = task_search_max

    @property
    def client(self) -> GHLClient:
        return self._client_source()

    # -- reads
    def get_contact(self, location_id: str, contact_id: str) -> Record | None:
        return _contact_or_none(lambda: self.client.get_contact_record(location_id, contact_id))

    def get_task(self, location_id: str, contact_id: str, task_id: str) -> Record | None:
        return _record_or_none(lambda: self.client.get_task(location_id, contact_id, task_id))

    def get_note(self, location_id: str, contact_id: str, note_id: str) -> Record | None:
        return _record_or_none(lambda: self.client.get_note(location_id, contact_id, note_id))

    def get_appointment(self, location_id: str, appointment_id: str) -> Record | None:
        try:
            return _record_or_none(lambda: self.client.get_appointment(location_id, appointment_id))
        except GHLForbidden as exc:
            raise RecordReadForbidden(str(exc)) from exc

    def get(self, location_id: str, entity: Entity, record_id: str, parent_id: str | None) -> Record | None:
        if entity is Entity.CONTACT:
            return self.get_contact(location_id, record_id)
        if entity is Entity.TASK:
            return self.get_task(location_id, _parent(parent_id), record_id)
        if entity is Entity.NOTE:
            return self.get_note(location_id, _parent(parent_id), record_id)
        return self.get_appointment(location_id, record_id)

    # -- searches and lists
    def search_contacts(
        self,
        location_id: str,
        *,
        page_limit: int,
        sort: Sequence[Mapping[str, Any]],
        filters: Sequence[Mapping[str, Any]] | None = None,
        page: int | None = None,
        search_after: Sequence[Any] | None = None,
    ) -> GhlSearchPage:
        result = self.client.search_contact_records(
            location_id,
            page_limit=page_limit,
            page=page,
            search_after=search_after,
            filters=filters,
            sort=sort,
        )
        cursor = result.contacts[-1].get("searchAfter") if result.contacts else None
        return GhlSearchPage(result.contacts, cursor)

    def find_contact_by_tag(self, location_id: str, tag: str) -> Record | None:
        result = self.client.search_contact_records(
            location_id,
            page_limit=1,
            page=1,
            filters=[{"field": "tags", "operator": "eq", "value": tag.lower()}],
            sort=[{"field": "dateAdded", "direction": "asc"}],
        )
        return result.contacts[0] if result.contacts else None

    def find_duplicate_contact(
        self, location_id: str, *, email: str | None, phone: str | None
    ) -> Record | None:
        return self.client.find_duplicate_contact_record(location_id, email=email, phone=phone)

    def search_tasks(self, location_id: str, *, limit: int, skip: int) -> list[Record]:
        return [t.to_api() for t in self.client.search_location_tasks(location_id, limit=limit, skip=skip)]

    def find_task_contact(self, location_id: str, task_id: str) -> str | None:
        tasks = self.client.iter_location_tasks(location_id, page_size=self._task_search_page)
        for seen, task in enumerate(tasks, 1):
            data = task.to_api()
            if data.get("id") == task_id or data.get("_id") == task_id:
                return _task_contact_id(data)
            if seen >= self._task_search_max:
                break
        return None

    def list_notes(self, location_id: str, contact_id: str) -> list[Record]:
        try:
            return [n.to_api() for n in self.client.list_notes(location_id, contact_id)]
        except GHLNotFound:
            return []

    def list_tasks(self, location_id: str, contact_id: str) -> list[Record]:
        try:
            return [t.to_api() for t in self.client.list_tasks(location_id, contact_id)]
        except GHLNotFound:
            return []

    # -- writes
    def create_contact(self, location_id: str, body: Mapping[str, Any]) -> Record:
        return self.client.create_contact_record(location_id, body)

    def upsert_contact(self, location_id: str, body: Mapping[str, Any]) -> Record:
        return self.upsert_contact_reporting_new(location_id, body).record

    def upsert_contact_reporting_new(self, location_id: str, body: Mapping[str, Any]) -> GhlUpsert:
        contact, new = self.client.upsert_contact_record(location_id, body)
        return GhlUpsert(contact, new)

    def update_contact(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record | None:
        contact = self.client.update_contact_record(location_id, contact_id, body)
        return contact if contact is not None and contact.get("id") else None

    def delete_contact(self, location_id: str, contact_id: str) -> None:
        try:
            self.client.delete_contact(location_id, contact_id)
        except GHLNotFound:
            return

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        return self.client.add_tags(location_id, contact_id, list(tags))

    def remove_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> None:
        self.client.remove_tags(location_id, contact_id, list(tags))

    def create_task(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record:
        from rankr_ghl.ghl.models import TaskCreate

        return self.client.create_task(
            location_id, contact_id, TaskCreate.model_validate(dict(body))
        ).to_api()

    def update_task(self, location_id: str, contact_id: str, task_id: str, body: Mapping[str, Any]) -> None:
        from rankr_ghl.ghl.models import TaskUpdate

        self.client.update_task(location_id, contact_id, task_id, TaskUpdate.model_validate(dict(body)))

    def create_note(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record:
        from rankr_ghl.ghl.models import NoteCreate

        return self.client.create_note(
            location_id, contact_id, NoteCreate.model_validate(dict(body))
        ).to_api()

    def update_note(self, location_id: str, contact_id: str, note_id: str, body: Mapping[str, Any]) -> None:
        from rankr_ghl.ghl.models import NoteUpdate

        self.client.update_note(location_id, contact_id, note_id, NoteUpdate.model_validate(dict(body)))


def _task_contact_id(task: Mapping[str, Any]) -> str | None:
    """The contact of a location-search task item; its key is undocumented (`contactId`, a one-item
    `contactIds`, or a `contact` id or object). None when the item does not say unambiguously."""
    contact = task.get("contactId") or task.get("contact")
    if isinstance(contact, Mapping):
        contact = contact.get("id") or contact.get("_id")
    if not contact:
        ids = task.get("contactIds")
        if isinstance(ids, list) and len(ids) == 1:
            contact = ids[0]
    return contact if isinstance(contact, str) and contact else None
