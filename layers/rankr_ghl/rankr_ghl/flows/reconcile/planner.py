"""The planner: one reconcile job per active, linked location on ReconcileQueue (FIFO).

Round trips are batched, so an agency of 1,000 locations costs 10 checkpoint reads and 100 sends,
not 1,000 of each: the connections are planned in chunks of `PLAN_CHUNK`, each chunk's checkpoints
read in one BatchGetItem and its jobs sent with SendMessageBatch (10 a call).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from rankr_ghl.flows.reconcile.jobs import STATE_CHECKPOINT, Mode, ReconcileError, ReconcileJob
from rankr_ghl.flows.reconcile.record_values import parse_iso
from rankr_ghl.observability import logger
from rankr_ghl.ports import ConnectionLookup
from rankr_ghl.sync.ports import utcnow

if TYPE_CHECKING:
    from rankr_ghl.connections.models import Connection
    from rankr_ghl.sync.ports import Checkpoint

PLAN_CHUNK = 100  # BatchGetItem's limit of keys per call
SEND_BATCH_MAX = 10  # SendMessageBatch's limit of entries per call
SEND_ATTEMPTS = 4  # rounds for the entries SQS fails on its side (throttling, internal errors)


class JobQueue(Protocol):
    def send(self, job: ReconcileJob) -> None: ...


class BatchJobQueue(JobQueue, Protocol):
    def send_many(self, jobs: Sequence[ReconcileJob]) -> list[ReconcileJob]:
        """Queue `jobs`; returns those that could not be queued (the rest are)."""
        ...


class CheckpointReader(Protocol):
    def load_many(self, location_ids: Sequence[str], name: str) -> dict[str, Checkpoint]:
        """The checkpoint `name` of each location that has one, by location id."""
        ...


class ConnectionLister(ConnectionLookup, Protocol):
    def list(self) -> Iterator[Connection]: ...


class SqsJobQueue:
    """ReconcileQueue (FIFO): one message group per location keeps its rate budget serial."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        if not queue_url:
            raise ReconcileError("RECONCILE_QUEUE_URL is not set")
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        return self._client

    @staticmethod
    def _message(job: ReconcileJob) -> dict[str, str]:
        return {
            "MessageBody": json.dumps(job.to_message(), separators=(",", ":")),
            "MessageGroupId": job.location_id,
            "MessageDeduplicationId": f"{job.run_id}-{job.continuation}",
        }

    def send(self, job: ReconcileJob) -> None:
        self.client.send_message(QueueUrl=self.queue_url, **self._message(job))

    def send_many(self, jobs: Sequence[ReconcileJob]) -> list[ReconcileJob]:
        """SendMessageBatch, 10 entries a call. An entry SQS fails on its side is re-sent (with
        backoff) for up to `SEND_ATTEMPTS` rounds; one it refuses as the sender's fault is not (it
        would fail again). Re-sending is safe: the deduplication id makes a repeat a no-op."""
        unsent: list[ReconcileJob] = []
        for start in range(0, len(jobs), SEND_BATCH_MAX):
            pending = {str(index): job for index, job in enumerate(jobs[start : start + SEND_BATCH_MAX])}
            for attempt in range(SEND_ATTEMPTS):
                response = self.client.send_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": entry_id, **self._message(job)} for entry_id, job in pending.items()],
                )
                failed = response.get("Failed") or []
                for failure in failed:
                    if failure.get("SenderFault"):
                        logger.error("reconcile job refused by SQS", extra=_failure_fields(failure))
                        unsent.append(pending[failure["Id"]])
                pending = {f["Id"]: pending[f["Id"]] for f in failed if not f.get("SenderFault")}
                if not pending:
                    break
                time.sleep(0.05 * (2**attempt))
            unsent.extend(pending.values())
        return unsent


def _failure_fields(failure: dict[str, Any]) -> dict[str, Any]:
    return {"code": failure.get("Code"), "error": failure.get("Message")}


@dataclass
class PlanResult:
    mode: Mode
    enqueued: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # status -> count
    stale: list[str] = field(default_factory=list)
    not_queued: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "enqueued": len(self.enqueued),
            "skipped": dict(self.skipped),
            "staleLocations": len(self.stale),
        }


class ReconcilePlanner:
    """Lists connections, enqueues one job per active, linked location, counts stale locations."""

    def __init__(
        self,
        connections: ConnectionLister,
        checkpoints: CheckpointReader,
        queue: BatchJobQueue,
        *,
        interval: timedelta = timedelta(minutes=15),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.connections = connections
        self.checkpoints = checkpoints
        self.queue = queue
        self.interval = interval
        self.clock = clock

    def plan(self, mode: Mode, *, run_id: str | None = None) -> PlanResult:
        """Raises ReconcileError when some jobs could not be queued, after queueing all the others:
        the schedule's retry then plans again (the jobs already queued are deduplicated by SQS)."""
        from rankr_ghl.connections.status import ConnectionStatus

        now = self.clock()
        # One run id per schedule firing and mode: a Scheduler retry within SQS's 5-minute
        # deduplication window enqueues nothing twice.
        run_id = run_id or f"{mode.value}-{now.strftime('%Y%m%dT%H%M')}"
        result = PlanResult(mode)
        chunk: list[Connection] = []
        for connection in self.connections.list():
            if connection.is_company or not connection.location_id:
                continue
            if connection.status is not ConnectionStatus.ACTIVE:
                result.skipped[connection.status.value] += 1
                continue
            if not connection.rankr_account_id:
                result.skipped["unlinked"] += 1
                continue
            chunk.append(connection)
            if len(chunk) == PLAN_CHUNK:
                self._plan_chunk(chunk, mode, run_id, now, result)
                chunk = []
        if chunk:
            self._plan_chunk(chunk, mode, run_id, now, result)
        if result.not_queued:
            logger.error(
                "reconcile planned, some jobs not queued",
                extra={**result.to_dict(), "notQueued": len(result.not_queued)},
            )
            raise ReconcileError(f"{len(result.not_queued)} reconcile jobs could not be queued")
        logger.info("reconcile planned", extra=result.to_dict())
        return result

    def _plan_chunk(
        self, chunk: Sequence[Connection], mode: Mode, run_id: str, now: datetime, result: PlanResult
    ) -> None:
        locations = [str(connection.location_id) for connection in chunk]
        saved = self.checkpoints.load_many(locations, STATE_CHECKPOINT)
        for connection, location in zip(chunk, locations, strict=True):
            if self._stale(saved.get(location), connection.installed_at, now):
                result.stale.append(location)
        jobs = [ReconcileJob(location, mode, run_id=f"{run_id}-{location}"[:80]) for location in locations]
        unsent = {job.location_id for job in self.queue.send_many(jobs)}
        result.enqueued.extend(location for location in locations if location not in unsent)
        result.not_queued.extend(location for location in locations if location in unsent)

    def _stale(self, saved: Checkpoint | None, installed_at: datetime, now: datetime) -> bool:
        last = parse_iso(saved.value.get("lastSuccessAt")) if saved else None
        reference = last or installed_at
        return now - reference > 2 * self.interval
