"""The worker never lets a batch time out: records that no longer fit are reported unfinished and
return at once; a record the rate budget blocks returns with its group when the budget resets."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fakes.metrics import CountingMetrics
from rankr_ghl import deadlines
from rankr_ghl.flows.inbound import InboundResult
from rankr_ghl.flows.inbound.batch import (
    DEADLINE_RESERVE_S,
    MAX_RATE_WAIT_S,
    METRIC_NOT_REACHED,
    RECEIVES_BEFORE_WAITING,
    InboundBatch,
)
from rankr_ghl.ghl.errors import GHLRateLimited
from test_webhook_worker_handler import body, record


class Clockwork:
    """A Lambda context whose remaining time the test controls (the wall clock, as in Lambda)."""

    function_name = "WebhookWorkerFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:WebhookWorkerFunction"
    aws_request_id = "req"

    def __init__(self, remaining_s: float) -> None:
        self.ends_at = time.monotonic() + remaining_s

    def get_remaining_time_in_millis(self) -> int:
        return int((self.ends_at - time.monotonic()) * 1000)


class SlowInbound:
    """Each record takes `seconds` (sleeping) unless a GHL call would be blocked by the rate budget."""

    def __init__(self, seconds: float = 0.0, blocked: dict[str, float] | None = None) -> None:
        self.seconds = seconds
        self.blocked = blocked or {}
        self.processed: list[str] = []
        self.failures: list[str] = []
        self.deadlines_seen: list[float | None] = []
        self.limiter_waits_seen: list[float | None] = []

    def process(self, message: dict[str, Any]) -> InboundResult:
        entity_id = message["event"]["id"]
        self.deadlines_seen.append(deadlines.remaining_s())
        self.limiter_waits_seen.append(deadlines.limiter_wait_cap(None))
        if entity_id in self.blocked:
            raise GHLRateLimited("rate budget would need a wait", retry_after_s=self.blocked[entity_id])
        time.sleep(self.seconds)
        self.processed.append(entity_id)
        return InboundResult("written", "updated")

    def record_failure(self, message: dict[str, Any], error: BaseException) -> None:
        self.failures.append(message["event"]["id"])


class RecordingVisibility:
    def __init__(self) -> None:
        self.changes: list[dict[str, int]] = []

    def change(self, visibility_s: dict[str, int]) -> None:
        self.changes.append(dict(visibility_s))


def _record(message_id: str, group: str) -> dict[str, Any]:
    return record(message_id, group, body(message_id, group))


def _failed(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def test_records_that_no_longer_fit_are_reported_and_return_at_once() -> None:
    inbound, visibility, metrics = SlowInbound(seconds=0.4), RecordingVisibility(), CountingMetrics()
    batch = InboundBatch(lambda: inbound, visibility=visibility, metrics=metrics)  # type: ignore[arg-type,return-value]
    # 4.5 s left: 2.5 s after the reserve; a record needs 3 s of budget to start... so only what fits runs.
    context = Clockwork(DEADLINE_RESERVE_S + 3.9)
    records = [_record(f"m{n}", f"loc{n}") for n in range(6)]
    started = time.monotonic()
    response = batch.handle({"Records": records}, context)  # type: ignore[arg-type]
    assert time.monotonic() - started < 3.9  # finished before the Lambda would have been killed
    processed = inbound.processed
    assert processed and len(processed) < len(records)
    not_reached = [r["messageId"] for r in records if r["messageId"] not in processed]
    assert _failed(response) == not_reached
    assert inbound.failures == []  # not the records' own failures
    assert metrics.counts[(METRIC_NOT_REACHED, None)] == len(not_reached)
    assert visibility.changes == [{f"rh-{m}": 0 for m in not_reached}]


def test_every_record_runs_under_the_invocation_deadline() -> None:
    inbound = SlowInbound()
    batch = InboundBatch(lambda: inbound)  # type: ignore[arg-type,return-value]
    batch.handle({"Records": [_record("m1", "loc1")]}, Clockwork(30))  # type: ignore[arg-type]
    (seen,) = inbound.deadlines_seen
    assert seen is not None and 30 - DEADLINE_RESERVE_S - 1 < seen <= 30 - DEADLINE_RESERVE_S
    assert deadlines.remaining_s() is None  # the record's deadline does not leak past the batch


def test_a_record_waits_for_the_rate_budget_in_place_only_briefly() -> None:
    """A location whose budget is spent must not hold the worker and the records behind it."""
    inbound = SlowInbound()
    batch = InboundBatch(lambda: inbound)  # type: ignore[arg-type,return-value]
    batch.handle({"Records": [_record("m1", "loc1")]}, Clockwork(30))  # type: ignore[arg-type]
    assert inbound.limiter_waits_seen == [MAX_RATE_WAIT_S]
    assert MAX_RATE_WAIT_S < 2.0
    assert deadlines.limiter_wait_cap(None) is None  # the bound does not leak past the record


def test_a_record_near_the_dlq_waits_for_the_rate_budget_in_place() -> None:
    """Each return is a receive: a record received often already spends no more of them."""
    inbound = SlowInbound()
    batch = InboundBatch(lambda: inbound)  # type: ignore[arg-type,return-value]
    fresh, worn = _record("m1", "loc1"), _record("m2", "loc2")
    worn["attributes"]["ApproximateReceiveCount"] = str(RECEIVES_BEFORE_WAITING)
    batch.handle({"Records": [fresh, worn]}, Clockwork(30))  # type: ignore[arg-type]
    bounded, unbounded = inbound.limiter_waits_seen
    assert bounded == MAX_RATE_WAIT_S
    # Bounded by the record's deadline only (the invocation's time less the reserve).
    assert unbounded is not None and MAX_RATE_WAIT_S < unbounded <= 30 - DEADLINE_RESERVE_S
    assert RECEIVES_BEFORE_WAITING < 5  # below the webhook queue's maxReceiveCount


def test_a_rate_blocked_record_returns_with_its_group_when_the_budget_resets() -> None:
    inbound, visibility = SlowInbound(blocked={"m1": 4.2}), RecordingVisibility()
    batch = InboundBatch(lambda: inbound, visibility=visibility)  # type: ignore[arg-type,return-value]
    records = [_record("m1", "hot"), _record("m2", "hot"), _record("m3", "calm")]
    response = batch.handle({"Records": records}, Clockwork(30))  # type: ignore[arg-type]
    assert _failed(response) == ["m1", "m2"]  # m2 must not overtake m1
    assert inbound.processed == ["m3"]
    assert inbound.failures == []
    assert visibility.changes == [{"rh-m1": 5, "rh-m2": 5}]  # ceil(4.2 + 0.5 s margin)


def test_a_spent_daily_budget_is_an_ordinary_failure() -> None:
    class Daily(SlowInbound):
        def process(self, message: dict[str, Any]) -> InboundResult:
            if message["event"]["id"] == "m1":
                raise GHLRateLimited("daily budget spent", daily=True)
            return super().process(message)

    inbound, visibility = Daily(), RecordingVisibility()
    batch = InboundBatch(lambda: inbound, visibility=visibility)  # type: ignore[arg-type,return-value]
    records = [_record("m1", "loc1"), _record("m2", "loc2")]
    response = batch.handle({"Records": records}, Clockwork(30))  # type: ignore[arg-type]
    assert _failed(response) == ["m1"] and inbound.failures == ["m1"]
    assert visibility.changes == []


def test_a_batch_where_every_record_is_blocked_still_releases_its_groups() -> None:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    inbound, visibility = SlowInbound(blocked={"m1": 0.3}), RecordingVisibility()
    batch = InboundBatch(lambda: inbound, visibility=visibility)  # type: ignore[arg-type,return-value]
    with pytest.raises(BatchProcessingError):
        batch.handle({"Records": [_record("m1", "hot")]}, Clockwork(30))  # type: ignore[arg-type]
    assert visibility.changes == [{"rh-m1": 1}]
