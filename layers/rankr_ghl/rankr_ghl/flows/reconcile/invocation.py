"""One reconcile invocation (docs/reconcile.md).

- EventBridge Scheduler (ScheduleV2, Input `{"mode": "incremental"|"full"|"notes"}`) -> the planner: one job
  per active location on ReconcileQueue, and the `ReconcileStaleLocations` metric.
- ReconcileQueue records (FIFO, BatchSize 1) -> the per-location worker; a job short of time queues
  its continuation, a failure is reported per record (ReportBatchItemFailures).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from rankr_ghl import deadlines
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileError, ReconcileJob
from rankr_ghl.observability import metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from rankr_ghl.flows.reconcile.planner import ReconcilePlanner
    from rankr_ghl.flows.reconcile.worker import ReconcileWorker

_SCHEDULE_INPUT = "schedule input must be {'mode': 'incremental'|'full'|'notes'}"


def schedule_mode(event: Any) -> Mode:
    """`{"mode": "incremental"|"full"|"notes"}` (mode optional, nothing else) from EventBridge Scheduler, or
    the same object as the `detail` of an EventBridge rule event. Checked by hand: a pydantic model
    and Powertools Parser for one optional field would import and build pydantic on every planner
    start."""
    if isinstance(event, dict) and "detail-type" in event:  # an EventBridge rule instead of Scheduler
        event = event.get("detail")
    data = event or {}
    if not isinstance(data, dict):
        raise ReconcileError("schedule input must be one object {'mode': ...}")
    unknown = sorted(str(key) for key in data if key != "mode")
    if unknown:
        raise ReconcileError(f"{_SCHEDULE_INPUT}: unknown field(s) {', '.join(unknown)}")
    mode = data.get("mode", Mode.INCREMENTAL.value)
    if mode not in {m.value for m in Mode}:
        raise ReconcileError(f"{_SCHEDULE_INPUT}: mode {str(mode)[:32]!r} is not one of them")
    return Mode(mode)


class ReconcileInvocation:
    def __init__(
        self, *, planner: Callable[[], ReconcilePlanner], worker: Callable[[], ReconcileWorker]
    ) -> None:
        self._planner = planner
        self._worker = worker
        # A container serves queue records or schedules; only the queue records import Powertools'
        # batch utility (tens of ms of cold start).
        self._batch: BatchProcessor | None = None
        self._remaining_ms: Callable[[], int] | None = None

    def handle(self, event: Any, context: LambdaContext) -> dict[str, Any]:
        deadlines.invocation.start(context)
        if isinstance(event, dict) and "Records" in event:
            return self.handle_records(event, context)
        plan = self._planner().plan(schedule_mode(event))
        metrics.add_metric(name="ReconcileStaleLocations", unit=MetricUnit.Count, value=len(plan.stale))
        metrics.add_metric(name="ReconcileJobsQueued", unit=MetricUnit.Count, value=len(plan.enqueued))
        return plan.to_dict()

    def handle_records(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.batch import (
            BatchProcessor,
            EventType,
            process_partial_response,
        )

        if self._batch is None:
            self._batch = BatchProcessor(event_type=EventType.SQS)
        self._remaining_ms = context.get_remaining_time_in_millis
        return dict(
            process_partial_response(
                event=event, record_handler=self.handle_record, processor=self._batch, context=context
            )
        )

    def handle_record(self, record: SQSRecord) -> dict[str, Any] | None:
        job = ReconcileJob.from_message(record.body)
        outcome = self._worker().handle(job, remaining_ms=self._remaining_ms)
        if outcome is None:
            return None
        report = outcome.report
        metrics.add_metric(name="ReconcileDifferences", unit=MetricUnit.Count, value=report.total_differences)
        metrics.add_metric(name="ReconcileRepairs", unit=MetricUnit.Count, value=report.total_repaired)
        if outcome.continuation is not None:
            metrics.add_metric(name="ReconcileContinuations", unit=MetricUnit.Count, value=1)
        result: dict[str, Any] = report.to_dict()
        return result
