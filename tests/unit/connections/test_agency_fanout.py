"""The agency install fan-out over in-memory stores and a fake GHL: resumable, idempotent steps."""

from __future__ import annotations

import json

import pytest
from rankr_ghl.connections.agency_fanout import AgencyFanOut
from rankr_ghl.connections.agency_job import AgencyInstallJob, InvalidAgencyJob
from rankr_ghl.connections.errors import GHLUnavailable
from rankr_ghl.connections.models import ConnectionStatus, PauseReason, company_connection_id


class Crash(BaseException):
    """A killed container: nothing after it runs, no handler catches it."""


class CrashingTokens:
    """The world's token store; the process "dies" on the n-th secret write."""

    def __init__(self, inner, crash_at: int) -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.installs = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def install(self, connection_id, bundle) -> None:
        self.installs += 1
        if self.installs == self.crash_at:
            raise Crash
        self.inner.install(connection_id, bundle)


def agency(world, locations: int, *, account: str = "acct_9") -> list[str]:
    world.install_company("co1")
    world.connections.link_rankr_account(company_connection_id("co1"), account)
    ids = [f"loc{i:03d}" for i in range(locations)]
    world.oauth.installed["co1"] = ids
    return ids


def fan_out(world, *, tokens=None, chunk_size: int = 4, workers: int = 3, progress=None) -> AgencyFanOut:
    return AgencyFanOut(
        world.oauth,
        tokens or world.tokens,
        world.connections,
        progress=progress or world.connections,
        queue=world.agency_queue,
        company_tokens=world.vault(),
        app_id="app123",
        metric=world.metrics,
        chunk_size=chunk_size,
        workers=workers,
        clock=world.clock,
    )


JOB = AgencyInstallJob("co1", 1_800_000_000_000)


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
    report = fan_out(world).run(JOB)
    assert (report.locations, report.connected_now, report.connected_before) == (10, 10, 0)
    assert not report.continued and world.oauth.mint_calls == 10
    assert_all_connected(world, ids)
    progress = world.connections.get(company_connection_id("co1")).agency_install
    assert progress["status"] == "done" and progress["locations"] == 10 and progress["connected"] == 10
    assert progress["startedMs"] == int(world.clock() * 1000)
    assert world.metrics.counts["AgencyLocationsConnected"] == 10
    assert secrets_without_record(world) == []


class ProgressLog:
    """The world's progress store, keeping every progress it is given."""

    def __init__(self, inner) -> None:
        self.inner, self.written = inner, []

    def record_agency_install(self, company_id, progress) -> None:
        self.written.append(progress)
        self.inner.record_agency_install(company_id, progress)


class SlowMints:
    """The world's OAuth client, each location token taking `seconds` of the fake clock."""

    def __init__(self, inner, clock, seconds: float) -> None:
        self.inner, self.clock, self.seconds = inner, clock, seconds

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def location_token(self, *args):
        self.clock.advance(self.seconds)
        return self.inner.location_token(*args)


@pytest.mark.parametrize("mint_s", [0.0, 0.6])
def test_progress_is_written_at_the_start_the_end_and_at_most_once_a_second_between(world, mint_s):
    ids = agency(world, 10)
    log = ProgressLog(world.connections)
    world.oauth = SlowMints(world.oauth, world.clock, mint_s)

    fan_out(world, chunk_size=1, workers=1, progress=log).run(JOB)

    statuses = [p.status.value for p in log.written]
    assert statuses[0] == "running" and statuses[-1] == "done" and set(statuses[1:-1]) <= {"running"}
    between = log.written[1:-1]
    if mint_s == 0:
        assert between == []  # the whole run within a second: its start and its end only
    else:
        assert 1 <= len(between) <= 6  # 6 s of minting, each chunk's progress held back for a second
    written_ms = [p.updated_ms for p in log.written[:-1]]
    assert all(b - a >= 1000 for a, b in zip(written_ms, written_ms[1:], strict=False))
    assert log.written[-1].connected == 10
    assert_all_connected(world, ids)


def test_a_rerun_or_second_install_creates_nothing_twice(world):
    ids = agency(world, 7)
    fan_out(world).run(JOB)
    mints, writes = world.oauth.mint_calls, world.tokens.writes
    report = fan_out(world).run(AgencyInstallJob("co1", JOB.requested_ms + 5000))
    assert (report.connected_now, report.connected_before) == (0, 7)
    assert world.oauth.mint_calls == mints and world.tokens.writes == writes
    assert_all_connected(world, ids)


def test_a_crash_midway_resumes_where_it_stopped(world):
    ids = agency(world, 10)
    crashing = CrashingTokens(world.tokens, crash_at=6)  # in the second chunk of 4
    with pytest.raises(Crash):
        fan_out(world, tokens=crashing).run(JOB)
    assert secrets_without_record(world) == []  # records always go first
    installing = [
        i for i in ids if (r := world.connections.get(i)) is not None and r.status is ConnectionStatus.PAUSED
    ]
    assert installing and all(
        world.connections.get(i).status_reason == PauseReason.INSTALLING for i in installing
    )
    done_before = [i for i in ids if (r := world.connections.get(i)) and r.status is ConnectionStatus.ACTIVE]
    # Chunks are stored while the next one is minted, so which chunks finished before the crash
    # depends on timing; what matters is that none is both finished and still installing.
    assert not set(installing) & set(done_before)
    mints = world.oauth.mint_calls
    report = fan_out(world).run(JOB)
    # Only what the crash left unfinished is minted again: stored chunks stay as they were.
    assert report.connected_before == len(done_before) and report.connected_now == 10 - len(done_before)
    assert world.oauth.mint_calls == mints + 10 - len(done_before)
    assert_all_connected(world, ids)
    assert secrets_without_record(world) == []


def test_a_retryable_ghl_failure_fails_the_job_and_keeps_what_was_stored(world):
    ids = agency(world, 9)
    world.oauth.fail_mint_for.add("loc006")
    with pytest.raises(GHLUnavailable):
        fan_out(world).run(JOB)
    assert world.connections.get(company_connection_id("co1")).agency_install["status"] == "failed"
    assert_all_connected(world, ids[:4])
    world.oauth.fail_mint_for.clear()
    report = fan_out(world).run(JOB)
    assert report.connected_before >= 4 and report.connected_before + report.connected_now == 9
    assert_all_connected(world, ids)


def test_a_location_ghl_will_not_mint_for_is_skipped_and_counted(world):
    ids = agency(world, 5)
    world.oauth.refuse_mint_for.add("loc002")
    report = fan_out(world).run(JOB)
    assert report.skipped == 1 and report.connected_now == 4
    assert world.connections.get("loc002") is None and world.tokens.read("loc002") is None
    assert_all_connected(world, [i for i in ids if i != "loc002"])
    assert world.connections.get(company_connection_id("co1")).agency_install["skipped"] == 1


def test_short_of_time_it_queues_the_rest_as_a_continuation(world):
    ids = agency(world, 10)
    left = iter([100.0, 100.0, 1.0])  # two chunks fit, then the invocation is nearly over
    report = fan_out(world).run(JOB, remaining_s=lambda: next(left))
    assert report.continued and report.connected_now == 8
    assert world.agency_queue.jobs == [JOB.next()]
    assert world.connections.get(company_connection_id("co1")).agency_install["status"] == "continuing"
    report = fan_out(world).run(JOB.next())
    assert not report.continued and report.connected_now == 2
    assert_all_connected(world, ids)


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


def test_an_agency_uninstalled_meanwhile_is_dropped(world):
    agency(world, 3)
    world.connections.set_status(company_connection_id("co1"), ConnectionStatus.UNINSTALLED, "x")
    report = fan_out(world).run(JOB)
    assert report.dropped and world.oauth.mint_calls == 0


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
    ],
)
def test_a_malformed_job_is_refused(body):
    with pytest.raises(InvalidAgencyJob):
        AgencyInstallJob.from_body(body)


def test_a_job_round_trips_and_continuations_are_distinct_messages():
    assert AgencyInstallJob.from_body(JOB.body()) == JOB
    assert JOB.next().deduplication_id != JOB.deduplication_id and JOB.next().group_id == "co1"


def test_minting_starts_while_the_rest_is_still_being_listed(world):
    """The listing hands over each chunk as it is read: the first mints do not wait for the last page."""
    import threading

    ids = agency(world, 12)
    listing_calls = world.oauth.installed_locations
    minted = threading.Event()
    mint = world.oauth.location_token

    def mint_and_tell(*args, **kwargs):
        minted.set()
        return mint(*args, **kwargs)

    overlapped: list[bool] = []

    def slow_listing(company_token, company_id, app_id):
        for position, item in enumerate(listing_calls(company_token, company_id, app_id)):
            if position == 4:  # the second page: the first chunk of 4 is minted meanwhile
                overlapped.append(minted.wait(5.0))
            yield item

    world.oauth.location_token = mint_and_tell
    world.oauth.installed_locations = slow_listing
    report = fan_out(world).run(JOB)
    assert overlapped == [True]
    assert (report.locations, report.connected_now) == (12, 12)
    assert world.connections.get(company_connection_id("co1")).agency_install["locations"] == 12
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
    report = AgencyFanOut(
        world.oauth, world.tokens, world.connections, progress=world.connections,
        queue=world.agency_queue, company_tokens=vault, app_id="app123", metric=world.metrics,
        chunk_size=4, workers=3, clock=world.clock,
    ).run(JOB)  # fmt: skip
    assert renewals == [company_connection_id("co1")]
    assert (report.locations, report.connected_now) == (10, 10)
    assert world.oauth.mint_calls == 10  # each location minted once
    assert_all_connected(world, ids)
