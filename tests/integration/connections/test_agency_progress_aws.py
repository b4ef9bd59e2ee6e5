"""The agency install tally on the embedded DynamoDB: parallel chunk runs add up exactly, a chunk is
counted once whatever its deliveries, and `done` is set by exactly one writer."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from rankr_ghl.aws.agency_progress import DynamoAgencyProgress
from rankr_ghl.aws.connections_store import DynamoConnectionStore
from rankr_ghl.connections.agency_job import (
    AgencyInstallProgress,
    AgencyInstallStatus,
    ChunkCount,
    ListingTotals,
    is_complete,
)
from rankr_ghl.connections.errors import ConnectionNotFound

pytestmark = pytest.mark.integration


@pytest.fixture
def tally(embedded_aws):
    table = embedded_aws.template.functions["OAuthCallbackFunction"].env["CONNECTIONS_TABLE"]
    client = embedded_aws.client("dynamodb")
    company = f"coTally{uuid.uuid4().hex[:8]}"
    client.put_item(
        TableName=table,
        Item={
            "connectionId": {"S": f"company:{company}"},
            "companyId": {"S": company},
            "userType": {"S": "Company"},
            "status": {"S": "active"},
            "installedAt": {"S": "2026-12-07T10:00:00+00:00"},
        },
    )
    return DynamoAgencyProgress(table, client), DynamoConnectionStore(table, client), company


def start(progress: DynamoAgencyProgress, company: str, attempt: str) -> None:
    progress.start_attempt(
        company, AgencyInstallProgress(AgencyInstallStatus.RUNNING, 1, 2, started_ms=2, attempt=attempt)
    )


def test_parallel_chunks_add_up_and_one_writer_sets_done(tally):
    progress, store, company = tally
    start(progress, company, "att1")

    def count(key: int):
        return progress.count_chunk(company, "att1", str(key), connected=key, skipped=1, now_ms=10 + key)

    with ThreadPoolExecutor(8) as pool:  # eight chunks, each delivered twice, at once
        counted = list(pool.map(count, [*range(8), *range(8)]))
    assert sum(state is not None for state in counted) == 8
    state = progress.complete_listing(company, "att1", ListingTotals(50, 8, 7), now_ms=99)
    assert state is not None and is_complete(state)
    counts = (state["connected"], state["skipped"], state["chunksDone"], state["locations"])
    assert counts == (28 + 7, 8, 8, 50)
    assert (
        progress.complete_listing(company, "att1", ListingTotals(50, 8, 7), now_ms=99) is None
    )  # the listing completes once per attempt

    barrier = threading.Barrier(6)

    def finish(_: int) -> bool:
        barrier.wait()
        return progress.finish(company, "att1", 8, 123)

    with ThreadPoolExecutor(6) as pool:
        assert sorted(pool.map(finish, range(6))) == [False] * 5 + [True]
    shown = store.get(f"company:{company}").agency_install
    assert shown["status"] == "done" and shown["updatedMs"] == 123 and shown["connected"] == 35
    json.dumps(shown)  # the view the control API serialises: the counted chunk keys are not in it
    assert progress.count_chunk(company, "att1", "9", connected=1, skipped=0, now_ms=1) is None


def test_not_done_while_a_chunk_is_missing_and_a_superseded_attempt_changes_nothing(tally):
    progress, store, company = tally
    start(progress, company, "old")
    progress.count_chunk(company, "old", "0", connected=3, skipped=0, now_ms=5)
    state = progress.complete_listing(company, "old", ListingTotals(6, 2, 0), now_ms=6)
    assert state is not None and not is_complete(state)
    assert not progress.finish(company, "old", 2, 7)
    progress.record_status(company, "old", AgencyInstallStatus.FAILED, 8, error="GHLUnavailable")
    assert store.get(f"company:{company}").agency_install["error"] == "GHLUnavailable"

    start(progress, company, "new")  # a new listing run: counters and counted chunks reset
    assert progress.count_chunk(company, "old", "1", connected=3, skipped=0, now_ms=9) is None
    progress.record_status(company, "old", AgencyInstallStatus.FAILED, 9, error="Stale")
    shown = store.get(f"company:{company}").agency_install
    assert (shown["attempt"], shown["connected"], shown["chunksDone"], shown["error"]) == ("new", 0, 0, None)
    assert progress.count_chunk(company, "new", "0", connected=3, skipped=0, now_ms=10) is not None


def test_an_attempt_never_creates_a_missing_company_connection(tally):
    progress, store, _ = tally
    with pytest.raises(ConnectionNotFound):
        start(progress, "coGone", "att1")
    assert store.get("company:coGone") is None


def test_a_listing_run_that_stored_every_chunk_completes_counts_and_finishes_in_one_write(tally):
    progress, store, company = tally
    start(progress, company, "att1")
    progress.count_chunk(company, "att1", "0.0", connected=4, skipped=1, now_ms=5)

    def complete(last: ChunkCount | None, chunks: int = 2) -> dict | None:
        return progress.complete_listing_finished(
            company, "att1", ListingTotals(12, chunks, 2), last=last, now_ms=9
        )

    assert complete(ChunkCount("0.0", 5, 0)) is None  # that chunk is counted already: nothing written
    assert complete(None) is None  # a chunk is still uncounted
    assert "chunks" not in store.get(f"company:{company}").agency_install
    state = complete(ChunkCount("0.1", 5, 0))
    assert state is not None and is_complete(state)
    assert (state["status"], state["connected"], state["skipped"], state["chunksDone"]) == ("done", 11, 1, 2)
    assert complete(ChunkCount("0.2", 1, 0), chunks=3) is None  # the listing completes once per attempt
    assert progress.count_chunk(company, "att1", "0.1", connected=5, skipped=0, now_ms=10) is None
    assert not progress.finish(company, "att1", 2, 11)  # done already


def test_an_empty_listing_completes_and_finishes_in_one_write(tally):
    progress, store, company = tally
    start(progress, company, "att1")
    state = progress.complete_listing_finished(company, "att1", ListingTotals(3, 0, 3), last=None, now_ms=9)
    assert state is not None and state["status"] == "done" and state["connected"] == 3
    assert store.get(f"company:{company}").agency_install["status"] == "done"
