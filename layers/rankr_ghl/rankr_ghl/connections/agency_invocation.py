"""One AgencyInstallFunction invocation: AgencyInstallQueue records (FIFO, BatchSize 1) -> the fan-out.

A malformed message is acknowledged and counted (it can never succeed); a failed fan-out is reported
per record (ReportBatchItemFailures), and its retry resumes where the failed run stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rankr_ghl import deadlines
from rankr_ghl.connections.agency_job import AgencyInstallJob, InvalidAgencyJob
from rankr_ghl.observability import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from rankr_ghl.connections.agency_fanout import AgencyFanOut


class AgencyInstallInvocation:
    def __init__(self, fan_out: Callable[[], AgencyFanOut]) -> None:
        self._fan_out = fan_out
        self._batch: BatchProcessor | None = None

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        deadlines.invocation.start(context)
        if self._batch is None:
            # A failed job is reported like any failed record (the queue retries it, then the DLQ and
            # its alarm), not raised as a function error.
            self._batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        return dict(
            process_partial_response(
                event=event, record_handler=self.handle_record, processor=self._batch, context=context
            )
        )

    def handle_record(self, record: SQSRecord) -> dict[str, Any] | None:
        from aws_lambda_powertools.metrics import MetricUnit

        try:
            job = AgencyInstallJob.from_body(record.body)
        except InvalidAgencyJob as exc:
            metrics.add_metric(name="AgencyInstallJobRejected", unit=MetricUnit.Count, value=1)
            logger.error("agency install message refused", extra={"reason": str(exc)})
            return None
        report = self._fan_out().run(job, remaining_s=deadlines.invocation.remaining_s)
        if report.continued:
            metrics.add_metric(name="AgencyInstallContinuations", unit=MetricUnit.Count, value=1)
        return asdict(report)
