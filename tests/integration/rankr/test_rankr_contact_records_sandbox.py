"""The records adapter's contact path (`*_contact_record`, checked by `contact_wire` without pydantic)
against the Rankr sandbox over real HTTP: every answer is what the typed client reads, dumped; idempotent
creates, PATCH clears, soft deletes and paging behave as through the typed calls."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from rankr_ghl.rankr import ContactCreate, RankrClient, RankrResourceDeleted, RankrValidationError
from rankr_ghl.rankr.records import RankrClientRecords
from rankr_ghl.sync.types import Entity
from rankr_ghl_tools.rankr_sandbox import RankrSandbox

pytestmark = pytest.mark.integration

ACC = "acc_records"


def typed(client: RankrClient, contact_id: str) -> dict[str, Any]:
    return client.get_contact(ACC, contact_id).model_dump(mode="json", by_alias=True)


def test_contacts_round_trip_through_the_adapter_as_the_typed_client_reads_them(
    client: RankrClient, sandbox: RankrSandbox
) -> None:
    records = RankrClientRecords(lambda: client)
    body = {
        "firstName": "Émile",
        "lastName": "Zola",
        "email": "emile@example.com",
        "phone": "+33 1 23 45 67 89",
        "company": None,
        "tags": ["author", "vip"],
        "customFields": {"score": 7, "rate": 2.5, "opt_in": True, "langs": ["fr", "en"], "gone": None},
    }
    created = records.create(ACC, Entity.CONTACT, body, None, "rec-1")
    assert created == typed(client, created["id"])
    assert created["company"] is None and created["customFields"]["rate"] == 2.5
    assert records.create(ACC, Entity.CONTACT, body, None, "rec-1") == created  # idempotent replay

    updated = records.update(
        ACC, Entity.CONTACT, created["id"], {"phone": None, "customFields": {"score": None}}, None
    )
    assert updated == typed(client, created["id"])
    assert updated["phone"] is None and "score" not in updated["customFields"]
    assert updated["customFields"]["langs"] == ["fr", "en"] and updated["updatedAt"] > created["updatedAt"]
    assert records.get(ACC, Entity.CONTACT, created["id"], None) == updated

    records.delete(ACC, Entity.CONTACT, created["id"], None)
    deleted = records.get(ACC, Entity.CONTACT, created["id"], None)
    assert deleted == typed(client, created["id"]) and deleted is not None and deleted["deletedAt"]
    with pytest.raises(RankrResourceDeleted):
        records.update(ACC, Entity.CONTACT, created["id"], {"firstName": "Late"}, None)
    assert records.get(ACC, Entity.CONTACT, "con_missing", None) is None
    (stored,) = sandbox.admin.state(ACC)["contacts"]
    assert {key: stored[key] for key in deleted} == deleted


def test_pages_through_the_adapter_equal_the_typed_pages(client: RankrClient) -> None:
    records = RankrClientRecords(lambda: client)
    start = datetime.now(UTC)
    ids = [
        client.create_contact(
            ACC, ContactCreate(first_name=f"P{i}", tags=[str(i)]), idempotency_key=f"p{i}"
        ).id
        for i in range(7)
    ]
    client.delete_contact(ACC, ids[3])
    for include_deleted in (False, True):
        cursor: str | None = None
        seen: list[dict[str, Any]] = []
        while True:
            page = records.list_contacts(
                ACC, updated_since=start, include_deleted=include_deleted, cursor=cursor, limit=3
            )
            typed_page = client.list_contacts(
                ACC, updated_since=start, include_deleted=include_deleted, cursor=cursor, limit=3
            )
            assert page.records == [c.model_dump(mode="json", by_alias=True) for c in typed_page.items]
            assert page.next_cursor == typed_page.next_cursor
            seen.extend(page.records)
            cursor = page.next_cursor
            if not cursor:
                break
        expected = set(ids) if include_deleted else set(ids) - {ids[3]}
        assert {record["id"] for record in seen} == expected


def test_bad_bodies_are_refused_locally_or_by_rankr_and_nothing_is_written(
    client: RankrClient, sandbox: RankrSandbox
) -> None:
    records = RankrClientRecords(lambda: client)
    with pytest.raises(ValueError, match="favouriteColour"):
        records.create(ACC, Entity.CONTACT, {"firstName": "A", "favouriteColour": "red"}, None, "bad-1")
    with pytest.raises(RankrValidationError) as info:
        records.create(ACC, Entity.CONTACT, {"email": "not-an-email", "tags": [""]}, None, "bad-2")
    assert {e["field"] for e in info.value.errors} == {"email", "tags"}
    assert sandbox.admin.state(ACC)["contacts"] == []
    assert sandbox.admin.stats()["requests"] == {"POST /v1/accounts/{accountId}/contacts": 1}
