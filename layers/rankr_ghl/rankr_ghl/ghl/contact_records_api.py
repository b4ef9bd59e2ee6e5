"""GHL contact endpoints with wire-format dicts in and out: what `GhlClientRecords` calls.

A lead push (upsert, tags) and a contact webhook (read one contact) call these on their first
event; their answers and bodies are checked by `contact_wire` exactly as the pydantic models check
them, without importing pydantic (see docs/cold-start.md). `ContactsApi` adds the typed methods
(models in, models out) on top for the callers that want them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rankr_ghl.ghl import contact_wire as wire
from rankr_ghl.ghl import errors
from rankr_ghl.ghl.client_base import SEARCH_MAX_PAGE_LIMIT, GhlClientBase
from rankr_ghl.ghl.contact_wire_bodies import CONTACT_CREATE, CONTACT_UPDATE, CONTACT_UPSERT, contact_body
from rankr_ghl.ghl.responses import Replay
from rankr_ghl.ghl.variant_observations import observe_search_cursor, observe_tag_case

Record = dict[str, Any]


class ContactRecordsApi(GhlClientBase):
    """Contacts as GHL's JSON: read, create, upsert, update, delete, duplicate look-up, search, tags.

    A body is checked before it is sent (unknown or malformed fields raise WireFormatError, a
    ValueError naming them); an answer of the wrong shape raises GHLError."""

    def get_contact_record(self, location_id: str, contact_id: str) -> Record:
        """GET /contacts/{contactId}."""
        contact = self._call(
            wire.contact_answer,
            "GET",
            "/contacts/{contactId}",
            location_id,
            path_params={"contactId": contact_id},
        )
        observe_tag_case([contact.get("tags")])
        return contact

    def create_contact_record(self, location_id: str, body: Mapping[str, Any]) -> Record:
        """POST /contacts/ (201). Never repeated once it may have reached GHL: on 5xx/timeout/422 the
        error has ``may_have_been_applied=True``. A 400 duplicate raises GHLDuplicateContact."""
        return self._call(
            wire.contact_answer,
            "POST",
            "/contacts/",
            location_id,
            replay=Replay.NEVER,
            json_body=self._located_body(location_id, contact_body(CONTACT_CREATE, body)),
        )

    def upsert_contact_record(self, location_id: str, body: Mapping[str, Any]) -> tuple[Record, bool]:
        """POST /contacts/upsert: the contact, and whether GHL created it. Not repeated once it may
        have reached GHL (with duplicates allowed a repeat could create a second contact)."""
        return self._call(
            wire.upsert_answer,
            "POST",
            "/contacts/upsert",
            location_id,
            replay=Replay.NEVER,
            json_body=self._located_body(location_id, contact_body(CONTACT_UPSERT, body)),
        )

    def update_contact_record(
        self, location_id: str, contact_id: str, body: Mapping[str, Any]
    ) -> Record | None:
        """PUT /contacts/{contactId}: the contact when GHL sends it back. ``tags`` in the body
        replaces every tag: prefer add/remove_tags."""
        return self._call(
            wire.update_answer,
            "PUT",
            "/contacts/{contactId}",
            location_id,
            path_params={"contactId": contact_id},
            json_body=contact_body(CONTACT_UPDATE, body),
        )

    def delete_contact(self, location_id: str, contact_id: str) -> bool:
        """DELETE /contacts/{contactId}; returns GHL's ``succeded`` flag."""
        return self._call(
            wire.succeeded_answer,
            "DELETE",
            "/contacts/{contactId}",
            location_id,
            path_params={"contactId": contact_id},
        )

    def find_duplicate_contact_record(
        self, location_id: str, *, email: str | None = None, phone: str | None = None
    ) -> Record | None:
        """GET /contacts/search/duplicate (by the location's duplicate rules). The URL carries the
        e-mail/phone, which is why request logs only ever show the path template."""
        if not email and not phone:
            raise ValueError("email or phone is required")
        params = {"locationId": location_id, "email": email, "number": phone}
        return self._call(
            wire.duplicate_answer, "GET", "/contacts/search/duplicate", location_id, params=params
        )

    def search_contact_records(
        self,
        location_id: str,
        *,
        page_limit: int = 100,
        page: int | None = None,
        search_after: Sequence[Any] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        sort: Sequence[Mapping[str, Any]] | None = None,
        query: str | None = None,
    ) -> wire.ContactSearchAnswer:
        """One POST /contacts/search request. Give ``page`` (within the first 10,000 records) or
        ``search_after`` (the cursor of the previous page's last record), not both."""
        body = self._search_body(
            location_id,
            page_limit=page_limit,
            page=page,
            search_after=search_after,
            filters=filters,
            sort=sort,
            query=query,
        )
        result = self._call(wire.search_answer, "POST", "/contacts/search", location_id, json_body=body)
        observe_search_cursor(
            sum(1 for contact in result.contacts if contact.get("searchAfter")),
            len(result.contacts),
            top_level_cursor=result.top_level_cursor,
        )
        observe_tag_case(contact.get("tags") for contact in result.contacts)
        return result

    @staticmethod
    def _search_body(
        location_id: str,
        *,
        page_limit: int,
        page: int | None,
        search_after: Sequence[Any] | None,
        filters: Sequence[Mapping[str, Any]] | None,
        sort: Sequence[Mapping[str, Any]] | None,
        query: str | None,
    ) -> dict[str, Any]:
        if not 1 <= page_limit <= SEARCH_MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be between 1 and {SEARCH_MAX_PAGE_LIMIT}")
        if page is not None and search_after is not None:
            raise ValueError("give page or search_after, not both")
        body: dict[str, Any] = {"locationId": location_id, "pageLimit": page_limit}
        if page is not None:
            if page < 1:
                raise ValueError("page starts at 1")
            body["page"] = page
        if search_after is not None:
            body["searchAfter"] = list(search_after)
        if filters:
            body["filters"] = [dict(f) for f in filters]
        if sort:
            body["sort"] = [dict(s) for s in sort]
        if query:
            body["query"] = query
        return body

    @staticmethod
    def _located_body(location_id: str, body: Record) -> Record:
        if body.get("locationId") is not None and body["locationId"] != location_id:
            raise ValueError("contact.location_id differs from location_id")
        return body | {"locationId": location_id}

    # ---- tags ------------------------------------------------------------------------------

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        """POST /contacts/{contactId}/tags (201). A set union, so repeating it is harmless: retried.

        GHL may answer 422 to a write it applied (docs issue #64), so a 422 is judged by reading the
        contact back: tags all present means applied; otherwise the 422 stands."""
        try:
            return self._tags("POST", location_id, contact_id, tags)
        except errors.GHLUnprocessable:
            present: list[str] = self.get_contact_record(location_id, contact_id).get("tags") or []
            if {tag.casefold() for tag in tags} <= {tag.casefold() for tag in present}:
                return list(present)
            raise

    def remove_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        """DELETE /contacts/{contactId}/tags with a JSON body."""
        return self._tags("DELETE", location_id, contact_id, tags)

    def _tags(self, method: str, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        if isinstance(tags, str) or not tags:
            raise ValueError("tags must be a non-empty list of strings")
        return self._call(
            wire.tags_answer,
            method,
            "/contacts/{contactId}/tags",
            location_id,
            path_params={"contactId": contact_id},
            json_body={"tags": list(tags)},
        )
