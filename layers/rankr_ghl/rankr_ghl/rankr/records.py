"""`RankrRecords` (rankr_ghl.ports) over `RankrClient`: dicts in Rankr's wire names (what the mapping
reads), None on 404, dispatch by entity.

The one Rankr adapter of the flows. The client comes from a source called on first use, so a path
that never reaches Rankr never builds it. Contacts go through the client's `*_contact_record` calls,
checked by `contact_wire` without pydantic (a contact webhook's first event touches nothing else);
tasks, notes and appointments go through the typed models, imported where they are used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rankr_ghl.ports import RankrPage, Record
from rankr_ghl.rankr.errors import RankrNotFound
from rankr_ghl.sync.types import Entity

if TYPE_CHECKING:
    from rankr_ghl.rankr.client import RankrClient


def _parent(parent_id: str | None) -> str:
    if not parent_id:
        raise ValueError("tasks and notes need their Rankr contact id")
    return parent_id


class RankrClientRecords:
    def __init__(self, client: Callable[[], RankrClient]) -> None:
        """`client`: called on the first Rankr call (the root builds the client lazily)."""
        self._client_source = client

    @property
    def _client(self) -> RankrClient:
        return self._client_source()

    @staticmethod
    def _dump(model: Any) -> Record:
        return dict(model.model_dump(mode="json", by_alias=True))

    def get(self, account_id: str, entity: Entity, record_id: str, parent_id: str | None) -> Record | None:
        try:
            if entity is Entity.CONTACT:
                return self._client.get_contact_record(account_id, record_id)
            if entity is Entity.TASK:
                return self._dump(self._client.get_task(account_id, _parent(parent_id), record_id))
            if entity is Entity.NOTE:
                return self._dump(self._client.get_note(account_id, _parent(parent_id), record_id))
            return self._dump(self._client.get_appointment(account_id, record_id))
        except RankrNotFound:
            return None

    def create(
        self, account_id: str, entity: Entity, body: Mapping[str, Any], parent_id: str | None, key: str
    ) -> Record:
        # Each entity's models are imported where they are used: a contact event builds no model
        # (pydantic classes, costly at a cold start).
        data = dict(body)
        if entity is Entity.CONTACT:
            return self._client.create_contact_record(account_id, data, idempotency_key=key)
        if entity is Entity.TASK:
            from rankr_ghl.rankr.task_note_models import TaskCreate

            created: Any = self._client.create_task(
                account_id, _parent(parent_id), TaskCreate.model_validate(data), idempotency_key=key
            )
        elif entity is Entity.NOTE:
            from rankr_ghl.rankr.task_note_models import NoteCreate

            created = self._client.create_note(
                account_id, _parent(parent_id), NoteCreate.model_validate(data), idempotency_key=key
            )
        else:
            raise ValueError("appointments are mirrored with put_appointment")
        return self._dump(created)

    def update(
        self, account_id: str, entity: Entity, record_id: str, body: Mapping[str, Any], parent_id: str | None
    ) -> Record:
        data = dict(body)
        if entity is Entity.CONTACT:
            return self._client.update_contact_record(account_id, record_id, data)
        if entity is Entity.TASK:
            from rankr_ghl.rankr.task_note_models import TaskUpdate

            updated: Any = self._client.update_task(
                account_id, _parent(parent_id), record_id, TaskUpdate.model_validate(data)
            )
        elif entity is Entity.NOTE:
            from rankr_ghl.rankr.task_note_models import NoteUpdate

            updated = self._client.update_note(
                account_id, _parent(parent_id), record_id, NoteUpdate.model_validate(data)
            )
        else:
            raise ValueError("appointments are mirrored with put_appointment")
        return self._dump(updated)

    def delete(self, account_id: str, entity: Entity, record_id: str, parent_id: str | None) -> None:
        try:
            if entity is Entity.CONTACT:
                self._client.delete_contact(account_id, record_id)
            elif entity is Entity.TASK:
                self._client.delete_task(account_id, _parent(parent_id), record_id)
            elif entity is Entity.NOTE:
                self._client.delete_note(account_id, _parent(parent_id), record_id)
            else:
                self._client.delete_appointment(account_id, record_id)
        except RankrNotFound:
            return

    def put_appointment(self, account_id: str, external_id: str, body: Mapping[str, Any]) -> Record:
        from rankr_ghl.rankr.appointment_models import AppointmentPut

        put = AppointmentPut.model_validate(dict(body))
        return self._dump(self._client.put_appointment(account_id, external_id, put))

    def list_contacts(
        self,
        account_id: str,
        *,
        updated_since: datetime | None,
        include_deleted: bool,
        cursor: str | None,
        limit: int,
    ) -> RankrPage:
        page = self._client.list_contact_records(
            account_id,
            updated_since=updated_since,
            include_deleted=include_deleted,
            cursor=cursor,
            limit=limit,
        )
        return RankrPage(page.items, page.next_cursor)

    def list_tasks(
        self, account_id: str, contact_id: str, *, updated_since: datetime | None = None
    ) -> list[Record]:
        tasks = self._client.iter_tasks(
            account_id, contact_id, updated_since=updated_since, include_deleted=True
        )
        try:
            return [self._dump(t) for t in tasks]
        except RankrNotFound:
            return []

    def list_notes(self, account_id: str, contact_id: str) -> list[Record]:
        try:
            return [
                self._dump(n) for n in self._client.iter_notes(account_id, contact_id, include_deleted=True)
            ]
        except RankrNotFound:
            return []
