"""A late or replayed async push never overwrites the lead's newer state, and never loses a child.

An async delivery (Lambda's retries, `dlq.replay` of its failure record) may reach lead push after
the lead changed in Rankr and the sync carried that change to GHL. Its payload is checked against the
lead as Rankr holds it now: one that is not current is `superseded` (the contact's fields stay, the
mapping's applied payload stays), and only what the lead's first push still owes is written, once.
A waiting (sync) push is not checked: it is what Rankr held when it was sent.
"""

from __future__ import annotations

from typing import Any

import pytest
from fakes.connections import FakeConnectionLookup
from fakes.rankr import FakeRankrRecords
from lead_push_world import LOCATION, FakeLocations, InMemoryIdempotencyStore, World, make_world
from rankr_ghl.flows.lead_push import (
    LeadPushRequestError,
    LeadPushService,
    PushSettings,
    RankrLeadSource,
    SyncLeadMapper,
    powertools_idempotency,
)
from rankr_ghl.rankr.errors import RankrServerError
from rankr_ghl.sync.ports import AuditAction, AuditOutcome
from rankr_ghl.sync.types import Entity

ACCOUNT = "acct-1"
CHILDREN = {"tags": ["Hot"], "note": {"body": "Met at the fair"}, "task": {"title": "Call back"}}


class Replays:
    """The unit world's flow with the Rankr side: the lead's Rankr contact, read by `RankrLeadSource`."""

    def __init__(self, world: World, store: InMemoryIdempotencyStore) -> None:
        self.world = world
        self.rankr = FakeRankrRecords()
        idem = powertools_idempotency(store)
        connections = FakeConnectionLookup()
        connections.add(LOCATION, account=ACCOUNT)
        self.service = LeadPushService(
            ghl=world.ghl,
            records=world.records.adapter,
            mapper=SyncLeadMapper(world.resolver),
            locations=FakeLocations(),
            idempotent=idem.runner,
            source=RankrLeadSource(self.rankr, connections),
            in_progress_errors=idem.in_progress_errors,
            settings=PushSettings(workers=1, in_progress_wait_s=5.0),
            sleep=world.timer.sleep,
            monotonic=world.timer.monotonic,
        )

    def edit_in_rankr(self, lead_id: str = "L1", **fields: Any) -> None:
        """Rankr holds the lead's fields (a Rankr edit, or the lead as it was sent)."""
        record = self.rankr.get(ACCOUNT, Entity.CONTACT, lead_id, None) or {"id": lead_id, "source": "Rankr"}
        self.rankr.seed(Entity.CONTACT, {**record, **fields})

    def push(self, event: dict[str, Any], *, asynchronous: bool) -> dict[str, Any]:
        [result] = self.service.push(event, asynchronous=asynchronous).results
        return result

    def contact(self) -> dict[str, Any]:
        [contact] = self.world.ghl.contacts()
        return contact


def lead(**fields: Any) -> dict[str, Any]:
    return {"leadId": "L1", "locationId": LOCATION, "firstName": "Ada", "email": "l1@example.com"} | fields


@pytest.fixture
def replays(idempotency_store: InMemoryIdempotencyStore) -> Replays:
    return Replays(make_world(idempotency_store, atomic=True), idempotency_store)


def sync_edit_carried_to_ghl(replays: Replays, **fields: Any) -> None:
    """A Rankr edit, and the sync (reconcile) carrying it to the GHL contact."""
    replays.edit_in_rankr(**fields)
    contact = replays.contact()
    replays.world.ghl.update_contact(LOCATION, contact["id"], fields)


def test_a_replayed_push_older_than_the_lead_in_rankr_keeps_the_newer_state(replays: Replays) -> None:
    replays.edit_in_rankr(firstName="Ada", email="l1@example.com", lastName="Lovelace")
    first = replays.push(lead(lastName="Lovelace"), asynchronous=True)
    assert first["outcome"] == "created"
    sync_edit_carried_to_ghl(replays, lastName="Byron")
    updates = replays.world.ghl.count("update")

    replayed = replays.push(lead(lastName="Lovelace", company="Analytical"), asynchronous=True)

    assert replayed == {"leadId": "L1", "ghlContactId": first["ghlContactId"], "outcome": "superseded"}
    assert replays.contact()["lastName"] == "Byron"
    assert replays.world.ghl.count("update") == updates  # nothing written over it
    [audit] = [a for a in replays.world.records.audits if a.action is AuditAction.SKIP]
    assert audit.outcome is AuditOutcome.SKIPPED and set(audit.fields) == {"company", "last_name"}


def test_a_newer_push_then_a_late_older_one_keeps_the_newer_push(replays: Replays) -> None:
    replays.edit_in_rankr(firstName="Ada", email="l1@example.com")
    assert replays.push(lead(), asynchronous=False)["outcome"] == "created"
    replays.edit_in_rankr(firstName="Augusta")
    assert replays.push(lead(firstName="Augusta"), asynchronous=False)["outcome"] == "updated"

    late = replays.push(lead(), asynchronous=True)  # Ada's async delivery, retried by Lambda

    assert late["outcome"] == "superseded"
    assert replays.contact()["firstName"] == "Augusta"
    # The lead returning to Ada in Rankr is current again: applied, not refused as "older".
    replays.edit_in_rankr(firstName="Ada")
    assert replays.push(lead(), asynchronous=True)["outcome"] == "updated"
    assert replays.contact()["firstName"] == "Ada"


def test_a_replay_of_a_push_that_never_applied_is_applied(replays: Replays) -> None:
    replays.edit_in_rankr(firstName="Ada", email="l1@example.com", tags=["Hot"])
    replays.world.ghl.faults += [("upsert", "500")] + [("create", "500")] * 10  # every attempt fails
    first = replays.push(lead(**CHILDREN), asynchronous=True)
    assert first["outcome"] == "failed" and not replays.world.ghl.contacts()
    replays.world.ghl.faults.clear()

    replayed = replays.push(lead(**CHILDREN), asynchronous=True)

    assert replayed["outcome"] == "created"
    contact = replays.contact()
    assert contact["firstName"] == "Ada" and contact["tags"] == ["hot"]
    assert contact["notes"] == ["Met at the fair"] and [t for t, _ in contact["tasks"]] == ["Call back"]


@pytest.mark.parametrize("failing", ["add_tags", "create_note", "create_task"])
def test_a_superseded_replay_still_writes_the_children_its_lead_owes_once(
    replays: Replays, failing: str
) -> None:
    replays.edit_in_rankr(firstName="Ada", email="l1@example.com", lastName="Lovelace", tags=["Hot"])
    replays.world.ghl.faults.append((failing, "500"))
    assert replays.push(lead(lastName="Lovelace", **CHILDREN), asynchronous=True)["outcome"] == "failed"
    sync_edit_carried_to_ghl(replays, lastName="Byron")

    replayed = replays.push(lead(lastName="Lovelace", **CHILDREN), asynchronous=True)

    assert replayed["outcome"] == "superseded"
    contact = replays.contact()
    assert contact["lastName"] == "Byron"
    assert contact["tags"] == ["hot"]
    assert contact["notes"] == ["Met at the fair"] and [t for t, _ in contact["tasks"]] == ["Call back"]
    # Complete now: a second replay writes no child again.
    calls = len(replays.world.ghl.calls)
    assert replays.push(lead(lastName="Lovelace", **CHILDREN), asynchronous=True)["outcome"] == "superseded"
    assert replays.world.ghl.calls[calls:] == []
    assert len(replays.world.ghl.notes) == 1 and len(replays.world.ghl.tasks) == 1


def test_a_superseded_replay_restores_lost_tags_as_rankr_holds_them_never_a_dropped_one(
    replays: Replays,
) -> None:
    replays.edit_in_rankr(firstName="Ada", email="l1@example.com", tags=["Hot", "Fair"])
    replays.world.ghl.faults.append(("add_tags", "500"))
    assert replays.push(lead(tags=["Hot", "Fair"]), asynchronous=True)["outcome"] == "failed"
    assert replays.contact()["tags"] == []  # the contact lost its tag write
    replays.edit_in_rankr(tags=["Hot"])  # "Fair" dropped in Rankr since

    assert replays.push(lead(tags=["Hot", "Fair"]), asynchronous=True)["outcome"] == "superseded"
    assert replays.contact()["tags"] == ["hot"]


def test_a_late_push_of_a_lead_deleted_in_rankr_writes_nothing(replays: Replays) -> None:
    replays.edit_in_rankr(firstName="Ada", email="l1@example.com")
    assert replays.push(lead(), asynchronous=True)["outcome"] == "created"
    replays.edit_in_rankr(deletedAt="2026-01-01T00:00:00Z")
    calls = len(replays.world.ghl.calls)

    assert replays.push(lead(firstName="Augusta"), asynchronous=True)["outcome"] == "superseded"
    assert replays.world.ghl.calls[calls:] == []


def test_a_waiting_push_is_not_checked_against_rankr(replays: Replays) -> None:
    replays.edit_in_rankr(firstName="Ada", email="l1@example.com")
    assert replays.push(lead(), asynchronous=False)["outcome"] == "created"
    reads = replays.rankr.get

    def unreadable(*args: Any) -> None:
        raise AssertionError("a sync push read Rankr")

    replays.rankr.get = unreadable  # type: ignore[method-assign]
    try:
        assert replays.push(lead(firstName="Augusta"), asynchronous=False)["outcome"] == "updated"
    finally:
        replays.rankr.get = reads  # type: ignore[method-assign]
    assert replays.contact()["firstName"] == "Augusta"


def test_rankr_unreadable_fails_the_async_push_retryably_and_writes_nothing(replays: Replays) -> None:
    replays.edit_in_rankr(firstName="Ada", email="l1@example.com")
    assert replays.push(lead(), asynchronous=True)["outcome"] == "created"

    def down(*args: Any) -> None:
        raise RankrServerError(503, "Service Unavailable", "down")

    replays.rankr.get = down  # type: ignore[method-assign]
    updates = replays.world.ghl.count("update")
    failed = replays.push(lead(firstName="Augusta"), asynchronous=True)
    assert failed["outcome"] == "failed"
    assert failed["error"]["code"] == "rankr_unavailable" and failed["error"]["retryable"] is True
    assert replays.world.ghl.count("update") == updates


def test_a_lead_naming_only_its_location_is_read_from_the_locations_account(replays: Replays) -> None:
    replays.edit_in_rankr(firstName="Ada", email="l1@example.com")
    assert replays.push(lead(), asynchronous=True)["outcome"] == "created"
    sync_edit_carried_to_ghl(replays, firstName="Augusta")
    assert "rankrAccountId" not in lead()
    assert replays.push(lead(company="Analytical"), asynchronous=True)["outcome"] == "superseded"
    assert replays.contact()["firstName"] == "Augusta"


def test_a_duplicate_delivery_of_the_applied_payload_replays_its_answer_and_writes_nothing(
    replays: Replays,
) -> None:
    replays.edit_in_rankr(firstName="Ada", email="l1@example.com")
    first = replays.push(lead(), asynchronous=True)
    sync_edit_carried_to_ghl(replays, firstName="Augusta")
    calls = len(replays.world.ghl.calls)
    assert replays.push(lead(), asynchronous=True) == first  # the idempotency store's answer
    assert replays.world.ghl.calls[calls:] == []
    assert replays.contact()["firstName"] == "Augusta"


def test_a_redelivered_request_through_the_waiting_alias_is_checked_too(replays: Replays) -> None:
    replays.edit_in_rankr(firstName="Ada", email="l1@example.com")
    assert replays.push(lead(), asynchronous=False)["outcome"] == "created"
    sync_edit_carried_to_ghl(replays, lastName="Byron")

    replayed = replays.push(lead(lastName="Lovelace") | {"redelivery": True}, asynchronous=False)

    assert replayed["outcome"] == "superseded"
    assert replays.contact()["lastName"] == "Byron"
    batch = {"leads": [lead(lastName="Lovelace")], "redelivery": True}
    [again] = replays.service.push(batch).results
    assert again["outcome"] == "superseded"


def test_redelivery_must_be_a_boolean(replays: Replays) -> None:
    with pytest.raises(LeadPushRequestError, match="redelivery"):
        replays.service.push(lead() | {"redelivery": "yes"})


def test_only_the_fields_a_payload_carries_are_compared(replays: Replays) -> None:
    """A field the payload omits, or fills from a default (`source`), never makes it stale."""
    replays.edit_in_rankr(firstName="Ada", email="l1@example.com", company="Analytical", source=None)
    assert replays.push(lead(), asynchronous=True)["outcome"] == "created"

    result = replays.push(lead(lastName="Lovelace"), asynchronous=True)

    assert result["outcome"] == "superseded"  # Rankr holds no lastName Lovelace
    replays.edit_in_rankr(lastName="Lovelace")
    assert replays.push(lead(lastName="Lovelace"), asynchronous=True)["outcome"] == "updated"
    assert replays.contact()["lastName"] == "Lovelace"
