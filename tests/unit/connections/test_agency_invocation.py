"""AgencyInstallFunction's record handling: a malformed message is acknowledged without a fan-out, a
job runs the fan-out with the invocation's remaining time, and a failed fan-out fails its record."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from rankr_ghl.connections.agency_fanout import FanOutReport
from rankr_ghl.connections.agency_invocation import AgencyInstallInvocation
from rankr_ghl.connections.agency_job import AgencyInstallJob
from rankr_ghl.connections.errors import GHLUnavailable


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 90_000


class RecordingFanOut:
    def __init__(self, fail: bool = False) -> None:
        self.jobs: list[AgencyInstallJob] = []
        self.left: list[float | None] = []
        self.fail = fail

    def run(self, job, remaining_s):
        self.jobs.append(job)
        self.left.append(remaining_s())
        if self.fail:
            raise GHLUnavailable("GHL failed")
        return FanOutReport(job.company_id, 3, 3, 0, 0, continued=False)


def sqs_event(*bodies: str) -> dict:
    return {
        "Records": [
            {"messageId": f"m{i}", "receiptHandle": "r", "body": body, "eventSource": "aws:sqs"}
            for i, body in enumerate(bodies)
        ]
    }


JOB = AgencyInstallJob("co1", 1_800_000_000_000)


def test_a_job_runs_the_fan_out_with_the_time_left():
    fan_out = RecordingFanOut()
    answer = AgencyInstallInvocation(lambda: fan_out).handle(sqs_event(JOB.body()), Context())
    assert answer == {"batchItemFailures": []}
    assert fan_out.jobs == [JOB] and 80 < fan_out.left[0] <= 90


def test_a_malformed_message_is_acknowledged_without_a_fan_out():
    fan_out = RecordingFanOut()
    invocation = AgencyInstallInvocation(lambda: fan_out)
    assert invocation.handle_record(SQSRecord({"body": json.dumps({"companyId": 7})})) is None
    assert fan_out.jobs == []


def test_a_failed_fan_out_fails_its_record_for_the_queue_to_retry():
    invocation = AgencyInstallInvocation(lambda: RecordingFanOut(fail=True))
    answer = invocation.handle(sqs_event(JOB.body()), Context())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    with pytest.raises(GHLUnavailable):
        invocation.handle_record(SQSRecord({"body": JOB.body()}))


class RecordingVisibility:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail = fail

    def keep_invisible(self, receipt_handle: str, seconds: int) -> None:
        self.calls.append((receipt_handle, seconds))
        if self.fail:
            raise ConnectionError("SQS unreachable")


class SlowFanOut(RecordingFanOut):
    def __init__(self, visibility: RecordingVisibility, beats: int) -> None:
        super().__init__()
        self.visibility = visibility
        self.beats = beats

    def run(self, job, remaining_s):
        import time

        deadline = time.monotonic() + 10
        while len(self.visibility.calls) < self.beats and time.monotonic() < deadline:
            time.sleep(0.01)
        return super().run(job, remaining_s)


def test_a_running_job_keeps_its_message_invisible_until_it_ends():
    visibility = RecordingVisibility()
    fan_out = SlowFanOut(visibility, beats=2)
    invocation = AgencyInstallInvocation(lambda: fan_out, visibility, heartbeat_s=0.02, visibility_s=30)
    answer = invocation.handle(sqs_event(JOB.body()), Context())
    assert answer == {"batchItemFailures": []}
    assert len(visibility.calls) >= 2 and set(visibility.calls) == {("r", 30)}
    renewed = len(visibility.calls)
    import time

    time.sleep(0.1)
    assert len(visibility.calls) == renewed  # the heartbeat stopped with the run


def test_a_failed_heartbeat_does_not_stop_the_job():
    visibility = RecordingVisibility(fail=True)
    fan_out = SlowFanOut(visibility, beats=2)
    invocation = AgencyInstallInvocation(lambda: fan_out, visibility, heartbeat_s=0.02)
    assert invocation.handle(sqs_event(JOB.body()), Context()) == {"batchItemFailures": []}
    assert fan_out.jobs == [JOB]
