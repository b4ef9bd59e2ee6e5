"""The agency install fan-out: one location token, one secret and one record per installed location.

Runs from AgencyInstallQueue, after the OAuth callback stored the company token. Two kinds of run:

- **The listing run** (`AgencyInstallJob`, the agency's message group) starts an *attempt*: it
  resets the progress on the company connection, lists the installed locations on a thread of its
  own (`agency_listing`) and reads their records, a job's worth at a time; a location whose record
  is live is done already, so a re-run or a second INSTALL creates nothing twice. The first job's
  worth with locations to connect (up to `listing_run_jobs`) it mints and stores itself: minting
  starts after the first pages. Every other one, and one listed while the run has one waiting
  already, goes to the queue as an `AgencyChunkJob` at once (a message group each, so jobs run in
  parallel in other containers). The run ends with the listing and what it kept.
- **A chunk run** (`AgencyChunkJob`) reads its locations' records again (a retry skips what a killed
  run connected), mints the rest within the company's shared rate budget and stores them while it
  mints (`agency_chunks`: records `paused/installing`, secrets, records `active`, in small batches).

Every run of an agency spends the one company budget (`ghl/budget.py`), so together they never exceed
the company's window; while a killed chunk waits for its retry, the other chunks keep the budget busy.

Progress is aggregated on the company connection (`AgencyProgressTally`): each chunk the listing run
stores and each chunk job is counted once (by its key, within its attempt), the listing adds the
total and the locations connected before when it is complete, and the write that finds every count
in sets `done`, exactly once. A chunk of an
attempt that is no longer current (a newer listing run started) is dropped: that attempt lists and
queues its locations again.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rankr_ghl.connections.agency_chunks import (
    AgencyConnections,
    Chunk,
    ChunkInstaller,
    ChunkOwner,
    ChunkPipeline,
    CompanyTokens,
    is_connected,
)
from rankr_ghl.connections.agency_job import (
    AgencyChunkJob,
    AgencyInstallJob,
    AgencyInstallProgress,
    AgencyInstallQueue,
    AgencyInstallStatus,
    AgencyJob,
    AgencyProgressTally,
    ChunkCount,
    ListingTotals,
    is_complete,
)
from rankr_ghl.connections.agency_listing import AgencyListing, ListedBatch
from rankr_ghl.connections.errors import CompanyTokenNotStored, ConnectionNotFound, GHLUnavailable
from rankr_ghl.connections.status import ConnectionStatus, company_connection_id
from rankr_ghl.ghl.errors import GHLError, GHLUnauthorized
from rankr_ghl.observability import logger

if TYPE_CHECKING:
    from rankr_ghl.connections.models import Connection
    from rankr_ghl.connections.ports import OAuthClient, TokenStore
    from rankr_ghl.connections.vault import MetricSink

DEFAULT_CHUNK = 50  # locations stored together (records, secrets, records)
# Chunks per job: one records read, one queued message, one progress count. A chunk run mints one
# chunk while it stores the previous one, so it keeps the budget busy on its own; between two jobs a
# container spends its last chunk's storing and the next invocation's start off the budget.
DEFAULT_CHUNKS_PER_JOB = 4
DEFAULT_WORKERS = 8
# Jobs' worth the listing run mints itself: the first only. Its minting starts after the first pages;
# every later job goes to the queue as it is listed, so the other container starts early, and the
# listing run ends soon after the listing: a crash after that costs a chunk job's retry (its chunks in
# flight) while the other container goes on, not a new listing (docs/agency-installs.md, measured).
DEFAULT_LISTING_RUN_JOBS = 1
# Jobs' worth the listing run lists before it starts minting (bounded by LISTING_HEAD_START_S): once
# minting starts, the listing's pages wait behind the run's minting threads for the company's budget
# (about a ninth of it), and the next container's cold start begins only when its first job is queued
# (1.9 s into the bench's run without a head start, 1.2-1.5 s with one; measured).
DEFAULT_LISTING_HEAD_START_JOBS = 3
LISTING_HEAD_START_S = 1.5
# Left free at the end of an invocation: one chunk at GHL's production rate (100 per 10 s) plus storing.
DEFAULT_RESERVE_S = 25.0


@dataclass(frozen=True)
class FanOutReport:
    company_id: str
    locations: int  # installed locations GHL listed (a chunk run: the chunk's)
    connected_now: int  # connected by this invocation
    connected_before: int  # live already (an earlier run, another install)
    skipped: int  # GHL refused their token (not installed any more, not found)
    continued: bool  # the rest was queued as a continuation
    dropped: bool = False  # the agency is not connected, or the job's attempt was superseded
    handed_off: int = 0  # chunks the listing run queued for other runs


class _ListingRun:
    """One listing run: its job, attempt and owner, and its counters (its storing threads update
    them under `lock`)."""

    def __init__(self, job: AgencyInstallJob, attempt: str, owner: ChunkOwner) -> None:
        self.job = job
        self.attempt = attempt
        self.owner = owner
        self.lock = threading.Lock()
        self.connected_now = 0
        self.skipped = 0
        self.before = 0
        self.jobs = 0  # listed jobs' worth of locations to connect: each gets the next index
        self.chunks = 0  # counts to wait for: one per chunk job handed off, one per chunk minted here
        self.handed_off = 0
        self.kept = 0  # listed jobs' worth this run mints itself
        self.listed_all = False  # the listing is exhausted: no chunk is added any more
        self.counted = 0  # chunks stored (and counted, or deferred) so far
        # The last chunk's count, when it was stored after the listing ended: the write that
        # completes the listing counts it (`complete_listing_finished`), one write instead of three.
        self.deferred: ChunkCount | None = None


class AgencyFanOut:
    def __init__(
        self,
        oauth: OAuthClient,
        tokens: TokenStore,
        connections: AgencyConnections,
        *,
        progress: AgencyProgressTally,
        queue: AgencyInstallQueue,
        company_tokens: CompanyTokens,
        app_id: str,
        metric: MetricSink,
        chunk_size: int = DEFAULT_CHUNK,
        chunks_per_job: int = DEFAULT_CHUNKS_PER_JOB,
        listing_run_jobs: int = DEFAULT_LISTING_RUN_JOBS,
        listing_head_start_jobs: int = DEFAULT_LISTING_HEAD_START_JOBS,
        workers: int = DEFAULT_WORKERS,
        reserve_s: float = DEFAULT_RESERVE_S,
        clock: Callable[[], float] = time.time,
        new_attempt: Callable[[], str] = lambda: uuid.uuid4().hex[:12],
        release_budget: Callable[[str], None] | None = None,
    ) -> None:
        """`release_budget(company_id)`: give back what is left of this process's slice of the
        company's shared rate budget (a run ends: nothing else of this container spends it)."""
        if chunk_size < 1 or chunks_per_job < 1 or workers < 1:
            raise ValueError("chunk_size, chunks_per_job and workers must be positive")
        self._oauth = oauth
        self._connections = connections
        self._progress = progress
        self._queue = queue
        self._company_tokens = company_tokens
        self._app_id = app_id
        self._chunk = chunk_size
        self._job_size = chunk_size * chunks_per_job
        self._listing_run_jobs = listing_run_jobs
        self._listing_head_start = listing_head_start_jobs * chunk_size * chunks_per_job
        self._workers = workers
        self._reserve_s = reserve_s
        self._clock = clock
        self._new_attempt = new_attempt
        self._release_budget = release_budget
        self._installer = ChunkInstaller(
            oauth, tokens, connections, company_tokens=company_tokens, metric=metric, clock=clock
        )

    def run(self, job: AgencyJob, remaining_s: Callable[[], float | None] = lambda: None) -> FanOutReport:
        logger.info(
            "agency install run",
            extra={
                "company_id": job.company_id,
                "chunk": job.index if isinstance(job, AgencyChunkJob) else None,
                "part": job.part,
            },
        )
        company = self._connections.get(company_connection_id(job.company_id))
        if company is None or company.status is ConnectionStatus.UNINSTALLED:
            logger.info(
                "agency install job for an agency that is not connected", extra={"company_id": job.company_id}
            )
            return FanOutReport(job.company_id, 0, 0, 0, 0, continued=False, dropped=True)
        try:
            if isinstance(job, AgencyChunkJob):
                return self._run_chunk(job, company, remaining_s)
            return self._run_listing(job, company, remaining_s)
        finally:
            if self._release_budget is not None:
                self._release_budget(job.company_id)

    # ----------------------------------------------------------------------------- the listing run
    def _run_listing(
        self, job: AgencyInstallJob, company: Connection, remaining_s: Callable[[], float | None]
    ) -> FanOutReport:
        company_id = job.company_id
        token = self._company_token(company.connection_id)
        attempt = self._new_attempt()
        started_ms = self._now_ms()
        self._progress.start_attempt(
            company_id,
            AgencyInstallProgress(
                AgencyInstallStatus.RUNNING,
                job.requested_ms,
                started_ms,
                started_ms=started_ms,
                attempt=attempt,
            ),
        )
        run = _ListingRun(job, attempt, ChunkOwner(company_id, job.requested_ms, company.rankr_account_id))
        listing = AgencyListing(
            lambda company_token: self._list_installed(company_id, company_token),
            lambda rejected: self._company_tokens.report_unauthorized(company.connection_id, rejected),
            self._connections,
            is_connected,
            token=token,
            batch=self._job_size,
            overflow=lambda listed: self._hand_off(run, listed),
        )
        try:
            continued = self._mint_listed(run, listing.start(), remaining_s)
            if continued:
                self._progress.record_status(
                    company_id, attempt, AgencyInstallStatus.CONTINUING, self._now_ms()
                )
            else:
                self._complete_listing(run, listing.listed)
        except Exception as exc:
            self._record_failure(company_id, attempt, exc)
            raise
        finally:
            listing.stop()
        logger.info(
            "agency install listing",
            extra={
                "company_id": company_id,
                "locations": listing.listed,
                "chunks": run.chunks,
                "handed_off": run.handed_off,
                "connected_now": run.connected_now,
                "connected_before": run.before,
                "continued": continued,
            },
        )
        return FanOutReport(
            company_id,
            listing.listed,
            run.connected_now,
            run.before,
            run.skipped,
            continued,
            handed_off=run.handed_off,
        )

    def _mint_listed(
        self, run: _ListingRun, listing: AgencyListing, remaining_s: Callable[[], float | None]
    ) -> bool:
        """Mint and store the listed locations the listing keeps for this run, through one
        pipeline (the listing queues the others for other containers: `_hand_off`). True when the
        run stopped short of time and queued the listing's continuation."""
        job = run.job

        def count_stored(chunk: Chunk, _connected: int, skipped: int) -> None:
            count = ChunkCount(chunk.key, len(chunk.location_ids) - skipped, skipped)
            with run.lock:
                run.counted += 1
                if run.listed_all and not run.handed_off and run.counted == run.chunks:
                    run.deferred = count
                    return
            self._count(job.company_id, run.attempt, count)

        with ChunkPipeline(
            self._installer, run.owner, workers=self._workers, on_stored=count_stored
        ) as pipeline:
            try:
                for listed in listing.batches():
                    if listed.todo and run.kept >= self._listing_run_jobs:
                        self._hand_off(run, listed)
                        continue
                    with run.lock:
                        run.before += listed.connected_before
                        if not listed.todo:
                            continue
                        run.kept += 1
                        index = run.jobs
                        run.jobs += 1
                        chunks = [
                            Chunk(f"{index}.{part}", ids, listed.existing)
                            for part, ids in enumerate(self._split(listed.todo))
                        ]
                        run.chunks += len(chunks)  # counted one by one, as each is stored
                    if run.kept == 1:
                        listing.wait_listed(self._listing_head_start, LISTING_HEAD_START_S)
                    left = remaining_s()
                    if left is not None and left < self._reserve_s:
                        # The listing starts again in the next invocation, as a new attempt: jobs
                        # queued under this one are dropped there and queued again if still to do.
                        pipeline.drain()
                        self._queue.enqueue(job.next())
                        logger.info(
                            "agency install continues in another invocation",
                            extra={"company_id": job.company_id},
                        )
                        return True
                    for chunk in chunks:
                        pipeline.add(chunk)
                with run.lock:
                    run.listed_all = True
                self._minting_done(job.company_id, pipeline)
                pipeline.drain()
            finally:
                run.connected_now, run.skipped = pipeline.connected, pipeline.skipped
        return False

    def _minting_done(self, company_id: str, pipeline: ChunkPipeline) -> None:
        """The run's last GHL call is answered: its unused slice of the company's budget goes back
        now, while the last batches are stored, not after (the other containers' runs use it)."""
        pipeline.wait_minted()
        if self._release_budget is not None:
            self._release_budget(company_id)

    def _hand_off(self, run: _ListingRun, listed: ListedBatch) -> None:
        """A listed job's worth this run has no time for: a chunk job, in a message group of its own."""
        with run.lock:
            run.before += listed.connected_before
            index = run.jobs
            run.jobs += 1
            run.chunks += 1  # a chunk job is counted once, when all of it is stored
            run.handed_off += 1
        job = run.job
        self._queue.enqueue(
            AgencyChunkJob(job.company_id, job.requested_ms, run.attempt, index, tuple(listed.todo))
        )

    def _split(self, location_ids: Sequence[str]) -> list[tuple[str, ...]]:
        return [tuple(location_ids[i : i + self._chunk]) for i in range(0, len(location_ids), self._chunk)]

    # ----------------------------------------------------------------------------- a chunk run
    def _run_chunk(
        self, job: AgencyChunkJob, company: Connection, remaining_s: Callable[[], float | None]
    ) -> FanOutReport:
        company_id = job.company_id
        current = (company.agency_install or {}).get("attempt")
        if current != job.attempt:
            logger.info(
                "agency install chunk of a superseded listing dropped",
                extra={"company_id": company_id, "chunk": job.index},
            )
            return FanOutReport(company_id, len(job.location_ids), 0, 0, 0, continued=False, dropped=True)
        owner = ChunkOwner(company_id, job.requested_ms, company.rankr_account_id)
        try:
            existing = self._connections.record_states(job.location_ids)
            chunks = [
                Chunk(str(part), ids, existing) for part, ids in enumerate(self._split(job.location_ids))
            ]
            todo = sum(len(chunk.todo) for chunk in chunks)
            if todo:
                left = remaining_s()
                if left is not None and left < self._reserve_s:
                    self._queue.enqueue(job.next())
                    return FanOutReport(company_id, len(job.location_ids), 0, 0, 0, continued=True)
                self._company_token(company.connection_id)  # a clear error when the agency token is gone
            with ChunkPipeline(self._installer, owner, workers=min(self._workers, max(todo, 1))) as pipeline:
                for chunk in chunks:
                    pipeline.add(chunk)
                self._minting_done(company_id, pipeline)
                pipeline.drain()
            skipped = pipeline.skipped
            self._count(
                company_id, job.attempt, ChunkCount(job.chunk_key, len(job.location_ids) - skipped, skipped)
            )
        except Exception as exc:
            self._record_failure(company_id, job.attempt, exc)
            raise
        return FanOutReport(
            company_id,
            len(job.location_ids),
            pipeline.connected,
            len(job.location_ids) - todo,
            skipped,
            continued=False,
        )

    # ----------------------------------------------------------------------------- progress
    def _count(self, company_id: str, attempt: str, count: ChunkCount) -> None:
        state = self._progress.count_chunk(
            company_id,
            attempt,
            count.key,
            connected=count.connected,
            skipped=count.skipped,
            now_ms=self._now_ms(),
        )
        self._finish_if_complete(company_id, attempt, state)

    def _complete_listing(self, run: _ListingRun, locations: int) -> None:
        """Record the complete listing; done with it when every chunk is counted. A run that stored
        every chunk itself does it in one write; otherwise (or when that write finds a chunk still
        uncounted) the deferred count, the listing and the finish are written one by one."""
        company_id, attempt = run.job.company_id, run.attempt
        totals = ListingTotals(locations, run.chunks, run.before)
        if not run.handed_off:
            state = self._progress.complete_listing_finished(
                company_id, attempt, totals, last=run.deferred, now_ms=self._now_ms()
            )
            if state is not None:
                self._log_done(company_id, state)
                return
        if run.deferred is not None:
            self._count(company_id, attempt, run.deferred)
        state = self._progress.complete_listing(company_id, attempt, totals, now_ms=self._now_ms())
        self._finish_if_complete(company_id, attempt, state)

    def _finish_if_complete(self, company_id: str, attempt: str, state: dict[str, object] | None) -> None:
        if state is None or not is_complete(state):
            return
        chunks = state["chunks"]
        assert isinstance(chunks, int)
        if self._progress.finish(company_id, attempt, chunks, self._now_ms()):
            self._log_done(company_id, state)

    @staticmethod
    def _log_done(company_id: str, state: dict[str, object]) -> None:
        logger.info(
            "agency install done",
            extra={
                "company_id": company_id,
                "locations": state.get("locations"),
                "connected": state.get("connected"),
                "skipped": state.get("skipped"),
            },
        )

    def _record_failure(self, company_id: str, attempt: str, exc: Exception) -> None:
        try:
            self._progress.record_status(
                company_id, attempt, AgencyInstallStatus.FAILED, self._now_ms(), error=type(exc).__name__
            )
        except Exception as record_exc:  # progress is for people; the records themselves are the truth
            logger.warning(
                "agency install progress not recorded",
                extra={"company_id": company_id, "error": type(record_exc).__name__},
            )

    # ----------------------------------------------------------------------------- GHL
    def _company_token(self, company_cid: str) -> str:
        try:
            return self._company_tokens.get_token(company_cid)
        except ConnectionNotFound:
            raise CompanyTokenNotStored("agency token not stored", connection_id=company_cid) from None

    def _list_installed(self, company_id: str, token: str) -> Iterator[str]:
        try:
            for item in self._oauth.installed_locations(token, company_id, self._app_id):
                if item.is_installed is not False:
                    yield item.id
        except GHLUnauthorized:
            raise
        except GHLError as exc:
            raise GHLUnavailable(f"could not list installed locations (HTTP {exc.status})") from None

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)
