"""What reconcile needs from GHL and Rankr, as two narrow Protocols over plain dict records (subsets
of `rankr_ghl.ports.GhlRecords` / `RankrRecords`, served by the same adapters).

Records are dicts with each API's wire field names (camelCase), exactly what
`rankr_ghl.sync.mapping.EntityMapping.canonical` reads. The adapters wrap `GHLClient` and
`RankrClient`; unit tests use in-memory fakes of these Protocols (tests/unit/reconcile).
A missing record is `None`, never an exception, so the reconcile logic reads as a decision table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from rankr_ghl.ghl.records import GhlClientRecords
from rankr_ghl.ports import GhlSearchPage, RankrPage, Record
from rankr_ghl.rankr.records import RankrClientRecords

if TYPE_CHECKING:
    from rankr_ghl.rankr.client import RankrClient

SearchPage = GhlSearchPage


class GhlPort(Protocol):
    def search_contacts(
        self,
        location_id: str,
        *,
        page_limit: int,
        sort: Sequence[Mapping[str, Any]],
        filters: Sequence[Mapping[str, Any]] | None = None,
        page: int | None = None,
        search_after: Sequence[Any] | None = None,
    ) -> SearchPage: ...

    def find_contact_by_tag(self, location_id: str, tag: str) -> Record | None: ...

    def get_contact(self, location_id: str, contact_id: str) -> Record | None: ...

    def create_contact(self, location_id: str, body: Mapping[str, Any]) -> Record: ...

    def upsert_contact(self, location_id: str, body: Mapping[str, Any]) -> Record: ...

    def update_contact(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record | None: ...

    def delete_contact(self, location_id: str, contact_id: str) -> None: ...

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]: ...

    def remove_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> None: ...

    def search_tasks(self, location_id: str, *, limit: int, skip: int) -> list[Record]: ...

    def create_task(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record: ...

    def update_task(
        self, location_id: str, contact_id: str, task_id: str, body: Mapping[str, Any]
    ) -> None: ...

    def list_notes(self, location_id: str, contact_id: str) -> list[Record]: ...

    def create_note(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record: ...

    def update_note(
        self, location_id: str, contact_id: str, note_id: str, body: Mapping[str, Any]
    ) -> None: ...


class RankrPort(Protocol):
    def list_contacts(
        self,
        account_id: str,
        *,
        updated_since: datetime | None,
        include_deleted: bool,
        cursor: str | None,
        limit: int,
    ) -> RankrPage: ...

    def get_contact(self, account_id: str, contact_id: str) -> Record | None: ...

    def create_contact(self, account_id: str, body: Mapping[str, Any], *, idempotency_key: str) -> Record: ...

    def update_contact(self, account_id: str, contact_id: str, body: Mapping[str, Any]) -> None: ...

    def delete_contact(self, account_id: str, contact_id: str) -> None: ...

    def get_task(self, account_id: str, contact_id: str, task_id: str) -> Record | None: ...

    def create_task(
        self, account_id: str, contact_id: str, body: Mapping[str, Any], *, idempotency_key: str
    ) -> Record: ...

    def update_task(
        self, account_id: str, contact_id: str, task_id: str, body: Mapping[str, Any]
    ) -> None: ...

    def delete_task(self, account_id: str, contact_id: str, task_id: str) -> None: ...

    def list_notes(self, account_id: str, contact_id: str) -> list[Record]: ...

    def create_note(
        self, account_id: str, contact_id: str, body: Mapping[str, Any], *, idempotency_key: str
    ) -> Record: ...

    def update_note(
        self, account_id: str, contact_id: str, note_id: str, body: Mapping[str, Any]
    ) -> None: ...

    def delete_note(self, account_id: str, contact_id: str, note_id: str) -> None: ...


# --------------------------------------------------------------------------------------------------
# Adapters over the real clients


# The one GHL adapter serves reconcile's narrower port.
GhlClientPort = GhlClientRecords


def _rankr_record(model: Any) -> Record:
    record: Record = model.model_dump(mode="json", by_alias=True)
    return record


class RankrClientPort(RankrClientRecords):
    """`RankrPort` over `RankrClient`: the Rankr adapter's lists, plus the per-entity calls reconcile
    still makes (to move onto `RankrRecords.get/create/update/delete`)."""

    @property
    def client(self) -> RankrClient:
        return self._client

    def get_contact(self, account_id: str, contact_id: str) -> Record | None:
        from rankr_ghl.rankr.errors import RankrNotFound

        try:
            return _rankr_record(self.client.get_contact(account_id, contact_id))
        except RankrNotFound:
            return None

    def create_contact(self, account_id: str, body: Mapping[str, Any], *, idempotency_key: str) -> Record:
        from rankr_ghl.rankr.models import ContactCreate

        created = self.client.create_contact(
            account_id, ContactCreate.model_validate(dict(body)), idempotency_key=idempotency_key
        )
        return _rankr_record(created)

    def update_contact(self, account_id: str, contact_id: str, body: Mapping[str, Any]) -> None:
        from rankr_ghl.rankr.models import ContactUpdate

        self.client.update_contact(account_id, contact_id, ContactUpdate.model_validate(dict(body)))

    def delete_contact(self, account_id: str, contact_id: str) -> None:
        from rankr_ghl.rankr.errors import RankrNotFound

        try:
            self.client.delete_contact(account_id, contact_id)
        except RankrNotFound:
            return

    def list_tasks(
        self, account_id: str, contact_id: str, *, updated_since: datetime | None = None
    ) -> list[Record]:
        from rankr_ghl.rankr.errors import RankrNotFound

        try:
            return [
                _rankr_record(t)
                for t in self.client.iter_tasks(
                    account_id, contact_id, updated_since=updated_since, include_deleted=True
                )
            ]
        except RankrNotFound:
            return []

    def get_task(self, account_id: str, contact_id: str, task_id: str) -> Record | None:
        from rankr_ghl.rankr.errors import RankrNotFound

        try:
            return _rankr_record(self.client.get_task(account_id, contact_id, task_id))
        except RankrNotFound:
            return None

    def create_task(
        self, account_id: str, contact_id: str, body: Mapping[str, Any], *, idempotency_key: str
    ) -> Record:
        from rankr_ghl.rankr.models import TaskCreate

        created = self.client.create_task(
            account_id, contact_id, TaskCreate.model_validate(dict(body)), idempotency_key=idempotency_key
        )
        return _rankr_record(created)

    def update_task(self, account_id: str, contact_id: str, task_id: str, body: Mapping[str, Any]) -> None:
        from rankr_ghl.rankr.models import TaskUpdate

        self.client.update_task(account_id, contact_id, task_id, TaskUpdate.model_validate(dict(body)))

    def delete_task(self, account_id: str, contact_id: str, task_id: str) -> None:
        from rankr_ghl.rankr.errors import RankrNotFound

        try:
            self.client.delete_task(account_id, contact_id, task_id)
        except RankrNotFound:
            return

    def create_note(
        self, account_id: str, contact_id: str, body: Mapping[str, Any], *, idempotency_key: str
    ) -> Record:
        from rankr_ghl.rankr.models import NoteCreate

        created = self.client.create_note(
            account_id, contact_id, NoteCreate.model_validate(dict(body)), idempotency_key=idempotency_key
        )
        return _rankr_record(created)

    def update_note(self, account_id: str, contact_id: str, note_id: str, body: Mapping[str, Any]) -> None:
        from rankr_ghl.rankr.models import NoteUpdate

        self.client.update_note(account_id, contact_id, note_id, NoteUpdate.model_validate(dict(body)))

    def delete_note(self, account_id: str, contact_id: str, note_id: str) -> None:
        from rankr_ghl.rankr.errors import RankrNotFound

        try:
            self.client.delete_note(account_id, contact_id, note_id)
        except RankrNotFound:
            return
