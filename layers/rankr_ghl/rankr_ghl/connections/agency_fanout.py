"""The agency install fan-out: one location token, one secret and one record per installed location.

Runs from AgencyInstallQueue (one message group per agency), after the OAuth callback stored the
company token. Every step is resumable and idempotent:

1. List the installed locations (GHL) and read their connection records (consistent batch reads); a
   location whose record is live is done already, so a re-run or a second INSTALL creates nothing
   twice. The listing runs on a thread of its own (`agency_listing`) and hands over each chunk as
   soon as it is listed and read, so minting starts after the first page.
2. Per chunk: mint the chunk's location tokens (GHL, within the company's shared rate budget, several
   at a time), then write the chunk's records marked `paused/installing`, then its secrets, then the
   records `active`. A record always exists before its secret (never a secret without a record); a
   crash leaves at most one chunk `installing`, and the next run redoes exactly those.
3. Storing overlaps minting (up to two minted chunks stored at once while the next is minted), so the
   company's budget, not storage, sets the pace.
4. An invocation short of time queues the rest as a continuation and stops between chunks.

Progress is written onto the company connection (`agencyInstall`) after each chunk.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from rankr_ghl.connections.agency_job import (
    AgencyInstallJob,
    AgencyInstallProgress,
    AgencyInstallQueue,
    AgencyInstallStatus,
    AgencyProgressStore,
)
from rankr_ghl.connections.agency_listing import AgencyListing
from rankr_ghl.connections.errors import CompanyTokenNotStored, ConnectionNotFound, GHLUnavailable
from rankr_ghl.connections.ports import RecordState
from rankr_ghl.connections.status import (
    ConnectionStatus,
    PauseReason,
    UserType,
    company_connection_id,
    from_epoch,
)
from rankr_ghl.ghl.errors import GHLError, GHLUnauthorized
from rankr_ghl.observability import logger

if TYPE_CHECKING:
    from rankr_ghl.connections.models import Connection, TokenBundle
    from rankr_ghl.connections.ports import OAuthClient, TokenGrant, TokenStore
    from rankr_ghl.connections.vault import MetricSink

DEFAULT_CHUNK = 50  # records and secrets are written per chunk
# Progress is for people: a chunk's progress is written once this long after the last write (the
# run's start and end are always written), so a small agency's run writes it twice, not three times.
PROGRESS_EVERY_MS = 1000
DEFAULT_WORKERS = 8
# Minted chunks being stored at once, each on its own thread (a crash re-mints at most these): the
# last chunks' storage after the last mint is the run's only time off the company budget.
STORE_QUEUE = 2
# Left free at the end of an invocation: one chunk at GHL's production rate (100 per 10 s) plus storing.
DEFAULT_RESERVE_S = 25.0


class AgencyConnections(Protocol):
    """What the fan-out needs of ConnectionsTable (`DynamoConnectionStore`)."""

    def get(self, connection_id: str) -> Connection | None: ...

    def record_states(self, connection_ids: Iterable[str]) -> dict[str, RecordState]:
        """Status and account of the records that exist among `connection_ids` (strongly consistent)."""
        ...

    def save_all(self, connections: Iterable[Connection]) -> None:
        """Update the records' fields (all or nothing per 100), keeping the items' other attributes."""
        ...

    def put_all(self, connections: Iterable[Connection]) -> None:
        """Create or replace whole items, in batches (fast; not atomic)."""
        ...


class CompanyTokens(Protocol):
    """The token vault's side the fan-out needs (the company token, renewed when GHL refuses it)."""

    def get_token(self, resource_id: str) -> str: ...

    def report_unauthorized(self, resource_id: str, rejected_token: str) -> str | None: ...

    def invalidate(self, resource_id: str) -> None: ...


@dataclass(frozen=True)
class FanOutReport:
    company_id: str
    locations: int  # installed locations GHL listed
    connected_now: int  # connected by this invocation
    connected_before: int  # live already (an earlier run, another install)
    skipped: int  # GHL refused their token (not installed any more, not found)
    continued: bool  # the rest was queued as a continuation
    dropped: bool = False  # the agency is not connected (uninstalled meanwhile): nothing done


def is_connected(record: RecordState | None) -> bool:
    """A location the fan-out leaves alone: a record that is not uninstalled and not mid-install."""
    if record is None or record.status is ConnectionStatus.UNINSTALLED:
        return False
    return not (record.status is ConnectionStatus.PAUSED and record.status_reason == PauseReason.INSTALLING)


def _is_new_or_installing(record: RecordState | None) -> bool:
    return record is None or (
        record.status is ConnectionStatus.PAUSED and record.status_reason == PauseReason.INSTALLING
    )


class _Run:
    """One invocation: its job, what it found, its counters and progress (the storing threads update
    the counters and write the progress under `lock`)."""

    def __init__(
        self,
        job: AgencyInstallJob,
        progress: AgencyInstallProgress,
        existing: dict[str, RecordState],
        account: str | None,
        before: int,
    ) -> None:
        self.job = job
        self.progress = progress
        self.existing = existing
        self.account = account
        self.connected_now = 0
        self.before = before
        self.skipped = 0
        self.lock = threading.Lock()
        self.progress_written_ms = progress.updated_ms


class AgencyFanOut:
    def __init__(
        self,
        oauth: OAuthClient,
        tokens: TokenStore,
        connections: AgencyConnections,
        *,
        progress: AgencyProgressStore,
        queue: AgencyInstallQueue,
        company_tokens: CompanyTokens,
        app_id: str,
        metric: MetricSink,
        chunk_size: int = DEFAULT_CHUNK,
        workers: int = DEFAULT_WORKERS,
        reserve_s: float = DEFAULT_RESERVE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if chunk_size < 1 or workers < 1:
            raise ValueError("chunk_size and workers must be positive")
        self._oauth = oauth
        self._tokens = tokens
        self._connections = connections
        self._progress = progress
        self._queue = queue
        self._company_tokens = company_tokens
        self._app_id = app_id
        self._metric = metric
        self._chunk = chunk_size
        self._workers = workers
        self._reserve_s = reserve_s
        self._clock = clock

    # ----------------------------------------------------------------------------- the job
    def run(
        self, job: AgencyInstallJob, remaining_s: Callable[[], float | None] = lambda: None
    ) -> FanOutReport:
        company_id = job.company_id
        company_cid = company_connection_id(company_id)
        company = self._connections.get(company_cid)
        if company is None or company.status is ConnectionStatus.UNINSTALLED:
            logger.info(
                "agency install job for an agency that is not connected", extra={"company_id": company_id}
            )
            return FanOutReport(company_id, 0, 0, 0, 0, continued=False, dropped=True)
        token = self._company_token(company_cid)
        started_ms = self._now_ms()
        progress = AgencyInstallProgress(
            AgencyInstallStatus.RUNNING, job.requested_ms, started_ms, started_ms=started_ms
        )
        listing = AgencyListing(
            lambda company_token: self._list_installed(company_id, company_token),
            lambda rejected: self._company_tokens.report_unauthorized(company_cid, rejected),
            self._connections,
            is_connected,
            token=token,
            batch=self._chunk,
        )
        try:
            run = _Run(job, progress, {}, company.rankr_account_id, 0)
            self._record(company_id, run.progress)
            continued = self._fan_out(run, listing.start(), remaining_s)
        except Exception as exc:
            self._record(
                company_id,
                replace(
                    progress,
                    status=AgencyInstallStatus.FAILED,
                    updated_ms=self._now_ms(),
                    error=type(exc).__name__,
                ),
            )
            raise
        finally:
            listing.stop()
        status = AgencyInstallStatus.CONTINUING if continued else AgencyInstallStatus.DONE
        self._record(company_id, replace(run.progress, status=status, updated_ms=self._now_ms()))
        logger.info(
            "agency install fan-out",
            extra={
                "company_id": company_id,
                "locations": listing.listed,
                "connected_now": run.connected_now,
                "connected_before": run.before,
                "skipped": run.skipped,
                "continued": continued,
            },
        )
        return FanOutReport(company_id, listing.listed, run.connected_now, run.before, run.skipped, continued)

    def _fan_out(self, run: _Run, listing: AgencyListing, remaining_s: Callable[[], float | None]) -> bool:
        """Mint each listed chunk while earlier chunks are stored (at most `STORE_QUEUE` at once, so a
        slow storage moment does not idle the budget); True when the rest was queued as a
        continuation."""
        company_id = run.job.company_id
        stores: deque[Future[None]] = deque()
        with (
            ThreadPoolExecutor(self._workers, thread_name_prefix="agency-mint") as minting,
            ThreadPoolExecutor(self._workers, thread_name_prefix="agency-secret") as secrets,
            ThreadPoolExecutor(STORE_QUEUE, thread_name_prefix="agency-store") as storing,
        ):
            for listed in listing.batches():
                with run.lock:
                    run.existing.update(listed.existing)
                    run.before += listed.connected_before
                    run.progress = replace(
                        run.progress,
                        locations=listing.listed if listing.complete else None,
                        connected=run.before + run.connected_now,
                    )
                if not listed.todo:
                    continue
                left = remaining_s()
                if left is not None and left < self._reserve_s:
                    while stores:
                        stores.popleft().result()
                    self._queue.enqueue(run.job.next())
                    logger.info(
                        "agency install continues in another invocation", extra={"company_id": company_id}
                    )
                    return True
                minted = self._mint(minting, company_id, listed.todo)
                while len(stores) >= STORE_QUEUE or (stores and stores[0].done()):
                    stores.popleft().result()  # a storage failure stops the run here (the queue retries it)
                stores.append(storing.submit(self._store_chunk, secrets, run, minted))
            while stores:
                stores.popleft().result()
        with run.lock:
            run.progress = replace(run.progress, locations=listing.listed)
        logger.info(
            "agency install: locations listed",
            extra={"company_id": company_id, "locations": listing.listed, "connected_before": run.before},
        )
        return False

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

    def _mint(
        self, pool: ThreadPoolExecutor, company_id: str, location_ids: list[str]
    ) -> list[tuple[str, TokenGrant | None]]:
        company_cid = company_connection_id(company_id)

        def mint(location_id: str) -> tuple[str, TokenGrant | None]:
            token = self._company_tokens.get_token(company_cid)
            try:
                return location_id, self._oauth.location_token(token, company_id, location_id)
            except GHLUnauthorized:
                renewed = self._company_tokens.report_unauthorized(company_cid, token)
                if renewed is None:
                    raise
                return location_id, self._oauth.location_token(renewed, company_id, location_id)
            except GHLError as exc:
                if exc.retryable:
                    raise GHLUnavailable(f"location token request failed (HTTP {exc.status})") from None
                # Listed, but GHL will not mint for it (uninstalled or removed since the listing).
                logger.warning(
                    "agency install: no location token",
                    extra={"company_id": company_id, "location_id": location_id, "status": exc.status},
                )
                return location_id, None

        return list(pool.map(mint, location_ids))

    # ----------------------------------------------------------------------------- storage
    def _store_chunk(
        self, secrets: ThreadPoolExecutor, run: _Run, minted: Iterable[tuple[str, TokenGrant | None]]
    ) -> None:
        from rankr_ghl.connections.vault import bundle_from_grant

        now = self._clock()
        bundles: dict[str, TokenBundle] = {}
        skipped = 0
        for location_id, grant in minted:
            if grant is None:
                skipped += 1
                continue
            bundles[location_id] = bundle_from_grant(
                grant,
                now=now,
                user_type=UserType.LOCATION,
                company_id=run.job.company_id,
                location_id=location_id,
            )
        pending = [self._connection(run, location_id, bundle) for location_id, bundle in bundles.items()]
        if pending:
            self._save(run, pending)  # the records first: never a secret without one
            list(secrets.map(lambda item: self._tokens.install(*item), bundles.items()))
            self._save(
                run,
                [
                    r.model_copy(update={"status": ConnectionStatus.ACTIVE, "status_reason": None})
                    for r in pending
                ],
            )
            for location_id in bundles:
                self._company_tokens.invalidate(location_id)
            self._metric("AgencyLocationsConnected", len(bundles))
        with run.lock:
            run.connected_now += len(bundles)
            run.skipped += skipped
            run.progress = replace(
                run.progress,
                connected=run.before + run.connected_now,
                skipped=run.skipped,
                updated_ms=self._now_ms(),
            )
            if run.progress.updated_ms - run.progress_written_ms >= PROGRESS_EVERY_MS:
                self._record(run.job.company_id, run.progress)
                run.progress_written_ms = run.progress.updated_ms

    def _save(self, run: _Run, records: list[Connection]) -> None:
        """New records (and ones a fan-out left mid-install) are written whole, in batches; a record
        that lived before (an uninstalled location coming back) is updated, keeping its other
        attributes (refresh lease, pending pair, lifecycle audit)."""
        fresh = [r for r in records if _is_new_or_installing(run.existing.get(r.connection_id))]
        kept = [r for r in records if not _is_new_or_installing(run.existing.get(r.connection_id))]
        if fresh:
            self._connections.put_all(fresh)
        if kept:
            self._connections.save_all(kept)

    @staticmethod
    def _connection(run: _Run, location_id: str, bundle: TokenBundle) -> Connection:
        from rankr_ghl.connections.models import Connection

        existing = run.existing.get(location_id)
        return Connection(
            connection_id=location_id,
            location_id=location_id,
            company_id=run.job.company_id,
            user_type=UserType.LOCATION,
            scopes=bundle.scopes,
            status=ConnectionStatus.PAUSED,
            status_reason=PauseReason.INSTALLING.value,
            installed_at=from_epoch(bundle.issued_at),
            token_expires_at=from_epoch(bundle.expires_at),
            # A bound location keeps its account: only Rankr's `connection.link` with force moves it.
            rankr_account_id=(existing.rankr_account_id if existing else None) or run.account,
            token_source="company",
            updated_at=from_epoch(bundle.issued_at),
            lifecycle_event_ms=run.job.requested_ms,
            lifecycle_event_id="",
        )

    def _record(self, company_id: str, progress: AgencyInstallProgress) -> None:
        try:
            self._progress.record_agency_install(company_id, progress)
        except Exception as exc:  # progress is for people; the records themselves are the truth
            logger.warning(
                "agency install progress not recorded",
                extra={"company_id": company_id, "error": type(exc).__name__},
            )

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)
