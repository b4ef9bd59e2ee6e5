"""The worker entry: one job from ReconcileQueue, for one location."""

from __future__ import annotations

from collections.abc import Callable

from rankr_ghl.flows.reconcile.jobs import (
    DRY_RUN_RESULT_CHECKPOINT,
    RESULT_CHECKPOINT,
    ReconcileError,
    ReconcileJob,
    ReconcileOutcome,
)
from rankr_ghl.flows.reconcile.planner import ConnectionLister, JobQueue
from rankr_ghl.flows.reconcile.run import Reconciler
from rankr_ghl.observability import logger


class ReconcileWorker:
    """A job from ReconcileQueue: checks the connection, runs the reconcile, queues a continuation."""

    def __init__(self, reconciler: Reconciler, connections: ConnectionLister, queue: JobQueue) -> None:
        self.reconciler = reconciler
        self.connections = connections
        self.queue = queue

    def account_for(self, location_id: str) -> str:
        from rankr_ghl.connections.status import ConnectionStatus

        connection = self.connections.get(location_id)
        if connection is None:
            raise ReconcileError(f"no connection for location {location_id}")
        if connection.status is not ConnectionStatus.ACTIVE:
            raise _Inactive(connection.status.value)
        if not connection.rankr_account_id:
            raise ReconcileError(f"location {location_id} is not linked to a Rankr account")
        return connection.rankr_account_id

    def handle(
        self, job: ReconcileJob, *, remaining_ms: Callable[[], int] | None = None
    ) -> ReconcileOutcome | None:
        try:
            account = self.account_for(job.location_id)
        except _Inactive as inactive:
            logger.info(
                "reconcile job skipped: connection not active",
                extra={"location_id": job.location_id, "status": str(inactive)},
            )
            return None
        outcome = self.reconciler.run(job, account_id=account, remaining_ms=remaining_ms)
        if outcome.continuation is not None:
            self.queue.send(outcome.continuation)
        else:
            # What the control API's reconcile.status and connection.get show of the last run.
            name = DRY_RUN_RESULT_CHECKPOINT if job.dry_run else RESULT_CHECKPOINT
            result = {**outcome.report.to_dict(), "finishedAt": self.reconciler.clock().isoformat()}
            self.reconciler.checkpoints.save(job.location_id, name, result)
        return outcome


class _Inactive(Exception):
    pass
