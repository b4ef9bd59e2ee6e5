"""Chunks of an agency install: mint their location tokens, then store records, secrets, records.

Minting runs within the company's shared rate budget (the OAuth client's limiter), several tokens at
a time. Storing writes the chunk's records `paused/installing` first, then its secrets, then the
records `active`: a record always exists before its secret, and a chunk a crash interrupts is left
`installing`, which the next run redoes. A run's chunks go through a pipeline: one is minted while
the previous ones are stored, so the company's budget, not storage, sets the pace.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from rankr_ghl.connections.errors import GHLUnavailable
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

Minted = list[tuple[str, "TokenGrant | None"]]
# Chunks stored at once, each on its own thread, while the next one is minted (a crash re-mints at
# most these and the one being minted): the last chunks' storage is a run's only time off the budget.
STORE_QUEUE = 2


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
class ChunkOwner:
    """Whose chunk it is: the agency, the install that asked for it, the account new records get."""

    company_id: str
    requested_ms: int
    account: str | None


def is_connected(record: RecordState | None) -> bool:
    """A location the fan-out leaves alone: a record that is not uninstalled and not mid-install."""
    if record is None or record.status is ConnectionStatus.UNINSTALLED:
        return False
    return not (record.status is ConnectionStatus.PAUSED and record.status_reason == PauseReason.INSTALLING)


def _is_new_or_installing(record: RecordState | None) -> bool:
    return record is None or (
        record.status is ConnectionStatus.PAUSED and record.status_reason == PauseReason.INSTALLING
    )


class ChunkInstaller:
    def __init__(
        self,
        oauth: OAuthClient,
        tokens: TokenStore,
        connections: AgencyConnections,
        *,
        company_tokens: CompanyTokens,
        metric: MetricSink,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._oauth = oauth
        self._tokens = tokens
        self._connections = connections
        self._company_tokens = company_tokens
        self._metric = metric
        self._clock = clock

    def mint(self, pool: ThreadPoolExecutor, company_id: str, location_ids: Iterable[str]) -> Minted:
        """Each location's token (None: GHL will not mint for it). A retryable GHL failure raises
        `GHLUnavailable` (the queue retries the job)."""
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

    def store(
        self,
        secrets: ThreadPoolExecutor,
        owner: ChunkOwner,
        existing: dict[str, RecordState],
        minted: Minted,
    ) -> tuple[int, int]:
        """Records, secrets, records `active`; (connected, skipped by GHL). `existing`: the records
        as the chunk's run read them."""
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
                company_id=owner.company_id,
                location_id=location_id,
            )
        pending = [
            self._connection(owner, existing.get(location_id), location_id, bundle)
            for location_id, bundle in bundles.items()
        ]
        if pending:
            self._save(existing, pending)  # the records first: never a secret without one
            list(secrets.map(lambda item: self._tokens.install(*item), bundles.items()))
            self._save(
                existing,
                [replace(r, status=ConnectionStatus.ACTIVE, status_reason=None) for r in pending],
            )
            for location_id in bundles:
                self._company_tokens.invalidate(location_id)
            self._metric("AgencyLocationsConnected", len(bundles))
        return len(bundles), skipped

    def _save(self, existing: dict[str, RecordState], records: list[Connection]) -> None:
        """New records (and ones a fan-out left mid-install) are written whole, in batches; a record
        that lived before (an uninstalled location coming back) is updated, keeping its other
        attributes (refresh lease, pending pair, lifecycle audit)."""
        fresh = [r for r in records if _is_new_or_installing(existing.get(r.connection_id))]
        kept = [r for r in records if not _is_new_or_installing(existing.get(r.connection_id))]
        if fresh:
            self._connections.put_all(fresh)
        if kept:
            self._connections.save_all(kept)

    @staticmethod
    def _connection(
        owner: ChunkOwner, existing: RecordState | None, location_id: str, bundle: TokenBundle
    ) -> Connection:
        from rankr_ghl.connections.models import Connection

        return Connection(
            connection_id=location_id,
            location_id=location_id,
            company_id=owner.company_id,
            user_type=UserType.LOCATION,
            scopes=bundle.scopes,
            status=ConnectionStatus.PAUSED,
            status_reason=PauseReason.INSTALLING.value,
            installed_at=from_epoch(bundle.issued_at),
            token_expires_at=from_epoch(bundle.expires_at),
            # A bound location keeps its account: only Rankr's `connection.link` with force moves it.
            rankr_account_id=(existing.rankr_account_id if existing else None) or owner.account,
            token_source="company",
            updated_at=from_epoch(bundle.issued_at),
            lifecycle_event_ms=owner.requested_ms,
            lifecycle_event_id="",
        )


@dataclass(frozen=True)
class Chunk:
    """Locations stored together: their records as a run read them."""

    key: str
    location_ids: tuple[str, ...]
    existing: dict[str, RecordState]

    @property
    def todo(self) -> list[str]:
        return [i for i in self.location_ids if not is_connected(self.existing.get(i))]


class ChunkPipeline:
    """Mints each added chunk, then stores it on a thread of its own while the next is minted (at
    most `STORE_QUEUE` stores at once). `on_stored(chunk, connected, skipped)` runs on the storing
    thread once a chunk is stored; a failure (GHL, storage) raises from `add` or `drain`."""

    def __init__(
        self,
        installer: ChunkInstaller,
        owner: ChunkOwner,
        *,
        workers: int,
        on_stored: Callable[[Chunk, int, int], None] | None = None,
    ) -> None:
        self._installer = installer
        self._owner = owner
        self._on_stored = on_stored
        self._minting = ThreadPoolExecutor(workers, thread_name_prefix="agency-mint")
        self._secrets = ThreadPoolExecutor(workers, thread_name_prefix="agency-secret")
        self._storing = ThreadPoolExecutor(STORE_QUEUE, thread_name_prefix="agency-store")
        self._stores: deque[Future[None]] = deque()
        self._lock = threading.Lock()
        self.connected = 0
        self.skipped = 0

    def __enter__(self) -> ChunkPipeline:
        return self

    def __exit__(self, *_exc: object) -> None:
        for pool in (self._minting, self._storing, self._secrets):
            pool.shutdown(wait=True)

    def add(self, chunk: Chunk) -> None:
        todo = chunk.todo
        if not todo:
            if self._on_stored is not None:
                self._on_stored(chunk, 0, 0)
            return
        minted = self._installer.mint(self._minting, self._owner.company_id, todo)
        while len(self._stores) >= STORE_QUEUE or (self._stores and self._stores[0].done()):
            self._stores.popleft().result()  # a storage failure stops the run here (the queue retries it)
        self._stores.append(self._storing.submit(self._store, chunk, minted))

    def drain(self) -> None:
        while self._stores:
            self._stores.popleft().result()

    def _store(self, chunk: Chunk, minted: Minted) -> None:
        connected, skipped = self._installer.store(self._secrets, self._owner, chunk.existing, minted)
        with self._lock:
            self.connected += connected
            self.skipped += skipped
        if self._on_stored is not None:
            self._on_stored(chunk, connected, skipped)
