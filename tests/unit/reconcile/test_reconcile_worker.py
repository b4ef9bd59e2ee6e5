"""Reconcile worker on in-memory GHL/Rankr and the sync-store fakes: drift both ways converges in one
full run, a second run finds and writes nothing, dry runs write nothing, crashes resume from the cursor."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fakes.reconcile_world import ACCOUNT, LOCATION, World
from rankr_ghl.flows.reconcile.jobs import (
    STATE_CHECKPOINT,
    Mode,
    ReconcileError,
    ReconcileJob,
    cursor_checkpoint,
)
from rankr_ghl.sync.types import Entity, Side


def seed_drift(world: World) -> dict[str, Any]:
    """12 mirrored pairs, then one of every kind of drift. Returns ids and the expected counts."""
    pairs = [world.mirrored_pair(n) for n in range(12)]
    task_g, task_r = world.mirrored_task(pairs[0][0], pairs[0][1], "Call back")
    world.mirrored_task(pairs[1][0], pairs[1][1], "Send quote")
    # changes on each side
    world.ghl.edit_contact(pairs[2][0], firstName="Ghlchanged")
    world.rankr.edit_contact(pairs[3][1], lastName="Rankrchanged")
    # deletions on each side (GHL: no event; Rankr: soft delete)
    del world.ghl.contacts_by_id()[pairs[4][0]]
    world.rankr.delete(ACCOUNT, Entity.CONTACT, pairs[5][1], None)
    world.rankr.calls.clear()
    # new records on each side
    new_g = world.ghl.seed_contact(firstName="Newghl", email="newghl@example.com")
    new_r = world.rankr.seed_contact(firstName="Newrankr", email="newrankr@example.com")
    # the same person on both sides, never linked
    twin_g = world.ghl.seed_contact(firstName="Twin", lastName="Person", email="twin@example.com")
    twin_r = world.rankr.seed_contact(firstName="Twin", lastName="Persona", email="twin@example.com")
    # a task edited in GHL (no TaskUpdate webhook exists) and a new GHL task
    world.ghl.tasks[task_g]["title"] = "Call back tomorrow"
    world.ghl.seed_task(pairs[6][0], title="Brand new task", dueDate="2025-05-01T00:00:00.000Z")
    expected = Counter(
        {
            "contact.drifted": 2,
            "contact.deleted_in_ghl": 1,
            "contact.deleted_in_rankr": 1,
            "contact.missing_in_rankr": 1,
            "contact.missing_in_ghl": 1,
            "contact.unmapped_match": 1,
            "task.drifted": 1,
            "task.missing_in_rankr": 1,
        }
    )
    return {
        "pairs": pairs,
        "task": (task_g, task_r),
        "new": (new_g["id"], new_r["id"]),
        "twin": (twin_g["id"], twin_r["id"]),
        "expected": expected,
    }


def full(world: World, **kw: Any) -> Any:
    return world.reconciler.run(ReconcileJob(LOCATION, Mode.FULL, **kw), account_id=ACCOUNT)


def test_full_run_repairs_drift_in_both_directions_and_second_run_is_silent() -> None:
    world = World()
    seeded = seed_drift(world)
    assert len(world.remaining_differences()) >= 8

    outcome = full(world)

    assert outcome.report.complete and outcome.continuation is None
    assert Counter(outcome.report.differences) == seeded["expected"]
    assert world.remaining_differences() == []
    pairs = seeded["pairs"]
    assert world.rankr.contacts[pairs[2][1]]["firstName"] == "Ghlchanged"
    assert world.ghl.contacts_by_id()[pairs[3][0]]["lastName"] == "Rankrchanged"
    assert world.rankr.contacts[pairs[4][1]].get("deletedAt")  # GHL delete propagated (soft)
    assert "rankr:deleted" in world.ghl.contacts_by_id()[pairs[5][0]]["tags"]  # Rankr delete tags GHL
    assert world.tombstones.is_tombstoned(LOCATION, Side.GHL, Entity.CONTACT, pairs[4][0])
    assert world.rankr.tasks[seeded["task"][1]]["title"] == "Call back tomorrow"
    twin = world.mappings.get_by_ghl(LOCATION, Entity.CONTACT, seeded["twin"][0])
    assert twin is not None and twin.rankr_id == seeded["twin"][1]
    # every repair is audited, field names only
    audited = [e for e in world.audit.query_location(LOCATION, limit=1000) if e.flow == "reconcile"]
    assert len(audited) >= sum(seeded["expected"].values())
    assert all(e.correlation_id == outcome.report.run_id for e in audited)

    ghl_writes, rankr_writes, audits = (
        world.ghl.writes,
        world.rankr.write_calls,
        len(world.audit.query_location(LOCATION, limit=1000)),
    )
    second = full(world)
    assert second.report.total_differences == 0, second.report.to_dict()
    assert (world.ghl.writes, world.rankr.write_calls) == (ghl_writes, rankr_writes)
    assert len(world.audit.query_location(LOCATION, limit=1000)) == audits


def test_full_run_reads_each_ghl_contact_page_once_and_no_single_contacts() -> None:
    world = World(page_size=5)
    for n in range(23):
        world.mirrored_pair(n)
    world.ghl.calls.clear()
    full(world)
    assert world.ghl.count("search") == 5  # ceil(23 / 5)
    assert world.ghl.count("get_contact") == 0
    assert world.rankr.count("get", Entity.CONTACT) == 0  # equal digests: no per-contact read


def test_dry_run_reports_exactly_the_seeded_differences_and_writes_nothing() -> None:
    world = World()
    seeded = seed_drift(world)
    before = (
        len(world.mappings),
        len(world.ledger._items) if hasattr(world.ledger, "_items") else None,
        len(world.audit.query_location(LOCATION, limit=1000)),
    )
    outcome = full(world, dry_run=True)
    assert Counter(outcome.report.differences) == seeded["expected"]
    assert world.ghl.writes == 0 and world.rankr.write_calls == 0
    after = (
        len(world.mappings),
        len(world.ledger._items) if hasattr(world.ledger, "_items") else None,
        len(world.audit.query_location(LOCATION, limit=1000)),
    )
    assert after == before
    assert world.checkpoints.load(LOCATION, STATE_CHECKPOINT) is None
    assert world.checkpoints.load(LOCATION, cursor_checkpoint(Mode.FULL)) is None
    drifted = [s for s in outcome.report.samples if s["kind"] == "drifted" and s["entity"] == "contact"]
    assert sorted(f for s in drifted for f in s["fields"]) == ["first_name", "last_name"]
    assert len(world.remaining_differences()) >= 8  # nothing was repaired


class CrashingRankr:
    """Delegates to the fake Rankr, raising once on the n-th write (a worker dying midway)."""

    def __init__(self, inner: Any, crash_on_write: int) -> None:
        self.inner = inner
        self.crash_on_write = crash_on_write
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name not in ("create", "update", "delete"):
            return target

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self.writes += 1
            if self.writes == self.crash_on_write:
                raise RuntimeError("injected crash")
            return target(*args, **kwargs)

        return wrapped


def test_crash_mid_run_resumes_from_the_cursor_without_loss_or_duplicates() -> None:
    world = World(page_size=4)
    pairs = [world.mirrored_pair(n) for n in range(20)]
    for n in range(0, 20, 2):
        world.ghl.edit_contact(pairs[n][0], firstName=f"Changed{n}")
    for n in range(3):
        world.ghl.seed_contact(firstName=f"Fresh{n}", email=f"fresh{n}@example.com")
    crashing = world.make_reconciler(rankr=CrashingRankr(world.rankr, crash_on_write=7))
    with pytest.raises(RuntimeError, match="injected crash"):
        crashing.run(ReconcileJob(LOCATION, Mode.FULL, run_id="run-a"), account_id=ACCOUNT)
    cursor = world.checkpoints.load(LOCATION, cursor_checkpoint(Mode.FULL))
    assert cursor is not None and cursor.value["searchOffset"] > 0, "the cursor is saved page by page"
    assert world.checkpoints.load(LOCATION, STATE_CHECKPOINT) is None  # no success yet
    world.ghl.calls.clear()

    resumed = full(world, run_id="run-b")

    assert resumed.report.run_id == "run-a"  # the same run, continued
    assert resumed.report.complete
    assert world.ghl.count("search") < 6, "resumed from the cursor, not from the first page"
    assert world.remaining_differences() == []
    emails = Counter(c.get("email") for c in world.rankr.contacts.values() if not c.get("deletedAt"))
    assert all(n == 1 for n in emails.values()), "no duplicate Rankr contacts"
    assert world.checkpoints.load(LOCATION, cursor_checkpoint(Mode.FULL)) is None
    assert world.checkpoints.load(LOCATION, STATE_CHECKPOINT) is not None


def test_out_of_time_returns_a_continuation_and_the_checkpoint_waits_for_the_end() -> None:
    world = World(page_size=3)
    for n in range(10):
        world.mirrored_pair(n)
    outcome = world.reconciler.run(
        ReconcileJob(LOCATION, Mode.FULL, run_id="slow"), account_id=ACCOUNT, remaining_ms=lambda: 1_000
    )
    assert not outcome.report.complete and outcome.report.continued
    assert outcome.continuation == ReconcileJob(LOCATION, Mode.FULL, False, "slow", 1)
    assert world.checkpoints.load(LOCATION, STATE_CHECKPOINT) is None
    steps = 1
    while outcome.continuation is not None:
        outcome = world.reconciler.run(outcome.continuation, account_id=ACCOUNT, remaining_ms=lambda: 1_000)
        steps += 1
        assert steps < 10
    assert outcome.report.complete and steps > 2
    assert world.checkpoints.load(LOCATION, STATE_CHECKPOINT) is not None


def test_incremental_run_reads_only_what_changed() -> None:
    world = World(page_size=5)
    pairs = [world.mirrored_pair(n) for n in range(15)]
    world.clock.now = world.clock.now.replace(minute=30)  # the seeding lies before the overlap window
    full(world)
    world.ghl.calls.clear()
    world.rankr.calls.clear()
    world.ghl.edit_contact(pairs[1][0], firstName="Inc")
    world.rankr.edit_contact(pairs[7][1], lastName="Inc")
    world.ghl.seed_note(pairs[1][0], body="Called, left a message")

    outcome = world.reconciler.run(ReconcileJob(LOCATION, Mode.INCREMENTAL), account_id=ACCOUNT)

    assert outcome.report.mode is Mode.INCREMENTAL
    assert outcome.report.differences["contact.drifted"] == 2
    assert outcome.report.differences["note.missing_in_rankr"] == 1
    assert world.rankr.contacts[pairs[1][1]]["firstName"] == "Inc"
    assert world.ghl.contacts_by_id()[pairs[7][0]]["lastName"] == "Inc"
    assert [n["body"] for n in world.rankr.notes.values()] == ["Called, left a message"]
    assert world.ghl.count("search") == 1  # one page of changed contacts
    assert world.ghl.count("get_contact") == 1  # the Rankr-side change's GHL twin
    assert world.remaining_differences() == []


def test_first_incremental_without_checkpoint_runs_full() -> None:
    world = World()
    world.mirrored_pair(1)
    outcome = world.reconciler.run(ReconcileJob(LOCATION, Mode.INCREMENTAL), account_id=ACCOUNT)
    assert outcome.report.mode is Mode.FULL


def test_job_messages_round_trip_and_bad_ones_are_refused() -> None:
    job = ReconcileJob(LOCATION, Mode.FULL, dry_run=True, run_id="r1", continuation=2)
    assert ReconcileJob.from_message(job.to_message()) == job
    for bad in ("not json", "[]", '{"mode": "full"}', '{"locationId": "L", "mode": "sometimes"}'):
        with pytest.raises(ReconcileError):
            ReconcileJob.from_message(bad)
