"""Ports shared by every flow: one record port per external system, one connection lookup, one counter.

A flow declares what it needs from the outside world here; the composition root (`rankr_ghl.wiring`)
hands it the adapter (`rankr_ghl.ghl.records`, `rankr_ghl.rankr.records`), a test hands it a fake.
Records are dicts in each API's wire names (camelCase), exactly what
`rankr_ghl.sync.mapping.EntityMapping.canonical` reads. A missing record is `None`, never an
exception, so the flows read as decision tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rankr_ghl.connections.models import Connection
    from rankr_ghl.sync.types import Entity

Record = dict[str, Any]


class RecordReadForbidden(Exception):
    """The location's token may not read this kind of record (GHL 403, e.g. calendars)."""


@dataclass(frozen=True)
class GhlSearchPage:
    records: list[Record]
    next_search_after: list[Any] | None  # cursor of the page's last record (None: no records)


@dataclass(frozen=True)
class GhlUpsert:
    record: Record
    new: bool  # True: GHL created the contact; False: it matched (and updated) an existing one


@dataclass(frozen=True)
class RankrPage:
    records: list[Record]
    next_cursor: str | None


class GhlRecords(Protocol):
    """GHL records of one location (its token and rate budget), reads and writes."""

    # -- reads (None on 404)
    def get_contact(self, location_id: str, contact_id: str) -> Record | None: ...

    def get_task(self, location_id: str, contact_id: str, task_id: str) -> Record | None: ...

    def get_note(self, location_id: str, contact_id: str, note_id: str) -> Record | None: ...

    def get_appointment(self, location_id: str, appointment_id: str) -> Record | None:
        """Raises `RecordReadForbidden` when the token lacks calendar read access."""
        ...

    def get(self, location_id: str, entity: Entity, record_id: str, parent_id: str | None) -> Record | None:
        """Dispatch by entity (`parent_id`: the GHL contact of a task or note)."""
        ...

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
    ) -> GhlSearchPage: ...

    def find_contact_by_tag(self, location_id: str, tag: str) -> Record | None:
        """The oldest contact carrying `tag` (GHL lower-cases tags)."""
        ...

    def find_duplicate_contact(
        self, location_id: str, *, email: str | None, phone: str | None
    ) -> Record | None:
        """The contact GHL's duplicate rules match (the location's e-mail/phone settings)."""
        ...

    def search_tasks(self, location_id: str, *, limit: int, skip: int) -> list[Record]: ...

    def find_task_contact(self, location_id: str, task_id: str) -> str | None:
        """The contact id of a task, found with the location task search (None: no such task)."""
        ...

    def list_notes(self, location_id: str, contact_id: str) -> list[Record]: ...

    def list_tasks(self, location_id: str, contact_id: str) -> list[Record]: ...

    # -- writes
    def create_contact(self, location_id: str, body: Mapping[str, Any]) -> Record:
        """Raises `GHLDuplicateContact` where the location disallows duplicates."""
        ...

    def upsert_contact(self, location_id: str, body: Mapping[str, Any]) -> Record: ...

    def upsert_contact_reporting_new(self, location_id: str, body: Mapping[str, Any]) -> GhlUpsert:
        """`upsert_contact`, telling a created contact from a matched one (GHL's `new`)."""
        ...

    def update_contact(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record | None:
        """PUT; a `tags` key replaces every tag (a union is `add_tags`). The contact as GHL returned it
        (None when the response lacks it)."""
        ...

    def delete_contact(self, location_id: str, contact_id: str) -> None: ...

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        """A union, never a replace; the contact's tags afterwards."""
        ...

    def remove_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> None: ...

    def create_task(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record: ...

    def update_task(
        self, location_id: str, contact_id: str, task_id: str, body: Mapping[str, Any]
    ) -> None: ...

    def create_note(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> Record: ...

    def update_note(
        self, location_id: str, contact_id: str, note_id: str, body: Mapping[str, Any]
    ) -> None: ...


class RankrRecords(Protocol):
    """Rankr records of one account; per entity (`parent_id`: the Rankr contact of a task or note)."""

    def get(
        self, account_id: str, entity: Entity, record_id: str, parent_id: str | None
    ) -> Record | None: ...

    def create(
        self, account_id: str, entity: Entity, body: Mapping[str, Any], parent_id: str | None, key: str
    ) -> Record:
        """Same key + same body replays the original; same key + another body raises
        `rankr_ghl.rankr.errors.RankrIdempotencyKeyReused` naming the record the key created."""
        ...

    def update(
        self, account_id: str, entity: Entity, record_id: str, body: Mapping[str, Any], parent_id: str | None
    ) -> Record: ...

    def delete(self, account_id: str, entity: Entity, record_id: str, parent_id: str | None) -> None:
        """Deleting a record that is gone already is a no-op."""
        ...

    def put_appointment(self, account_id: str, external_id: str, body: Mapping[str, Any]) -> Record: ...

    def list_contacts(
        self,
        account_id: str,
        *,
        updated_since: datetime | None,
        include_deleted: bool,
        cursor: str | None,
        limit: int,
    ) -> RankrPage: ...

    def list_tasks(
        self, account_id: str, contact_id: str, *, updated_since: datetime | None = None
    ) -> list[Record]:
        """Deleted tasks included; [] when the contact is gone."""
        ...

    def list_notes(self, account_id: str, contact_id: str) -> list[Record]:
        """Deleted notes included; [] when the contact is gone."""
        ...


class ConnectionLookup(Protocol):
    """The connection record of a location (or `company:<id>`), None when there is none."""

    def get(self, connection_id: str) -> Connection | None: ...


class Counter(Protocol):
    """Counts one occurrence of `name`, optionally with a `reason` dimension."""

    def count(self, name: str, reason: str | None = None) -> None: ...


class NullCounter:
    """A `Counter` that records nothing (flows built without metrics)."""

    def count(self, name: str, reason: str | None = None) -> None:
        return None
