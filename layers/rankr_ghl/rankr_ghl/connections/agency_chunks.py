"""Chunks of an agency install: mint their location tokens, then store records, secrets, records.

Minting runs within the company's shared rate budget (the OAuth client's limiter), several tokens at
a time. Storing writes the chunk's records `paused/installing` first, then its secrets, then the
records `active`: a record always exists before its secret, and a chunk a crash interrupts is left
`installing`, which the next run redoes. A run's chunks go through a pipeline: minting goes on
without a pause between chunks, and what is minted is stored in small batches while the rest is
minted, so the company's budget, not storage, sets the pace, and a run's last locations are stored
soon after their mint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
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
# Locations stored together: one BatchWriteItem of records before their secrets, one after.
STORE_BATCH = 25
# A chunk's minted locations are stored once this many wait (or the chunk is all minted): fewer, larger
# batches while minting goes on, and a small last batch after a run's last mint.
STORE_MIN = 10
STORE_THREADS = 2
# Chunks all minted and not all stored before `add` waits: a crash re-mints at most these, the chunk
# being minted and the one queued behind it.
STORE_BACKLOG = 2


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

    def mint(self, company_id: str, location_id: str) -> TokenGrant | None:
        """The location's token (None: GHL will not mint for it). A retryable GHL failure raises
        `GHLUnavailable` (the queue retries the job)."""
        company_cid = company_connection_id(company_id)
        token = self._company_tokens.get_token(company_cid)
        try:
            return self._oauth.location_token(token, company_id, location_id)
        except GHLUnauthorized:
            renewed = self._company_tokens.report_unauthorized(company_cid, token)
            if renewed is None:
                raise
            return self._oauth.location_token(renewed, company_id, location_id)
        except GHLError as exc:
            if exc.retryable:
                raise GHLUnavailable(f"location token request failed (HTTP {exc.status})") from None
            # Listed, but GHL will not mint for it (uninstalled or removed since the listing).
            logger.warning(
                "agency install: no location token",
                extra={"company_id": company_id, "location_id": location_id, "status": exc.status},
            )
            return None

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


class _ChunkState:
    """A chunk in the pipeline: its mints outstanding, and what is minted but not stored yet."""

    def __init__(self, chunk: Chunk, todo: int, order: int) -> None:
        self.chunk = chunk
        self.todo = todo
        self.order = order
        self.minted = 0
        self.stored = 0
        self.connected = 0
        self.skipped = 0
        self.unstored: Minted = []

    @property
    def fully_minted(self) -> bool:
        return self.minted == self.todo


class ChunkPipeline:
    """Mints the added chunks' locations without a pause between chunks, and stores what is minted
    while the rest is minted, in batches of at most `STORE_BATCH`, on `STORE_THREADS` threads.

    A batch never spans two chunks, and one is stored once `STORE_MIN` of its chunk are minted (or
    all of them), so a run's last locations are stored a small batch after their mint, not a whole
    chunk after it. `add` returns once every earlier chunk is minted (the chunk just added is being
    minted, the next one queues behind it) and at most `STORE_BACKLOG` of them are not stored yet.
    `on_stored(chunk, connected, skipped)` runs once a whole chunk is stored. A failure (GHL,
    storage) stops the minting; what is minted is still stored, then `add` or `drain` raises it."""

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
        self._storing = ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="agency-store")
        self._changed = threading.Condition()
        self._open: list[_ChunkState] = []  # added and not all stored, in order
        self._added = 0
        self._stores = 0  # storing threads at work
        self._error: BaseException | None = None
        self.connected = 0
        self.skipped = 0

    def __enter__(self) -> ChunkPipeline:
        return self

    def __exit__(self, *_exc: object) -> None:
        # Minting first: a mint still running may start a store.
        for pool in (self._minting, self._storing, self._secrets):
            pool.shutdown(wait=True, cancel_futures=pool is self._minting)

    def add(self, chunk: Chunk) -> None:
        todo = chunk.todo
        if not todo:
            if self._on_stored is not None:
                self._on_stored(chunk, 0, 0)
            return
        with self._changed:
            self._raise_failure()
            state = _ChunkState(chunk, len(todo), self._added)
            self._added += 1
            self._open.append(state)
        for location_id in todo:
            self._minting.submit(self._mint, state, location_id)
        with self._changed:
            self._changed.wait_for(lambda: self._error is not None or self._may_add_after(state))
            self._raise_failure()

    def wait_minted(self) -> None:
        """Return once every added chunk is minted (its GHL calls answered), or a failure stopped
        the minting; what is minted may still be storing."""
        with self._changed:
            self._changed.wait_for(lambda: self._error is not None or all(s.fully_minted for s in self._open))

    def drain(self) -> None:
        with self._changed:
            self._changed.wait_for(
                lambda: (
                    not self._open
                    or (
                        self._error is not None
                        and not self._stores
                        and not any(s.unstored for s in self._open)
                    )
                )
            )
            self._raise_failure()

    def _may_add_after(self, state: _ChunkState) -> bool:
        earlier = [s for s in self._open if s.order < state.order]
        return len(earlier) <= STORE_BACKLOG and all(s.fully_minted for s in earlier)

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def _mint(self, state: _ChunkState, location_id: str) -> None:
        if self._error is not None:
            return  # the run fails: none of the company's budget is spent on it any more
        try:
            grant = self._installer.mint(self._owner.company_id, location_id)
        except BaseException as exc:  # handed to the run's thread, which raises it
            self._failed(exc, storing=False)
            return
        with self._changed:
            state.minted += 1
            state.unstored.append((location_id, grant))
            starts = self._stores_to_start()
            self._changed.notify_all()
        for _ in range(starts):
            self._storing.submit(self._store_batches)

    def _failed(self, exc: BaseException, *, storing: bool) -> None:
        with self._changed:
            if self._error is None:
                self._error = exc
            if storing:
                self._stores -= 1
            starts = self._stores_to_start()  # what was minted before the failure is stored
            self._changed.notify_all()
        for _ in range(starts):
            self._storing.submit(self._store_batches)

    def _stores_to_start(self) -> int:
        """Storing threads to start now (called holding `_changed`): counted at once, so `drain`
        never sees the pipeline idle while one is about to start."""
        if self._stores < STORE_THREADS and self._ready() is not None:
            self._stores += 1
            return 1
        return 0

    def _ready(self) -> _ChunkState | None:
        """The first chunk with a batch to store: `STORE_MIN` minted, or its last ones (any minted
        location once the run failed)."""
        for state in self._open:
            if state.unstored and (
                len(state.unstored) >= STORE_MIN or state.fully_minted or self._error is not None
            ):
                return state
        return None

    def _store_batches(self) -> None:
        while True:
            with self._changed:
                state = self._ready()
                if state is None:
                    self._stores -= 1
                    self._changed.notify_all()
                    return
                batch = state.unstored[:STORE_BATCH]
                del state.unstored[:STORE_BATCH]
            try:
                connected, skipped = self._installer.store(
                    self._secrets, self._owner, state.chunk.existing, batch
                )
                with self._changed:
                    state.stored += len(batch)
                    state.connected += connected
                    state.skipped += skipped
                    self.connected += connected
                    self.skipped += skipped
                    finished = state.stored == state.todo
                    if finished:
                        self._open.remove(state)
                    self._changed.notify_all()
                if finished and self._on_stored is not None:
                    self._on_stored(state.chunk, state.connected, state.skipped)
            except BaseException as exc:  # handed to the run's thread, which raises it
                self._failed(exc, storing=True)
                return
