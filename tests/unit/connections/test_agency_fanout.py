"""The agency install fan-out over in-memory stores and a fake GHL: a listing run that hands chunks to
the queue, chunk runs in parallel, progress aggregated across them; resumable, idempotent steps."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from rankr_ghl.connections.agency_fanout import AgencyFanOut, FanOutReport
from rankr_ghl.connections.agency_job import (
    AgencyChunkJob,
    AgencyInstallJob,
    InvalidAgencyJob,
    agency_job_from_body,
)
from rankr_ghl.connections.errors import GHLUnavailable
from rankr_ghl.connections.models import ConnectionStatus, PauseReason, company_connection_id


class Crash(BaseException):
    """A killed container: nothing after it runs, no handler catches it."""


class CrashingTokens:
    """The world's token store; the process "dies" on the n-th secret write."""

    def __init__(self, inner, crash_at: int = 0, *, crash_on: str | None = None) -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.crash_on = crash_on  # or on this location's secret write
        self.installs = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def install(self, connection_id, bundle) -> None:
        self.installs += 1
        if self.installs == self.crash_at or connection_id == self.crash_on:
            raise Crash
        self.inner.install(connection_id, bundle)


def agency(world, locations: int, *, account: str = "acct_9") -> list[str]:
    world.install_company("co1")
    world.connections.link_rankr_account(company_connection_id("co1"), account)
    ids = [f"loc{i:03d}" for i in range(locations)]
    world.oauth.installed["co1"] = ids
    return ids


def fan_out(
    world,
    *,
    tokens=None,
    chunk_size: int = 4,
    chunks_per_job: int = 1,
    listing_run_jobs: int = 2,
    listing_head_start_jobs: int = 0,
    workers: int = 3,
    vault=None,
    release_budget=None,
) -> AgencyFanOut:
    """Minting starts with the first job listed unless a head start is asked for: several tests
    hold the listing until minting has begun."""
    return AgencyFanOut(
        world.oauth,
        tokens or world.tokens,
        world.connections,
        progress=world.connections,
        queue=world.agency_queue,
        company_tokens=vault or world.vault(),
        app_id="app123",
        metric=world.metrics,
        chunk_size=chunk_size,
        chunks_per_job=chunks_per_job,
        listing_run_jobs=listing_run_jobs,
        listing_head_start_jobs=listing_head_start_jobs,
        workers=workers,
        release_budget=release_budget,
        clock=world.clock,
    )


JOB = AgencyInstallJob("co1", 1_800_000_000_000)


def install(world, runner: AgencyFanOut, job=JOB) -> list[FanOutReport]:
    """The job, then every job it queued (chunks, continuations), as the queue would hand them out."""
    ran = len(world.agency_queue.jobs)
    reports = [runner.run(job)]
    while ran < len(world.agency_queue.jobs):
        pending = world.agency_queue.jobs[ran:]
        ran = len(world.agency_queue.jobs)
        reports += [runner.run(queued) for queued in pending]
    return reports


def progress(world) -> dict:
    return world.connections.get(company_connection_id("co1")).agency_install


def hand_off_after_the_first_two(world, chunks: int, chunk_size: int = 4) -> None:
    """The listing run takes the first job's worth before the second is listed; its first mint then
    waits until the listing has read every one. The second, listed while none waits, is kept for the
    run; every later one is listed while the second waits, so the listing queues it as a chunk job."""
    minting = threading.Event()
    read_all = threading.Event()
    reads = [0]
    record_states = world.connections.record_states
    listing_calls = world.oauth.installed_locations
    mint = world.oauth.location_token

    def listing_after_the_first_chunk(company_token, company_id, app_id):
        for position, item in enumerate(listing_calls(company_token, company_id, app_id)):
            if position == chunk_size:
                assert minting.wait(5.0)
            yield item

    def counting_reads(ids):
        found = record_states(ids)
        reads[0] += 1
        if reads[0] == chunks:
            threading.Timer(0.1, read_all.set).start()  # once the last chunk is queued for the run
        return found

    def waiting_mint(*args, **kwargs):
        minting.set()
        assert read_all.wait(5.0)
        return mint(*args, **kwargs)

    world.oauth.installed_locations = listing_after_the_first_chunk
    world.connections.record_states = counting_reads
    world.oauth.location_token = waiting_mint


def secrets_without_record(world) -> list[str]:
    return [cid for cid in world.tokens.secrets if world.connections.get(cid) is None]


def assert_all_connected(world, ids: list[str], account: str = "acct_9") -> None:
    for location_id in ids:
        record = world.connections.get(location_id)
        assert record is not None and record.status is ConnectionStatus.ACTIVE, location_id
        assert record.token_source == "company" and record.company_id == "co1"
        assert record.rankr_account_id == account and record.status_reason is None
        bundle = world.tokens.read(location_id)
        assert bundle is not None and bundle.minted_from_company and bundle.location_id == location_id


def test_fan_out_connects_every_installed_location_and_shows_progress(world):
    ids = agency(world, 10)
    reports = install(world, fan_out(world))
    assert reports[0].locations == 10 and sum(r.connected_now for r in reports) == 10
    assert world.oauth.mint_calls == 10
    assert_all_connected(world, ids)
    shown = progress(world)
    assert shown["status"] == "done" and shown["locations"] == 10 and shown["connected"] == 10
    assert shown["chunks"] == shown["chunksDone"] == 3 and shown["skipped"] == 0
    assert shown["startedMs"] == int(world.clock() * 1000)
    assert world.connections.finishes == [("co1", shown["attempt"])]
    assert world.metrics.counts["AgencyLocationsConnected"] == 10
    assert secrets_without_record(world) == []


def test_chunks_listed_while_the_run_mints_go_to_the_queue_each_in_a_message_group_of_its_own(world):
    ids = agency(world, 12)
    hand_off_after_the_first_two(world, chunks=3)
    runner = fan_out(world)
    listing = runner.run(JOB)
    chunk_jobs = world.agency_queue.chunk_jobs()
    assert listing.handed_off == 1 and len(chunk_jobs) == 1
    assert chunk_jobs[0].location_ids == tuple(ids[8:12])
    assert (
        chunk_jobs[0].group_id not in {JOB.group_id, ""}
        and chunk_jobs[0].attempt == progress(world)["attempt"]
    )
    # The listing run minted the rest itself: every location is in exactly one chunk.
    assert listing.connected_now == 8 and world.oauth.mint_calls == 8
    assert progress(world)["status"] == "running" and progress(world)["chunks"] == 3
    assert progress(world)["chunksDone"] == 2 and progress(world)["connected"] == 8
    chunk = runner.run(chunk_jobs[0])
    assert (chunk.connected_now, chunk.locations) == (4, 4)
    assert progress(world)["status"] == "done" and progress(world)["connected"] == 12
    assert_all_connected(world, ids)


def test_parallel_chunks_add_up_and_set_done_exactly_once_even_when_delivered_twice(world):
    ids = agency(world, 20)
    hand_off_after_the_first_two(world, chunks=5)
    runner = fan_out(world)
    runner.run(JOB)
    chunk_jobs = world.agency_queue.chunk_jobs()
    assert len(chunk_jobs) == 3
    with ThreadPoolExecutor(6) as pool:  # each chunk delivered twice, all at once
        list(pool.map(runner.run, chunk_jobs + chunk_jobs))
    shown = progress(world)
    assert shown["status"] == "done" and (shown["connected"], shown["chunksDone"], shown["chunks"]) == (
        20,
        5,
        5,
    )
    assert world.connections.finishes == [("co1", shown["attempt"])]
    assert world.oauth.mint_calls <= 20 + 3 * 4  # a twin delivery may mint its chunk again, nothing more
    runner.run(chunk_jobs[0])  # redelivered after done: counted once already
    assert progress(world)["connected"] == 20 and len(world.connections.finishes) == 1
    assert_all_connected(world, ids)


def test_a_crashed_chunk_resumes_while_the_others_complete(world):
    ids = agency(world, 16)
    hand_off_after_the_first_two(world, chunks=4)
    runner = fan_out(world)
    runner.run(JOB)
    first, *others = world.agency_queue.chunk_jobs()
    with pytest.raises(Crash):
        fan_out(world, tokens=CrashingTokens(world.tokens, crash_at=3)).run(first)
    # The killed chunk left its records installing, never a secret without its record.
    assert secrets_without_record(world) == []
    assert {world.connections.get(i).status_reason for i in first.location_ids} == {PauseReason.INSTALLING}
    for job in others:
        runner.run(job)
    assert progress(world)["status"] == "running" and progress(world)["chunksDone"] == 3
    mints = world.oauth.mint_calls
    retry = runner.run(first)  # the queue hands the killed chunk out again
    assert retry.connected_now == 4 and world.oauth.mint_calls == mints + 4
    shown = progress(world)
    assert shown["status"] == "done" and (shown["connected"], shown["chunksDone"]) == (16, 4)
    assert_all_connected(world, ids)
    assert secrets_without_record(world) == []


def test_a_killed_chunk_retry_mints_only_what_it_left_unfinished(world):
    ids = agency(world, 12)
    hand_off_after_the_first_two(world, chunks=3)
    fan_out(world).run(JOB)
    [chunk] = world.agency_queue.chunk_jobs()
    stored = world.tokens.writes
    with pytest.raises(Crash):
        fan_out(world, tokens=CrashingTokens(world.tokens, crash_at=3), workers=1).run(chunk)
    # The locations whose secrets the killed run wrote are finished by hand, as a store of the
    # chunk's first part would have left them.
    with_secret = [i for i in chunk.location_ids if world.tokens.read(i) is not None]
    written = len(with_secret)
    assert 2 <= written < 4 and world.tokens.writes == stored + written
    for location_id in with_secret:
        world.connections.set_status(location_id, ConnectionStatus.ACTIVE)
    mints = world.oauth.mint_calls
    retry = fan_out(world).run(chunk)
    assert (retry.connected_before, retry.connected_now) == (written, 4 - written)
    assert world.oauth.mint_calls == mints + 4 - written and world.tokens.writes == stored + 4
    assert progress(world)["status"] == "done" and progress(world)["connected"] == 12
    assert_all_connected(world, ids)


def test_a_job_of_several_chunks_stores_each_and_its_retry_redoes_only_the_unstored_ones(world):
    ids = agency(world, 24)
    hand_off_after_the_first_two(world, chunks=3, chunk_size=8)  # listed 8 at a time: jobs of 2 chunks
    runner = fan_out(world, chunks_per_job=2)
    listing = runner.run(JOB)
    [job] = world.agency_queue.chunk_jobs()
    assert job.location_ids == tuple(ids[16:24]) and listing.connected_now == 16
    # The listing run counted each chunk it stored; the job is counted once, when all of it is stored.
    assert (progress(world)["chunks"], progress(world)["chunksDone"]) == (5, 4)
    with pytest.raises(Crash):
        fan_out(world, tokens=CrashingTokens(world.tokens, crash_on=ids[22]), chunks_per_job=2).run(job)
    assert [world.connections.get(i).status for i in ids[16:20]] == [ConnectionStatus.ACTIVE] * 4
    assert progress(world)["chunksDone"] == 4 and secrets_without_record(world) == []
    mints = world.oauth.mint_calls
    retry = runner.run(job)
    assert (retry.connected_before, retry.connected_now) == (4, 4) and world.oauth.mint_calls == mints + 4
    shown = progress(world)
    assert shown["status"] == "done" and (shown["connected"], shown["chunksDone"]) == (24, 5)
    assert_all_connected(world, ids)


def test_a_rerun_or_second_install_creates_nothing_twice(world):
    ids = agency(world, 7)
    install(world, fan_out(world))
    mints, writes = world.oauth.mint_calls, world.tokens.writes
    second = AgencyInstallJob("co1", JOB.requested_ms + 5000)
    reports = install(world, fan_out(world), second)
    assert (reports[0].connected_now, reports[0].connected_before) == (0, 7)
    assert world.oauth.mint_calls == mints and world.tokens.writes == writes
    shown = progress(world)
    assert (
        shown["status"] == "done" and shown["connected"] == 7 and shown["requestedMs"] == second.requested_ms
    )
    assert_all_connected(world, ids)


def test_a_chunk_of_a_superseded_listing_is_dropped(world):
    agency(world, 12)
    hand_off_after_the_first_two(world, chunks=3)
    fan_out(world).run(JOB)
    [stale] = world.agency_queue.chunk_jobs()
    world.agency_queue.jobs.clear()
    install(world, fan_out(world), AgencyInstallJob("co1", JOB.requested_ms + 1))  # a new attempt
    mints = world.oauth.mint_calls
    report = fan_out(world).run(stale)
    assert report.dropped and world.oauth.mint_calls == mints
    assert progress(world)["status"] == "done" and progress(world)["connected"] == 12


def test_a_retryable_ghl_failure_fails_the_job_and_keeps_what_was_stored(world):
    ids = agency(world, 9)
    world.oauth.fail_mint_for.add("loc006")
    with pytest.raises(GHLUnavailable):
        install(world, fan_out(world))
    assert progress(world)["status"] == "failed" and progress(world)["error"] == "GHLUnavailable"
    assert_all_connected(world, ids[:4])
    world.oauth.fail_mint_for.clear()
    world.agency_queue.jobs.clear()
    reports = install(world, fan_out(world))
    assert (
        reports[0].connected_before >= 4
        and sum(r.connected_now for r in reports) + reports[0].connected_before == 9
    )
    assert progress(world)["status"] == "done" and progress(world)["error"] is None
    assert_all_connected(world, ids)


def test_a_location_ghl_will_not_mint_for_is_skipped_and_counted(world):
    ids = agency(world, 5)
    world.oauth.refuse_mint_for.add("loc002")
    reports = install(world, fan_out(world))
    assert sum(r.skipped for r in reports) == 1 and sum(r.connected_now for r in reports) == 4
    assert world.connections.get("loc002") is None and world.tokens.read("loc002") is None
    assert_all_connected(world, [i for i in ids if i != "loc002"])
    shown = progress(world)
    assert (shown["status"], shown["skipped"], shown["connected"], shown["locations"]) == ("done", 1, 4, 5)


def test_short_of_time_the_listing_continues_in_another_invocation(world):
    ids = agency(world, 10)
    report = fan_out(world, listing_run_jobs=10).run(JOB, remaining_s=lambda: 1.0)
    assert report.continued and report.connected_now == 0
    assert JOB.next() in world.agency_queue.jobs
    assert progress(world)["status"] == "continuing"
    reports = install(world, fan_out(world), JOB.next())  # a new attempt: it lists again
    assert sum(r.connected_now for r in reports) == 10
    assert progress(world)["status"] == "done" and progress(world)["connected"] == 10
    assert_all_connected(world, ids)


def test_a_chunk_short_of_time_queues_itself_again(world):
    agency(world, 12)
    hand_off_after_the_first_two(world, chunks=3)
    runner = fan_out(world)
    runner.run(JOB)
    [chunk] = world.agency_queue.chunk_jobs()
    report = runner.run(chunk, remaining_s=lambda: 1.0)
    assert report.continued and report.connected_now == 0 and world.agency_queue.jobs[-1] == chunk.next()
    runner.run(chunk.next())
    assert progress(world)["status"] == "done" and progress(world)["connected"] == 12


def test_bound_locations_keep_their_account_and_uninstalled_ones_come_back(world):
    ids = agency(world, 3)
    world.mint_location("co1", "loc000")
    world.connections.link_rankr_account("loc000", "acct_other")
    world.connections.set_status("loc000", ConnectionStatus.UNINSTALLED, "uninstall_webhook")
    world.tokens.schedule_deletion("loc000", 7)
    world.mint_location("co1", "loc001")
    world.connections.link_rankr_account("loc001", "acct_kept")
    report = fan_out(world).run(JOB)
    assert (report.connected_now, report.connected_before) == (2, 1)  # loc001 is live: left alone
    assert_all_connected(world, ["loc000"], account="acct_other")
    assert world.connections.get("loc001").rankr_account_id == "acct_kept"
    assert_all_connected(world, ids[2:])
    # New records are written whole; the one that lived before is updated in place.
    assert "loc002" in world.connections.put_ids and "loc000" not in world.connections.put_ids


def test_the_listing_run_mints_at_most_its_share_and_queues_the_rest(world):
    ids = agency(world, 12)
    runner = fan_out(world, listing_run_jobs=1)
    listing = runner.run(JOB)
    assert (listing.connected_now, listing.handed_off) == (4, 2)
    assert [j.location_ids for j in world.agency_queue.chunk_jobs()] == [tuple(ids[4:8]), tuple(ids[8:12])]
    for job in world.agency_queue.chunk_jobs():
        runner.run(job)
    assert progress(world)["status"] == "done" and progress(world)["connected"] == 12


def test_every_run_gives_back_what_is_left_of_its_budget_slice(world):
    agency(world, 12)
    released: list[str] = []
    runner = fan_out(world, listing_run_jobs=1, release_budget=released.append)
    world.oauth.fail_mint_for.add("loc000")
    with pytest.raises(GHLUnavailable):
        runner.run(JOB)
    assert released and set(released) == {"co1"}  # a failed run too
    world.oauth.fail_mint_for.clear()
    world.agency_queue.jobs.clear()
    released.clear()
    install(world, runner)
    # The listing run and its two chunk jobs, each twice: once its last GHL call is answered (its
    # last batches still storing), and at its end (nothing left to give back by then).
    assert released == ["co1"] * 6


def test_an_agency_uninstalled_meanwhile_is_dropped(world):
    agency(world, 3)
    world.connections.set_status(company_connection_id("co1"), ConnectionStatus.UNINSTALLED, "x")
    report = fan_out(world).run(JOB)
    assert report.dropped and world.oauth.mint_calls == 0


CHUNK = AgencyChunkJob("co1", 1, "a1b2c3", 2, ("loc1", "loc2"))


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"companyId": "", "requestedMs": 1}),
        json.dumps({"companyId": "co/../x", "requestedMs": 1}),
        json.dumps({"companyId": "co1", "requestedMs": -1}),
        json.dumps({"companyId": "co1", "requestedMs": True}),
        json.dumps({"companyId": "co1", "requestedMs": 1, "part": "2"}),
        json.dumps({"kind": "other", "companyId": "co1", "requestedMs": 1}),
        CHUNK.body().replace('"a1b2c3"', '"a/b"'),
        CHUNK.body().replace('"index":2', '"index":-1'),
        CHUNK.body().replace('["loc1","loc2"]', "[]"),
        CHUNK.body().replace('"loc2"', '"loc 2"'),
        CHUNK.body().replace('"companyId":"co1"', '"companyId":""'),
    ],
)
def test_a_malformed_job_is_refused(body):
    with pytest.raises(InvalidAgencyJob):
        agency_job_from_body(body)


def test_jobs_round_trip_and_continuations_are_distinct_messages():
    assert agency_job_from_body(JOB.body()) == JOB
    assert JOB.next().deduplication_id != JOB.deduplication_id and JOB.next().group_id == "co1"
    assert agency_job_from_body(CHUNK.body()) == CHUNK
    assert agency_job_from_body(CHUNK.next().body()) == CHUNK.next()
    assert CHUNK.next().deduplication_id != CHUNK.deduplication_id
    other = AgencyChunkJob("co1", 1, "a1b2c3", 3, ("loc3",))
    assert len({CHUNK.group_id, other.group_id, JOB.group_id}) == 3


def hold_the_listing_until_a_mint(world) -> list[bool]:
    """The listing waits at its fifth location (the second page of 4) until a token is minted; the
    list says whether it saw one within 5 s."""
    listing_calls = world.oauth.installed_locations
    minted = threading.Event()
    mint = world.oauth.location_token
    overlapped: list[bool] = []

    def mint_and_tell(*args, **kwargs):
        minted.set()
        return mint(*args, **kwargs)

    def held_listing(company_token, company_id, app_id):
        for position, item in enumerate(listing_calls(company_token, company_id, app_id)):
            if position == 4:
                overlapped.append(minted.wait(5.0))
            yield item

    world.oauth.location_token = mint_and_tell
    world.oauth.installed_locations = held_listing
    return overlapped


def test_minting_starts_while_the_rest_is_still_being_listed(world):
    """The listing run mints a chunk none waits behind: the first mints do not wait for the last page."""
    ids = agency(world, 12)
    overlapped = hold_the_listing_until_a_mint(world)  # the first chunk of 4 is minted meanwhile
    reports = install(world, fan_out(world))
    assert overlapped == [True]
    assert reports[0].locations == 12 and sum(r.connected_now for r in reports) == 12
    assert progress(world)["locations"] == 12 and progress(world)["status"] == "done"
    assert_all_connected(world, ids)


def test_a_company_token_refused_mid_listing_is_renewed_and_nothing_is_handed_out_twice(world):
    from rankr_ghl.ghl.errors import GHLUnauthorized

    ids = agency(world, 10)
    listing_calls = world.oauth.installed_locations
    refusals = [1]

    def refusing_once(company_token, company_id, app_id):
        for position, item in enumerate(listing_calls(company_token, company_id, app_id)):
            if position == 6 and refusals:
                refusals.pop()
                raise GHLUnauthorized("Invalid JWT", status=401)
            yield item

    world.oauth.installed_locations = refusing_once
    vault = world.vault()
    renewals: list[str] = []
    renew = vault.report_unauthorized

    def renew_and_count(resource_id, rejected):
        renewals.append(resource_id)
        return renew(resource_id, rejected)

    vault.report_unauthorized = renew_and_count
    reports = install(world, fan_out(world, vault=vault))
    assert renewals == [company_connection_id("co1")]
    assert reports[0].locations == 10 and sum(r.connected_now for r in reports) == 10
    assert world.oauth.mint_calls == 10  # each location minted once
    assert_all_connected(world, ids)


class SlowTokens(CrashingTokens):
    """Secret writes that take a while: the chunk is stored after the listing has ended."""

    def install(self, connection_id, bundle) -> None:
        time.sleep(0.2)
        self.inner.install(connection_id, bundle)


def tally_writes(world) -> list[str]:
    writes: list[str] = []
    for name in ("count_chunk", "complete_listing", "complete_listing_finished", "finish"):
        method = getattr(world.connections, name)

        def recorded(*args, _name=name, _method=method, **kwargs):
            writes.append(_name)
            return _method(*args, **kwargs)

        setattr(world.connections, name, recorded)
    return writes


def test_a_small_agency_stored_by_its_listing_run_is_counted_completed_and_done_in_one_write(world):
    ids = agency(world, 3)
    writes = tally_writes(world)
    reports = install(world, fan_out(world, tokens=SlowTokens(world.tokens)))
    assert writes == ["complete_listing_finished"]
    assert reports[0].connected_now == 3
    assert_all_connected(world, ids)
    shown = progress(world)
    assert (
        shown["status"],
        shown["locations"],
        shown["connected"],
        shown["chunks"],
        shown["chunksDone"],
    ) == (
        "done",
        3,
        3,
        1,
        1,
    )
    assert world.connections.finishes == [("co1", shown["attempt"])]


def test_when_the_one_write_finds_a_chunk_uncounted_the_counts_are_written_one_by_one(world):
    agency(world, 3)
    # Nothing written, as when a chunk is still uncounted (a run of the attempt elsewhere).
    world.connections.complete_listing_finished = lambda *args, **kwargs: None
    writes = tally_writes(world)
    install(world, fan_out(world, tokens=SlowTokens(world.tokens)))
    assert writes == ["complete_listing_finished", "count_chunk", "complete_listing", "finish"]
    shown = progress(world)
    assert (shown["status"], shown["connected"], shown["chunks"], shown["chunksDone"]) == ("done", 3, 1, 1)
    assert len(world.connections.finishes) == 1


def test_the_listing_gets_a_head_start_so_later_jobs_are_queued_before_minting_begins(world):
    ids = agency(world, 16)
    mint = world.oauth.location_token
    listing_calls = world.oauth.installed_locations
    queued_when_minting_began: list[int] = []

    def mint_and_note(*args, **kwargs):
        if not queued_when_minting_began:
            queued_when_minting_began.append(len(world.agency_queue.chunk_jobs()))
        return mint(*args, **kwargs)

    def paced_listing(company_token, company_id, app_id):
        for item in listing_calls(company_token, company_id, app_id):
            time.sleep(0.01)  # pages take their time, as they do behind GHL's budget
            yield item

    world.oauth.location_token = mint_and_note
    world.oauth.installed_locations = paced_listing
    # Jobs of 4; the listing run keeps the first and lists three jobs' worth before it mints.
    reports = install(world, fan_out(world, listing_run_jobs=1, listing_head_start_jobs=3))
    assert queued_when_minting_began and queued_when_minting_began[0] >= 1
    assert reports[0].locations == 16 and sum(r.connected_now for r in reports) == 16
    assert_all_connected(world, ids)


def test_a_head_start_never_waits_longer_than_its_bound_for_a_stalled_listing(world, monkeypatch):
    from rankr_ghl.connections import agency_fanout

    monkeypatch.setattr(agency_fanout, "LISTING_HEAD_START_S", 0.05)
    ids = agency(world, 8)
    overlapped = hold_the_listing_until_a_mint(world)  # the second job waits for the first's mints
    reports = install(world, fan_out(world, listing_run_jobs=1, listing_head_start_jobs=3))
    assert overlapped == [True]
    assert sum(r.connected_now for r in reports) == 8
    assert_all_connected(world, ids)
