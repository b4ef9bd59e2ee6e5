"""Planner: one job per active, linked location; paused/needs_reauth/uninstalled skipped and counted;
stale = active locations without a successful reconcile for two intervals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import InMemoryCheckpointStore
from fakes.connections import FakeConnectionLookup
from fakes.reconcile_world import ACCOUNT, LOCATION, World
from rankr_ghl.connections.models import Connection, ConnectionStatus, UserType
from rankr_ghl.flows.reconcile.jobs import STATE_CHECKPOINT, Mode, ReconcileError, ReconcileJob
from rankr_ghl.flows.reconcile.planner import ReconcilePlanner, SqsJobQueue
from rankr_ghl.flows.reconcile.worker import ReconcileWorker

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class ListQueue:
    def __init__(self) -> None:
        self.jobs: list[ReconcileJob] = []

    def send(self, job: ReconcileJob) -> None:
        self.jobs.append(job)

    def send_many(self, jobs: Sequence[ReconcileJob]) -> list[ReconcileJob]:
        self.jobs.extend(jobs)
        return []


class FlakySqs:
    """SendMessageBatch that fails the entries of `failing` locations: SQS's side `transient` times
    each, or for good as the sender's fault."""

    def __init__(self, failing: dict[str, int], *, sender_fault: frozenset[str] = frozenset()) -> None:
        self.failing = dict(failing)
        self.sender_fault = sender_fault
        self.queued: list[str] = []
        self.calls: list[int] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        assert len(Entries) <= 10
        self.calls.append(len(Entries))
        failed: list[dict[str, Any]] = []
        for entry in Entries:
            location = entry["MessageGroupId"]
            if location in self.sender_fault:
                failed.append({"Id": entry["Id"], "SenderFault": True, "Code": "InvalidParameterValue"})
            elif self.failing.get(location, 0) > 0:
                self.failing[location] -= 1
                failed.append({"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"})
            else:
                self.queued.append(location)
        return {"Successful": [], "Failed": failed}


def conn(
    location: str, status: ConnectionStatus, *, account: str | None = "acct", age_h: float = 10
) -> Connection:
    return Connection(
        connection_id=location,
        location_id=location,
        user_type=UserType.LOCATION,
        status=status,
        rankr_account_id=account,
        installed_at=NOW - timedelta(hours=age_h),
    )


def test_plan_enqueues_active_linked_locations_and_counts_the_rest() -> None:
    checkpoints = InMemoryCheckpointStore()
    checkpoints.save("fresh", STATE_CHECKPOINT, {"lastSuccessAt": (NOW - timedelta(minutes=20)).isoformat()})
    checkpoints.save("old", STATE_CHECKPOINT, {"lastSuccessAt": (NOW - timedelta(minutes=31)).isoformat()})
    connections = FakeConnectionLookup(
        [
            conn("fresh", ConnectionStatus.ACTIVE),
            conn("old", ConnectionStatus.ACTIVE),
            conn("never", ConnectionStatus.ACTIVE),
            conn("just-installed", ConnectionStatus.ACTIVE, age_h=0.1),
            conn("paused", ConnectionStatus.PAUSED),
            conn("reauth", ConnectionStatus.NEEDS_REAUTH),
            conn("gone", ConnectionStatus.UNINSTALLED),
            conn("unlinked", ConnectionStatus.ACTIVE, account=None),
            Connection(connection_id="company:c1", company_id="c1", user_type=UserType.COMPANY),
        ]
    )
    queue = ListQueue()
    planner = ReconcilePlanner(connections, checkpoints, queue, clock=lambda: NOW)

    result = planner.plan(Mode.FULL)

    assert sorted(result.enqueued) == ["fresh", "just-installed", "never", "old"]
    assert dict(result.skipped) == {"paused": 1, "needs_reauth": 1, "uninstalled": 1, "unlinked": 1}
    assert sorted(result.stale) == ["never", "old"]
    assert {j.location_id for j in queue.jobs} == set(result.enqueued)
    assert all(j.mode is Mode.FULL and not j.dry_run for j in queue.jobs)
    # the same firing planned twice (a Scheduler retry) gives the same deduplication ids
    again = ListQueue()
    ReconcilePlanner(connections, checkpoints, again, clock=lambda: NOW).plan(Mode.FULL)
    assert [j.run_id for j in again.jobs] == [j.run_id for j in queue.jobs]


def test_entries_sqs_fails_are_resent_and_a_refused_one_is_never_reported_queued(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("rankr_ghl.flows.reconcile.planner.time.sleep", lambda _s: None)
    locations = [f"loc{n:02}" for n in range(23)]
    connections = FakeConnectionLookup([conn(location, ConnectionStatus.ACTIVE) for location in locations])
    sqs = FlakySqs({"loc03": 2, "loc15": 1, "loc22": 9}, sender_fault=frozenset({"loc07"}))
    planner = ReconcilePlanner(
        connections, InMemoryCheckpointStore(), SqsJobQueue("https://q", client=sqs), clock=lambda: NOW
    )

    with pytest.raises(ReconcileError, match="2 reconcile jobs could not be queued"):
        planner.plan(Mode.INCREMENTAL)

    # loc03 and loc15 got through on a later round; loc22 failed every round; loc07 was refused once.
    assert sorted(sqs.queued) == sorted(set(locations) - {"loc07", "loc22"})
    assert len(sqs.queued) == len(set(sqs.queued))
    assert sqs.calls[:3] == [10, 1, 1]  # the first batch, then its failed entries only
    assert sum(sqs.calls) == 23 + 2 + 1 + 3  # each entry once, plus every re-send


def test_a_plan_whose_sends_all_succeed_reports_every_location() -> None:
    locations = [f"loc{n:02}" for n in range(12)]
    connections = FakeConnectionLookup([conn(location, ConnectionStatus.ACTIVE) for location in locations])
    sqs = FlakySqs({"loc11": 1})
    planner = ReconcilePlanner(
        connections, InMemoryCheckpointStore(), SqsJobQueue("https://q", client=sqs), clock=lambda: NOW
    )
    result = planner.plan(Mode.FULL)
    assert result.enqueued == locations and result.not_queued == []
    assert sorted(sqs.queued) == locations


def test_worker_skips_a_connection_paused_after_planning_and_queues_continuations() -> None:
    world = World(page_size=2)
    for n in range(5):
        world.mirrored_pair(n)
    queue = ListQueue()
    connections = FakeConnectionLookup([conn(LOCATION, ConnectionStatus.PAUSED, account=ACCOUNT)])
    worker = ReconcileWorker(world.reconciler, connections, queue)
    assert worker.handle(ReconcileJob(LOCATION, Mode.FULL)) is None
    assert len(world.rankr.calls) == 0

    connections.items[LOCATION] = conn(LOCATION, ConnectionStatus.ACTIVE, account=ACCOUNT)
    outcome = worker.handle(ReconcileJob(LOCATION, Mode.FULL, run_id="r"), remaining_ms=lambda: 0)
    assert outcome is not None and outcome.continuation is not None
    assert queue.jobs == [outcome.continuation]


def test_handler_reads_the_scheduler_input_and_refuses_anything_else() -> None:
    from rankr_ghl.flows.reconcile.invocation import schedule_mode
    from rankr_ghl.flows.reconcile.jobs import ReconcileError

    assert schedule_mode({"mode": "full"}) is Mode.FULL
    assert schedule_mode({"mode": "incremental"}) is Mode.INCREMENTAL
    rule_event = {
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "detail": {"mode": "full"},
        "id": "1",
        "version": "0",
        "account": "1",
        "time": "2025-03-01T03:00:00Z",
        "region": "us-east-1",
        "resources": [],
    }
    assert schedule_mode(rule_event) is Mode.FULL
    for bad in ({"mode": "hourly"}, {"mode": "full", "extra": 1}, ["full"]):
        with pytest.raises(ReconcileError):
            schedule_mode(bad)
