"""One AgencyInstallFunction invocation: AgencyInstallQueue records (FIFO, BatchSize 1) -> the fan-out.

A malformed message is acknowledged and counted (it can never succeed); a failed fan-out is reported
per record (ReportBatchItemFailures), and its retry resumes where the failed run stopped.

While a fan-out runs, a heartbeat keeps its message invisible (`VISIBILITY_S` from now, renewed every
`HEARTBEAT_S`), so the queue's visibility timeout can be short: a run that dies (a crashed or killed
container, the function's timeout) stops renewing, and its message comes back within `VISIBILITY_S`
for the retry instead of after a timeout above the function's own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Protocol

from rankr_ghl import deadlines
from rankr_ghl.connections.agency_job import InvalidAgencyJob, agency_job_from_body
from rankr_ghl.observability import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from rankr_ghl.connections.agency_fanout import AgencyFanOut


# AgencyInstallQueue's VisibilityTimeout in template.yaml is VISIBILITY_S: a message is invisible
# that long after its receive, and the heartbeat renews it well before it runs out.
VISIBILITY_S = 30
HEARTBEAT_S = 10.0


class MessageVisibility(Protocol):
    def keep_invisible(self, receipt_handle: str, seconds: int) -> None:
        """Make the received message invisible for `seconds` from now. Raises on failure."""
        ...


class _Heartbeat:
    """Renews a message's invisibility every `period_s` until stopped; a failed renewal is logged and
    tried again at the next beat (the run goes on: at worst its message is handed out again, and the
    fan-out is idempotent)."""

    def __init__(
        self, visibility: MessageVisibility, receipt_handle: str, period_s: float, seconds: int
    ) -> None:
        self._visibility = visibility
        self._receipt_handle = receipt_handle
        self._period_s = period_s
        self._seconds = seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="agency-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopped.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stopped.wait(self._period_s):
            try:
                self._visibility.keep_invisible(self._receipt_handle, self._seconds)
            except Exception as exc:
                logger.warning("agency install heartbeat failed", extra={"error": type(exc).__name__})


class AgencyInstallInvocation:
    def __init__(
        self,
        fan_out: Callable[[], AgencyFanOut],
        visibility: MessageVisibility | None = None,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        visibility_s: int = VISIBILITY_S,
    ) -> None:
        """`visibility`: renews the running job's message (None: no heartbeat)."""
        self._fan_out = fan_out
        self._visibility = visibility
        self._heartbeat_s = heartbeat_s
        self._visibility_s = visibility_s
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
            job = agency_job_from_body(record.body)
        except InvalidAgencyJob as exc:
            metrics.add_metric(name="AgencyInstallJobRejected", unit=MetricUnit.Count, value=1)
            logger.error("agency install message refused", extra={"reason": str(exc)})
            return None
        fan_out = self._fan_out()
        if self._visibility is None or not record.receipt_handle:
            report = fan_out.run(job, remaining_s=deadlines.invocation.remaining_s)
        else:
            with _Heartbeat(self._visibility, record.receipt_handle, self._heartbeat_s, self._visibility_s):
                report = fan_out.run(job, remaining_s=deadlines.invocation.remaining_s)
        if report.continued:
            metrics.add_metric(name="AgencyInstallContinuations", unit=MetricUnit.Count, value=1)
        return asdict(report)
