"""Scheduled reconcile (logic in rankr_ghl.flows.reconcile, docs/reconcile.md).

- EventBridge Scheduler (ScheduleV2, Input `{"mode": "incremental"|"full"}`) -> the planner: one job
  per active location on ReconcileQueue, and the `ReconcileStaleLocations` metric.
- ReconcileQueue records (FIFO, BatchSize 1) -> the per-location worker; a job short of time queues
  its continuation, a failure is reported per record (ReportBatchItemFailures).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from rankr_ghl import wiring
from rankr_ghl.flows import reconcile
from rankr_ghl.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

# A container serves queue records or schedules; only the queue records import Powertools' batch
# utility (tens of ms of cold start). The schedule input is one optional field, checked here by hand:
# a pydantic model and Powertools Parser for it would import and build pydantic on every planner start.
_processor: BatchProcessor | None = None
_ENV = ("SYNC_TABLE", "AUDIT_TABLE", "RECONCILE_QUEUE_URL", "AWS_ENDPOINT_URL", "CONNECTIONS_TABLE")
_env_seen: tuple[str, ...] | None = None
_remaining_ms: Any = None


_SCHEDULE_INPUT = "schedule input must be {'mode': 'incremental'|'full'}"


def _container() -> reconcile.ReconcileContainer:
    global _env_seen
    wiring.refresh_if_environment_changed()
    current = tuple(os.environ.get(name, "") for name in _ENV)
    if _env_seen is not None and current != _env_seen:
        reconcile.container.cache_clear()
    _env_seen = current
    return reconcile.container()


def _batch_processor() -> BatchProcessor:
    global _processor
    if _processor is None:
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

        _processor = BatchProcessor(event_type=EventType.SQS)
    return _processor


def _schedule_mode(event: Any) -> reconcile.Mode:
    """`{"mode": "incremental"|"full"}` (mode optional, nothing else) from EventBridge Scheduler, or
    the same object as the `detail` of an EventBridge rule event."""
    if isinstance(event, dict) and "detail-type" in event:  # an EventBridge rule instead of Scheduler
        event = event.get("detail")
    data = event or {}
    if not isinstance(data, dict):
        raise reconcile.ReconcileError("schedule input must be one object {'mode': ...}")
    unknown = sorted(str(key) for key in data if key != "mode")
    if unknown:
        raise reconcile.ReconcileError(f"{_SCHEDULE_INPUT}: unknown field(s) {', '.join(unknown)}")
    mode = data.get("mode", reconcile.Mode.INCREMENTAL.value)
    if mode not in (reconcile.Mode.INCREMENTAL.value, reconcile.Mode.FULL.value):
        raise reconcile.ReconcileError(f"{_SCHEDULE_INPUT}: mode {str(mode)[:32]!r} is not one of them")
    return reconcile.Mode(mode)


def record_handler(record: SQSRecord) -> dict[str, Any] | None:
    job = reconcile.ReconcileJob.from_message(record.body)
    outcome = _container().worker.handle(job, remaining_ms=_remaining_ms)
    if outcome is None:
        return None
    report = outcome.report
    metrics.add_metric(name="ReconcileDifferences", unit=MetricUnit.Count, value=report.total_differences)
    metrics.add_metric(name="ReconcileRepairs", unit=MetricUnit.Count, value=report.total_repaired)
    if outcome.continuation is not None:
        metrics.add_metric(name="ReconcileContinuations", unit=MetricUnit.Count, value=1)
    return report.to_dict()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    global _remaining_ms
    if isinstance(event, dict) and "Records" in event:
        from aws_lambda_powertools.utilities.batch import process_partial_response

        _remaining_ms = context.get_remaining_time_in_millis
        response: dict[str, Any] = dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=_batch_processor(), context=context
            )
        )
        return response
    plan = _container().planner.plan(_schedule_mode(event))
    metrics.add_metric(name="ReconcileStaleLocations", unit=MetricUnit.Count, value=len(plan.stale))
    metrics.add_metric(name="ReconcileJobsQueued", unit=MetricUnit.Count, value=len(plan.enqueued))
    return plan.to_dict()
