"""`AgencyInstallQueue` on AgencyInstallQueue (SQS FIFO): an agency's listing runs in the agency's
message group (one at a time, in order), each chunk job in a group of its own (chunks run in
parallel); deduplicated by the job's id. Also the running job's heartbeat (`MessageVisibility`): its
message's invisibility renewed while the fan-out lives."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from rankr_ghl.connections.agency_job import AgencyJob


class SqsAgencyInstallQueue:
    def __init__(self, queue_url: str, *, client_source: Callable[[], SQSClient]) -> None:
        if not queue_url:
            raise ValueError("AGENCY_INSTALL_QUEUE_URL is not set")
        self._queue_url = queue_url
        self._client_source = client_source

    def enqueue(self, job: AgencyJob) -> None:
        self._client_source().send_message(
            QueueUrl=self._queue_url,
            MessageBody=job.body(),
            MessageGroupId=job.group_id,
            MessageDeduplicationId=job.deduplication_id,
        )

    def keep_invisible(self, receipt_handle: str, seconds: int) -> None:
        self._client_source().change_message_visibility(
            QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
