"""The lead-push flow against in-memory GHL/stores and real Powertools Idempotency (moto, in-process)."""

from __future__ import annotations

import threading
import time
import zlib
from typing import Any

import pytest
from lead_push_world import LOCATION, FakeLocations, InMemoryIdempotencyStore, World
from rankr_ghl.flows.lead_push import (
    MAX_BATCH,
    LeadPushRequestError,
    LeadPushService,
    PushSettings,
    SyncLeadMapper,
    lead_tag,
)
from rankr_ghl.sync.echo import is_echo
from rankr_ghl.sync.types import Entity, Side


def phone_of(lead_id: str) -> str:
    return f"+1 415 555 {zlib.crc32(lead_id.encode()) % 10000:04d}"


def lead(lead_id: str = "L1", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "leadId": lead_id,
        "locationId": LOCATION,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": f"{lead_id.lower()}@example.com",
        "phone": phone_of(lead_id),
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def only(world: World, event: Any, **kw: Any) -> dict[str, Any]:
    result = world.service.push(event, **kw)
    assert len(result.results) == 1
    return result.results[0]


def test_new_lead_is_created_with_tags_in_two_calls(world: World) -> None:
    r = only(world, lead(tags=["Hot", "webinar"], customFields={"budget": 5000}))
    assert r["outcome"] == "created"
    [contact] = world.ghl.contacts()
    assert r["ghlContactId"] == contact["id"]
    assert contact["tags"] == ["hot", "webinar"]
    assert contact["customFields"] == [{"id": "cf_budget", "field_value": 5000}]
    assert contact["source"] == "Rankr"
    assert [op for op, _ in world.ghl.calls] == ["upsert", "add_tags"]
    upsert_body = world.ghl.bodies[0][1]
    assert "tags" not in upsert_body  # an upsert's tag list would replace a matched contact's tags
    assert world.records.contact_of("L1") == contact["id"]
    assert world.records.matched_by("L1") == "created"
    audit = world.records.audits[-1]
    assert (audit.action, audit.outcome, audit.ghl_id, audit.rankr_id) == (
        "create",
        "success",
        contact["id"],
        "L1",
    )
    assert "email" in audit.fields and audit.flow == "lead_push"
    # The ContactCreate webhook coming back (GHL's current state) is recognised as our echo.
    mapping = world.resolver.for_location(LOCATION).contact
    ghl_state = {k: v for k, v in contact.items() if k != "dateAdded"}
    ledger = world.records.ledger.get(LOCATION, Entity.CONTACT, Side.GHL, contact["id"])
    assert is_echo(mapping.from_ghl(ghl_state), ledger, mapping, Side.GHL)
    assert not is_echo(mapping.from_ghl({**ghl_state, "firstName": "Edited"}), ledger, mapping, Side.GHL)


def test_untagged_new_lead_costs_one_call(world: World) -> None:
    assert only(world, lead())["outcome"] == "created"
    assert [op for op, _ in world.ghl.calls] == ["upsert"]


def test_same_payload_replays_without_calling_ghl(world: World) -> None:
    first = only(world, lead(tags=["a"]))
    calls = len(world.ghl.calls)
    second = only(world, lead(tags=["a"]))
    assert second == first
    assert len(world.ghl.calls) == calls
    assert len(world.ghl.contacts()) == 1


def test_changed_payload_updates_the_mapped_contact(world: World) -> None:
    created = only(world, lead(tags=["a"]))
    world.ghl.calls.clear()
    updated = only(world, lead(firstName="Augusta", tags=["b"]))
    assert updated == {"leadId": "L1", "ghlContactId": created["ghlContactId"], "outcome": "updated"}
    [contact] = world.ghl.contacts()
    assert contact["firstName"] == "Augusta"
    assert contact["tags"] == ["a", "b"]
    assert [op for op, _ in world.ghl.calls] == ["update", "add_tags"]


def test_link_by_email_keeps_existing_tags(world: World) -> None:
    cid = world.ghl.seed(email="l1@example.com", tags=["vip", "customer"])
    r = only(world, lead(phone=None, tags=["hot"]))
    assert r == {"leadId": "L1", "ghlContactId": cid, "outcome": "linked_existing"}
    assert world.ghl.contacts()[0]["tags"] == ["vip", "customer", "hot"]
    assert world.records.matched_by("L1") == "email"


def test_link_by_phone(world: World) -> None:
    cid = world.ghl.seed(phone=phone_of("L1"), tags=["old"])
    r = only(world, lead(email=None))
    assert r["outcome"] == "linked_existing" and r["ghlContactId"] == cid
    assert world.records.matched_by("L1") == "phone"
    assert world.ghl.contacts()[0]["tags"] == ["old"]


def test_duplicate_400_links_to_meta_contact_and_updates(world: World) -> None:
    cid = world.ghl.seed(email="l1@example.com", firstName="Old")
    # The upsert fails without effect, the lookup lags behind, so the retry is a create: GHL's 400
    # duplicate (meta.contactId) is what links the lead.
    world.ghl.faults.append(("upsert", "500"))
    world.ghl.lookup_lag = 1
    r = only(world, lead())
    assert r == {"leadId": "L1", "ghlContactId": cid, "outcome": "linked_existing"}
    assert [op for op, _ in world.ghl.calls] == ["upsert", "find_duplicate", "create", "update"]
    assert len(world.ghl.contacts()) == 1
    assert world.ghl.contacts()[0]["firstName"] == "Ada"
    assert world.records.matched_by("L1") == "duplicate:email"


@pytest.mark.parametrize("fault", ["422created", "timeout_created"])
def test_ambiguous_failure_that_created_is_reresolved_not_recreated(world: World, fault: str) -> None:
    world.ghl.faults.append(("upsert", fault))
    r = only(world, lead(tags=["t"]))
    assert r["outcome"] == "created"
    [contact] = world.ghl.contacts()
    assert r["ghlContactId"] == contact["id"]
    ops = [op for op, _ in world.ghl.calls]
    assert ops == ["upsert", "find_duplicate", "add_tags"]
    assert contact["tags"] == ["t"]


def test_ambiguous_failure_that_did_not_apply_retries_after_lookup(world: World) -> None:
    world.ghl.faults.append(("upsert", "500"))
    r = only(world, lead())
    assert r["outcome"] == "created"
    assert [op for op, _ in world.ghl.calls] == ["upsert", "find_duplicate", "create"]
    assert len(world.ghl.contacts()) == 1


def test_persistent_failure_is_retryable_and_not_cached(world: World) -> None:
    world.ghl.faults.extend([("upsert", "500"), ("create", "500"), ("create", "500")])
    r = only(world, lead())
    assert r["outcome"] == "failed"
    assert r["error"]["code"] == "ghl_unavailable" and r["error"]["retryable"] is True
    assert world.ghl.contacts() == []
    again = only(world, lead())  # the failure was not stored by Powertools: it runs again
    assert again["outcome"] == "created"


def test_lead_without_email_or_phone_is_created_with_lead_tag_in_one_body(world: World) -> None:
    r = only(world, lead(email=None, phone=None, tags=["Walk-in"]))
    assert r["outcome"] == "created"
    [contact] = world.ghl.contacts()
    assert contact["tags"] == ["walk-in", lead_tag("L1").lower()]
    assert [op for op, _ in world.ghl.calls] == ["find_by_tag", "create"]


def test_lead_without_email_or_phone_found_by_tag_after_ambiguous_failure(world: World) -> None:
    world.ghl.faults.append(("create", "422created"))
    r = only(world, lead(email=None, phone=None, tags=["kept"]))
    assert r["outcome"] == "created"
    [contact] = world.ghl.contacts()
    assert contact["tags"] == ["kept", lead_tag("L1").lower()]
    assert [op for op, _ in world.ghl.calls][:3] == ["find_by_tag", "create", "find_by_tag"]
    assert world.records.matched_by("L1") == "lead_tag"


def test_rerun_after_lost_mapping_write_finds_the_contact_by_tag(world: World) -> None:
    world.records.mappings.fail_next_put = True  # GHL created it, then the mapping write failed
    first = only(world, lead(email=None, phone=None))
    assert first["outcome"] == "failed" and first["error"]["retryable"] is True
    second = only(world, lead(email=None, phone=None))
    assert second["outcome"] == "created"
    assert len(world.ghl.contacts()) == 1


def test_rerun_after_lost_mapping_write_with_email_matches(world: World) -> None:
    world.records.mappings.fail_next_put = True
    assert only(world, lead())["outcome"] == "failed"
    second = only(world, lead())
    assert second["outcome"] == "linked_existing"
    assert len(world.ghl.contacts()) == 1


def test_first_note_and_task_only_on_create(world: World) -> None:
    only(world, lead(note={"body": "Met at the fair"}, task={"title": "Call back"}))
    contact = world.ghl.contacts()[0]
    assert contact["notes"] == ["Met at the fair"]
    assert contact["tasks"][0][0] == "Call back"
    only(world, lead(firstName="X", note={"body": "Met at the fair"}, task={"title": "Call back"}))
    assert contact["notes"] == ["Met at the fair"]


def test_mapped_contact_deleted_in_ghl_is_not_recreated(world: World) -> None:
    r = only(world, lead())
    del world.ghl.locations[LOCATION].contacts[r["ghlContactId"]]
    again = only(world, lead(firstName="Changed"))
    assert again["outcome"] == "failed"
    assert again["error"] == {
        "code": "contact_deleted_in_ghl",
        "message": again["error"]["message"],
        "retryable": False,
    }
    assert world.ghl.contacts() == []


def test_contact_already_linked_to_another_lead_is_a_clear_error(world: World) -> None:
    assert only(world, lead("L1"))["outcome"] == "created"
    r = only(world, lead("L2", email="l1@example.com"))  # same e-mail as L1's contact
    assert r["outcome"] == "failed" and r["error"]["code"] == "contact_linked_elsewhere"
    assert len(world.ghl.contacts()) == 1


def test_account_id_resolves_location_and_foreign_location_is_refused(world: World) -> None:
    ok = only(world, lead(locationId=None, rankrAccountId="acct-1"))
    assert ok["outcome"] == "created"
    bad = only(world, lead("L2", locationId="loc2", rankrAccountId="acct-1"))
    assert bad["outcome"] == "failed" and bad["error"]["code"] == "location_not_connected"
    unknown = only(world, lead("L3", locationId=None, rankrAccountId="acct-404"))
    assert unknown["error"]["code"] == "unknown_account"


def test_batch_of_100_with_10_invalid(world: World) -> None:
    leads: list[Any] = [lead(f"B{i}", phone=f"+1 415 555 {i:04d}", tags=["batch"]) for i in range(90)]
    leads += [
        lead("BAD0", email="not-an-email"),
        lead("BAD1", phone="12"),
        {"firstName": "no id", "locationId": LOCATION},
        lead("BAD3", locationId=None),
        lead("BAD4", tags=["x" * 101]),
        lead("BAD5", surprise=True),
        lead("BAD6", customFields={"budget": {"nested": 1}}),
        "not an object",
        lead("BAD8", tags=[lead_tag("other")]),
        lead("BAD9", task={"body": "no title"}),
    ]
    result = world.service.push({"leads": leads})
    assert len(result.results) == 100
    ok = [r for r in result.results if r["outcome"] == "created"]
    bad = [r for r in result.results if r["outcome"] == "failed"]
    assert len(ok) == 90 and len(bad) == 10
    assert all(r["error"]["code"] == "invalid_lead" and r["error"]["retryable"] is False for r in bad)
    messages = [r["error"]["message"] for r in bad]
    assert "email" in messages[0] and "not-an-email" not in messages[0]  # names the field, never the value
    assert "phone" in messages[1]
    assert "leadId" in messages[2]
    assert "locationId or rankrAccountId" in messages[3]
    assert "tags.0" in messages[4]
    assert "surprise" in messages[5]
    assert "customFields.budget" in messages[6]
    assert "must be an object" in messages[7]
    assert "reserved" in messages[8]
    assert "task.title" in messages[9]
    assert len(world.ghl.contacts()) == 90
    assert {a.rankr_id for a in world.records.audits} == {f"B{i}" for i in range(90)}
    assert result.counts["created"] == 90 and result.counts["failed"] == 10


def test_oversized_batch_is_a_whole_request_error(world: World) -> None:
    with pytest.raises(LeadPushRequestError, match="at most 100"):
        world.service.push({"leads": [lead(f"X{i}") for i in range(MAX_BATCH + 1)]})
    assert world.ghl.calls == []


@pytest.mark.parametrize(
    "event",
    [
        [],
        "lead",
        {"leads": "x"},
        {"leads": []},
        {"leads": [], "extra": 1},
        {"invocationType": "Later", "leadId": "a"},
    ],
)
def test_malformed_requests(world: World, event: Any) -> None:
    with pytest.raises(LeadPushRequestError):
        world.service.push(event)


def test_request_level_location_applies_to_leads(world: World) -> None:
    result = world.service.push({"locationId": LOCATION, "leads": [lead("R1", locationId=None)]})
    assert result.results[0]["outcome"] == "created"


def test_out_of_time_leads_come_back_retryable(world: World) -> None:
    remaining = iter([60_000, 60_000] + [1_000] * 200)
    result = world.service.push(
        {"leads": [lead(f"T{i}") for i in range(5)]}, remaining_ms=lambda: next(remaining)
    )
    outcomes = [r["outcome"] for r in result.results]
    assert outcomes.count("failed") >= 3
    for r in result.results:
        if r["outcome"] == "failed":
            assert r["error"] == {
                "code": "not_processed",
                "message": r["error"]["message"],
                "retryable": True,
            }
    assert len(world.ghl.contacts()) == 5 - outcomes.count("failed")


def test_same_lead_ten_times_concurrently_gives_one_contact(
    world: World, idempotency_store: InMemoryIdempotencyStore
) -> None:
    from rankr_ghl.flows.lead_push import powertools_idempotency

    idem = powertools_idempotency(idempotency_store)  # one table shared by ten containers
    slow_upsert = world.ghl.upsert_contact

    def upsert(*a: Any, **kw: Any) -> Any:
        time.sleep(0.05)  # widen the race window
        return slow_upsert(*a, **kw)

    world.ghl.upsert_contact = upsert  # type: ignore[method-assign]
    services = [
        LeadPushService(
            ghl=world.ghl,
            records=world.records.adapter,
            mapper=SyncLeadMapper(world.resolver),
            locations=FakeLocations(),
            idempotent=idem.runner,
            in_progress_errors=idem.in_progress_errors,
            settings=PushSettings(workers=1, in_progress_wait_s=10.0),
        )
        for _ in range(10)
    ]
    barrier = threading.Barrier(10)
    results: list[dict[str, Any]] = []

    def run(svc: LeadPushService) -> None:
        barrier.wait()
        results.extend(svc.push(lead(tags=["x"])).results)

    threads = [threading.Thread(target=run, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(world.ghl.contacts()) == 1
    assert world.ghl.count("upsert") == 1
    contact_id = world.ghl.contacts()[0]["id"]
    assert {(r["outcome"], r.get("ghlContactId")) for r in results} == {("created", contact_id)}
