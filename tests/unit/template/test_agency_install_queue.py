"""AgencyInstallQueue's visibility timeout is the one the fan-out's heartbeat renews, and the function may
renew it."""

from __future__ import annotations

from pathlib import Path

from rankr_ghl.connections.agency_invocation import HEARTBEAT_S, VISIBILITY_S
from rankr_ghl_tools.local.template import load_template

ROOT = Path(__file__).resolve().parents[3]


def test_the_queue_hands_a_job_out_again_only_after_missed_heartbeats() -> None:
    template = load_template(ROOT / "template.yaml")
    queue = template.queues["AgencyInstallQueue"]
    assert queue.visibility_timeout_s == VISIBILITY_S
    # Two beats may be missed (a slow moment, an SQS hiccup) before a live run's job is handed out again.
    assert VISIBILITY_S >= 3 * HEARTBEAT_S
    # A crashed run's job comes back well before the function's own timeout would have freed it.
    assert queue.visibility_timeout_s < template.functions["AgencyInstallFunction"].timeout_s


def test_chunk_jobs_can_run_in_parallel_containers() -> None:
    from rankr_ghl.connections.agency_job import AgencyChunkJob

    template = load_template(ROOT / "template.yaml")
    queue = template.queues["AgencyInstallQueue"]
    # Each chunk job has a message group of its own, and a FIFO queue deduplicates per group: two
    # chunks are two messages, handed out at once.
    assert queue.fifo and queue.deduplication_scope == "messageGroup"
    assert queue.fifo_throughput_limit == "perMessageGroupId"
    first, second = (AgencyChunkJob("co1", 1, "att1", index, ("loc1",)) for index in (0, 1))
    assert first.group_id != second.group_id
    [source] = template.functions["AgencyInstallFunction"].sqs_sources
    assert source.batch_size == 1 and (source.maximum_concurrency or 0) >= 2
