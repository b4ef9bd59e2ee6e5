"""What reconcile needs from GHL and Rankr, as two narrow Protocols over plain dict records.

Records are dicts with each API's wire field names (camelCase), exactly what
`rankr_ghl.sync.mapping.EntityMapping.canonical` reads. The adapters wrap `GHLClient` and
`RankrClient`; unit tests use in-memory fakes of these Protocols (tests/unit/reconcile).
A missing record is `None`, never an exception, so the reconcile logic reads as a decision table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rankr_ghl.ghl.client import GHLClient
    from rankr_ghl.rankr.client import RankrClient

Record = dict[str, Any]


@dataclass(frozen=True)
class SearchPage:
    records: list[Record]
    next_search_after: list[Any] | None  # cursor of the page's last record (None: no records)


@dataclass(frozen=True)
class RankrPage:
    records: list[Record]
    next_cursor: str | None


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

    def update_contact(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> None: ...

    def delete_contact(self, location_id: str, contact_id: str) -> None: ...

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> None: ...

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

    def list_tasks(
        self, account_id: str, contact_id: str, *, updated_since: datetime | None = None
    ) -> list[Record]: ...

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


class GhlClientPort:
    """`GhlPort` over `rankr_ghl.ghl.client.GHLClient`."""

    def __init__(self, client: Callable[[], GHLClient]) -> None:
        """`client`: called on the first GHL call (the client is built lazily by the root)."""
        self._client_source = client

    @property
    def client(self) -> GHLClient:
        return self._client_source()

    def search_contacts(
        self,
        location_id: str,
        *,
        page_limit: int,
        sort: Sequence[Mapping[str, Any]],
        filters: Sequence[Mapping[str, Any]] | None = None,
        page: int | None = None,
        search_after: Sequence[Any] | None = None,
    ) -> SearchPage:
        result = self.client.search_contacts_page(
            location_id,
            page_limit=page_limit,
            page=page,
            search_after=search_after,
            filters=filters,
            sort=sort,
        )
        return SearchPage([c.to_api() for c in result.contacts], result.next_search_after)

    def find_contact_by_tag(self, location_id: str, tag: str) -> Record | None:
        result = self.client.search_contacts_page(
            location_id,
            page_limit=1,
            page=1,
            filters=[{"field": "tags", "operator": "eq", "value": tag.lower()}],
            sort=[{"field": "dateAdded", "direction": "asc"}],
        )
        return result.contacts[0].to_api() if result.contacts else None

    def get_contact(self, location_id: str, contact_id: str) -> Record | None:
        from rankr_ghl.ghl.errors import GHLNotFound

        try:
            return self.client.get_contact(location_id, contact_id).to_api()
        except GHLNotFound:
            return None

    def create_contact(self, location_id: str, body: Mapping[str, Any]) -> Record:
        from rankr_ghl.ghl.models import ContactCreate

        return self.client.create_contact(location_id, ContactCreate.model_validate(dict(body))).to_api()

    def upsert_contact(self, location_id: str, body: Mapping[str, Any]) -> Record:
        from rankr_ghl.ghl.models import ContactUpsert

        return self.client.upsert_contact(
            location_id, ContactUpsert.model_validate(dict(body))
        ).contact.to_api()

    def update_contact(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> None:
        from rankr_ghl.ghl.models import ContactUpdate

        self.client.update_contact(location_id, contact_id, ContactUpdate.model_validate(dict(body)))

    def delete_contact(self, location_id: str, contact_id: str) -> None:
        from rankr_ghl.ghl.errors import GHLNotFound

        try:
            self.client.delete_contact(location_id, contact_id)
        except GHLNotFound:
            return

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> None:
        self.client.add_tags(location_id, contact_id, list(tags))

    def remove_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> None:
        self.client.remove_tags(location_id, contact_id, list(tags))

    def search_tasks(self, location_id: str, *, limit: int, skip: int) -> list[Record]:
        tasks = self.client.search_location_tasks(location_id, limit=limit, skip=skip)
        return [t.to_api() for t in tasks]

    def create_task(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record:
        from rankr_ghl.ghl.models import TaskCreate

        return self.client.create_task(
            location_id, contact_id, TaskCreate.model_validate(dict(body))
        ).to_api()

    def update_task(self, location_id: str, contact_id: str, task_id: str, body: Mapping[str, Any]) -> None:
        from rankr_ghl.ghl.models import TaskUpdate

        self.client.update_task(location_id, contact_id, task_id, TaskUpdate.model_validate(dict(body)))

    def list_notes(self, location_id: str, contact_id: str) -> list[Record]:
        from rankr_ghl.ghl.errors import GHLNotFound

        try:
            return [n.to_api() for n in self.client.list_notes(location_id, contact_id)]
        except GHLNotFound:
            return []

    def create_note(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record:
        from rankr_ghl.ghl.models import NoteCreate

        return self.client.create_note(
            location_id, contact_id, NoteCreate.model_validate(dict(body))
        ).to_api()

    def update_note(self, location_id: str, contact_id: str, note_id: str, body: Mapping[str, Any]) -> None:
        from rankr_ghl.ghl.models import NoteUpdate

        self.client.update_note(location_id, contact_id, note_id, NoteUpdate.model_validate(dict(body)))


def _rankr_record(model: Any) -> Record:
    record: Record = model.model_dump(mode="json", by_alias=True)
    return record


class RankrClientPort:
    """`RankrPort` over `rankr_ghl.rankr.client.RankrClient`."""

    def __init__(self, client: Callable[[], RankrClient]) -> None:
        """`client`: called on the first Rankr call (the client is built lazily by the root)."""
        self._client_source = client

    @property
    def client(self) -> RankrClient:
        return self._client_source()

    def list_contacts(
        self,
        account_id: str,
        *,
        updated_since: datetime | None,
        include_deleted: bool,
        cursor: str | None,
        limit: int,
    ) -> RankrPage:
        page = self.client.list_contacts(
            account_id,
            updated_since=updated_since,
            include_deleted=include_deleted,
            cursor=cursor,
            limit=limit,
        )
        return RankrPage([_rankr_record(c) for c in page.items], page.next_cursor)

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

    def list_notes(self, account_id: str, contact_id: str) -> list[Record]:
        from rankr_ghl.rankr.errors import RankrNotFound

        try:
            return [
                _rankr_record(n) for n in self.client.iter_notes(account_id, contact_id, include_deleted=True)
            ]
        except RankrNotFound:
            return []

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
