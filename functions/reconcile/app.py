"""Scheduled reconcile (logic in rankr_ghl.flows.reconcile, docs/reconcile.md).

- EventBridge Scheduler (ScheduleV2, Input `{"mode": "incremental"|"full"}`) -> the planner: one job
  per active location on ReconcileQueue, and the `ReconcileStaleLocations` metric.
- ReconcileQueue records (FIFO, BatchSize 1) -> the per-location worker; a job short of time queues
  its continuation, a failure is reported per record (ReportBatchItemFailures).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict
from rankr_ghl import wiring
from rankr_ghl.flows import reconcile
from rankr_ghl.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Each entry point imports only its own Powertools utility (batch for queue records, parser for
# schedules): a container serves one of the two, and each costs tens of ms of cold start.
_processor: BatchProcessor | None = None
_ENV = ("SYNC_TABLE", "AUDIT_TABLE", "RECONCILE_QUEUE_URL", "AWS_ENDPOINT_URL", "CONNECTIONS_TABLE")
_env_seen: tuple[str, ...] | None = None
_remaining_ms: Any = None


class ScheduleInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["incremental", "full"] = "incremental"


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
    from aws_lambda_powertools.utilities.parser import ValidationError, parse

    try:
        if isinstance(event, dict) and "detail-type" in event:  # an EventBridge rule instead of Scheduler
            # Only here: importing the envelopes loads every one of Powertools' envelope models.
            from aws_lambda_powertools.utilities.parser.envelopes import EventBridgeEnvelope

            data: Any = parse(event=event, model=ScheduleInput, envelope=EventBridgeEnvelope)
        else:
            data = parse(event=event or {}, model=ScheduleInput)
    except ValidationError as exc:
        raise reconcile.ReconcileError(
            f"schedule input must be {{'mode': 'incremental'|'full'}}: {exc}"
        ) from None
    if not isinstance(data, ScheduleInput):
        raise reconcile.ReconcileError("schedule input must be one object {'mode': ...}")
    return reconcile.Mode(data.mode)


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
