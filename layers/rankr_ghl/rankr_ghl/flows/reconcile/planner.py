"""The planner: one reconcile job per active, linked location on ReconcileQueue (FIFO)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from rankr_ghl.flows.reconcile.jobs import STATE_CHECKPOINT, Mode, ReconcileError, ReconcileJob
from rankr_ghl.flows.reconcile.record_values import parse_iso
from rankr_ghl.observability import logger
from rankr_ghl.ports import ConnectionLookup
from rankr_ghl.sync.ports import CheckpointStore, utcnow

if TYPE_CHECKING:
    from rankr_ghl.connections.models import Connection


class JobQueue(Protocol):
    def send(self, job: ReconcileJob) -> None: ...


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

    def send(self, job: ReconcileJob) -> None:
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(job.to_message(), separators=(",", ":")),
            MessageGroupId=job.location_id,
            MessageDeduplicationId=f"{job.run_id}-{job.continuation}",
        )


@dataclass
class PlanResult:
    mode: Mode
    enqueued: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # status -> count
    stale: list[str] = field(default_factory=list)

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
        checkpoints: CheckpointStore,
        queue: JobQueue,
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
        from rankr_ghl.connections.status import ConnectionStatus

        now = self.clock()
        # One run id per schedule firing and mode: a Scheduler retry within SQS's 5-minute
        # deduplication window enqueues nothing twice.
        run_id = run_id or f"{mode.value}-{now.strftime('%Y%m%dT%H%M')}"
        result = PlanResult(mode)
        for connection in self.connections.list():
            if connection.is_company or not connection.location_id:
                continue
            if connection.status is not ConnectionStatus.ACTIVE:
                result.skipped[connection.status.value] += 1
                continue
            if not connection.rankr_account_id:
                result.skipped["unlinked"] += 1
                continue
            location = connection.location_id
            if self._stale(location, connection.installed_at, now):
                result.stale.append(location)
            self.queue.send(ReconcileJob(location, mode, run_id=f"{run_id}-{location}"[:80]))
            result.enqueued.append(location)
        logger.info("reconcile planned", extra=result.to_dict())
        return result

    def _stale(self, location_id: str, installed_at: datetime, now: datetime) -> bool:
        saved = self.checkpoints.load(location_id, STATE_CHECKPOINT)
        last = parse_iso(saved.value.get("lastSuccessAt")) if saved else None
        reference = last or installed_at
        return now - reference > 2 * self.interval
