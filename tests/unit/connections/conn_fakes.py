"""In-memory stand-ins for the connections ports and for GHL's OAuth endpoints.

FakeGHLOAuth behaves like GHL: refresh tokens are single-use (a spent one -> invalid_grant), every
grant is counted, and a refresh can be slowed down to widen races.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from rankr_ghl.connections.agency_job import AgencyChunkJob, AgencyInstallProgress, AgencyJob
from rankr_ghl.connections.models import Connection, ConnectionStatus, TokenBundle, utcnow
from rankr_ghl.connections.ports import RecordState
from rankr_ghl.ghl.errors import (
    GHLBadRequest,
    GHLForbidden,
    GHLInvalidGrant,
    GHLLocationInactive,
    GHLServerError,
    GHLUnauthorized,
)


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def advance(self, seconds: float) -> None:
        self.sleep(seconds)


class MemoryConnectionStore:
    def __init__(self) -> None:
        self.items: dict[str, Connection] = {}
        self.leases: dict[str, tuple[str, float]] = {}
        self.pending: dict[str, str] = {}  # connection id -> pending pair (secret JSON)
        self.lock = threading.Lock()
        self.fail_save_all = False
        self.fail_pending = False
        self.stale_events: list[tuple[str, str, int, str]] = []
        self.put_ids: list[str] = []  # written whole (put_all), in order
        self.chunks_counted: dict[str, set[str]] = {}  # company -> the current attempt's counted chunks
        self.finishes: list[tuple[str, str]] = []  # (company, attempt) each time `done` was set

    def get(self, connection_id: str) -> Connection | None:
        return self.items.get(connection_id)

    def save(self, connection: Connection) -> None:
        with self.lock:
            old = self.items.get(connection.connection_id)
            if connection.rankr_account_id is None and old is not None and old.rankr_account_id:
                connection = replace(connection, rankr_account_id=old.rankr_account_id)
            self.items[connection.connection_id] = connection

    def save_all(self, connections: Iterable[Connection]) -> None:
        if self.fail_save_all:
            raise RuntimeError("injected DynamoDB failure")
        for c in connections:
            self.save(c)

    def record_states(self, connection_ids: Iterable[str]) -> dict[str, RecordState]:
        return {
            cid: RecordState(c.status, c.status_reason, c.rankr_account_id)
            for cid in connection_ids
            if (c := self.items.get(cid)) is not None
        }

    def put_all(self, connections: Iterable[Connection]) -> None:
        if self.fail_save_all:
            raise RuntimeError("injected DynamoDB failure")
        with self.lock:
            for c in connections:
                self.items[c.connection_id] = c
                self.put_ids.append(c.connection_id)

    def list(self) -> Iterator[Connection]:
        return iter(list(self.items.values()))

    def list_by_company(self, company_id: str) -> Iterator[Connection]:
        return iter([c for c in self.items.values() if c.company_id == company_id])

    def _update(self, connection_id: str, **changes: object) -> None:
        from rankr_ghl.connections.errors import ConnectionNotFound

        with self.lock:
            old = self.items.get(connection_id)
            if old is None:
                raise ConnectionNotFound("no such connection", connection_id=connection_id)
            self.items[connection_id] = replace(old, **changes)

    def set_status(self, connection_id: str, status: ConnectionStatus, reason: str | None = None) -> None:
        self._update(connection_id, status=status, status_reason=reason, updated_at=utcnow())

    def record_agency_install(self, company_id: str, progress: AgencyInstallProgress) -> None:
        self._update(f"company:{company_id}", agency_install=progress.to_item())

    # The agency install tally (`AgencyProgressTally`): conditional updates, as DynamoDB makes them.
    def _tally(self, company_id: str, attempt: str, change) -> dict | None:
        with self.lock:
            cid = f"company:{company_id}"
            item = self.items.get(cid)
            state = dict(item.agency_install or {}) if item is not None else {}
            if item is None or state.get("attempt") != attempt or change(state) is False:
                return None
            self.items[cid] = replace(item, agency_install=state)
            return dict(state)

    def start_attempt(self, company_id: str, progress: AgencyInstallProgress) -> None:
        with self.lock:
            self.chunks_counted.pop(company_id, None)
        self._update(f"company:{company_id}", agency_install=progress.to_item())

    def count_chunk(self, company_id, attempt, chunk_key, *, connected, skipped, now_ms):
        counted = self.chunks_counted.setdefault(company_id, set())

        def change(state):
            if state["status"] == "done" or chunk_key in counted:
                return False
            counted.add(chunk_key)
            state.update(
                connected=state["connected"] + connected,
                skipped=state["skipped"] + skipped,
                chunksDone=state["chunksDone"] + 1,
                updatedMs=now_ms,
                status="running",
            )
            return True

        return self._tally(company_id, attempt, change)

    def complete_listing(self, company_id, attempt, totals, *, now_ms):
        def change(state):
            if "chunks" in state:
                return False
            state.update(
                locations=totals.locations,
                chunks=totals.chunks,
                connected=state["connected"] + totals.connected_before,
                updatedMs=now_ms,
            )
            return True

        return self._tally(company_id, attempt, change)

    def complete_listing_finished(self, company_id, attempt, totals, *, last, now_ms):
        counted = self.chunks_counted.setdefault(company_id, set())
        locations, chunks, connected_before = totals

        def change(state):
            expected = chunks - (1 if last is not None else 0)
            if "chunks" in state or state["status"] == "done" or state["chunksDone"] != expected:
                return False
            if last is not None:
                if last.key in counted:
                    return False
                counted.add(last.key)
            state.update(
                locations=locations,
                chunks=chunks,
                chunksDone=chunks,
                connected=state["connected"] + connected_before + (last.connected if last else 0),
                skipped=state["skipped"] + (last.skipped if last else 0),
                status="done",
                updatedMs=now_ms,
                error=None,
            )
            self.finishes.append((company_id, attempt))
            return True

        return self._tally(company_id, attempt, change)

    def finish(self, company_id, attempt, chunks, now_ms) -> bool:
        def change(state):
            if state["status"] == "done" or not state.get("chunks") == state["chunksDone"] == chunks:
                return False
            state.update(status="done", updatedMs=now_ms, error=None)
            self.finishes.append((company_id, attempt))
            return True

        return self._tally(company_id, attempt, change) is not None

    def record_status(self, company_id, attempt, status, now_ms, error=None) -> None:
        def change(state):
            if state["status"] == "done":
                return False
            state.update(status=status.value, updatedMs=now_ms, error=error)
            return True

        self._tally(company_id, attempt, change)

    def record_refresh(self, connection_id: str, token_expires_at: datetime, refreshed_at: datetime) -> None:
        self._update(connection_id, token_expires_at=token_expires_at, last_refresh_at=refreshed_at)

    def link_rankr_account(self, connection_id: str, rankr_account_id: str) -> None:
        self._update(connection_id, rankr_account_id=rankr_account_id)

    def acquire_lease(self, connection_id: str, owner: str, ttl_s: float, now: float) -> bool:
        with self.lock:
            if connection_id not in self.items:
                return False
            held = self.leases.get(connection_id)
            if held is None or held[0] == owner or held[1] < now:
                self.leases[connection_id] = (owner, now + ttl_s)
                return True
            return False

    def release_lease(self, connection_id: str, owner: str) -> None:
        with self.lock:
            held = self.leases.get(connection_id)
            if held is not None and held[0] == owner:
                del self.leases[connection_id]

    def claim_lifecycle_event(self, connection_id: str, event_ms: int, event_id: str) -> bool | None:
        with self.lock:
            old = self.items.get(connection_id)
            if old is None:
                return None
            if old.lifecycle_event_ms is not None and (event_ms, event_id) < (
                old.lifecycle_event_ms,
                old.lifecycle_event_id or "",
            ):
                return False
            self.items[connection_id] = replace(old, lifecycle_event_ms=event_ms, lifecycle_event_id=event_id)
            return True

    def record_stale_lifecycle_event(
        self, connection_id: str, event_type: str, event_ms: int, event_id: str
    ) -> None:
        self.stale_events.append((connection_id, event_type, event_ms, event_id))

    def save_pending_token(self, connection_id: str, bundle: TokenBundle) -> None:
        if self.fail_pending:
            raise RuntimeError("injected DynamoDB failure")
        with self.lock:
            old = self.pending.get(connection_id)
            if connection_id not in self.items or (
                old is not None and TokenBundle.from_secret_json(old).issued_at >= bundle.issued_at
            ):
                raise RuntimeError("conditional check failed")
            self.pending[connection_id] = bundle.to_secret_json()

    def read_pending_token(self, connection_id: str) -> TokenBundle | None:
        text = self.pending.get(connection_id)
        return TokenBundle.from_secret_json(text) if text else None

    def clear_pending_token(self, connection_id: str, issued_at: float) -> None:
        with self.lock:
            text = self.pending.get(connection_id)
            if text is not None and TokenBundle.from_secret_json(text).issued_at == issued_at:
                del self.pending[connection_id]


class MemoryTokenStore:
    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}  # JSON, as Secrets Manager would hold it
        self.deleted: dict[str, int] = {}  # connection id -> recovery window days
        self.writes = 0
        self.reads = 0
        self.fail_writes = 0  # fail this many upcoming writes
        self.lock = threading.Lock()

    def read(self, connection_id: str, *, fresh: bool = False) -> TokenBundle | None:
        self.reads += 1
        if connection_id in self.deleted:
            return None
        text = self.secrets.get(connection_id)
        return TokenBundle.from_secret_json(text) if text else None

    def _put(self, connection_id: str, bundle: TokenBundle, *, create: bool, restore: bool) -> None:
        from rankr_ghl.connections.errors import ConnectionUninstalled

        with self.lock:
            if self.fail_writes > 0:
                self.fail_writes -= 1
                raise RuntimeError("injected Secrets Manager failure")
            gone = connection_id in self.deleted or connection_id not in self.secrets
            if gone and not (restore or (create and connection_id not in self.deleted)):
                raise ConnectionUninstalled("secret deleted", connection_id=connection_id)
            self.writes += 1
            self.secrets[connection_id] = bundle.to_secret_json()
            self.deleted.pop(connection_id, None)

    def write(self, connection_id: str, bundle: TokenBundle) -> None:
        self._put(connection_id, bundle, create=True, restore=False)

    def install(self, connection_id: str, bundle: TokenBundle) -> None:
        self._put(connection_id, bundle, create=True, restore=True)

    def replace(self, connection_id: str, bundle: TokenBundle) -> None:
        self._put(connection_id, bundle, create=False, restore=False)

    def schedule_deletion(self, connection_id: str, recovery_window_days: int) -> None:
        if connection_id in self.secrets:
            self.deleted[connection_id] = recovery_window_days

    def restore(self, connection_id: str, bundle: TokenBundle | None) -> None:
        if bundle is None:
            self.secrets.pop(connection_id, None)
        else:
            self.secrets[connection_id] = bundle.to_secret_json()


@dataclass
class Grant:
    access_token: str | None
    refresh_token: str | None
    expires_in: float | None = 86399
    scope: str | None = "contacts.readonly contacts.write"
    user_type: str | None = "Location"
    company_id: str | None = None
    location_id: str | None = None


@dataclass
class Installed:
    id: str
    is_installed: bool | None = True


@dataclass
class FakeGHLOAuth:
    refresh_delay_s: float = 0.0
    live_refresh: dict[str, tuple[str, str | None, str | None]] = field(
        default_factory=dict
    )  # rt -> (type, co, loc)
    spent: set[str] = field(default_factory=set)
    valid_access: set[str] = field(default_factory=set)
    codes: dict[str, Grant] = field(default_factory=dict)
    installed: dict[str, list[str]] = field(default_factory=dict)  # company -> locations
    inactive: set[str] = field(default_factory=set)  # location ids GHL calls "not active"
    fail_mint_for: set[str] = field(default_factory=set)
    refuse_mint_for: set[str] = field(default_factory=set)  # 400: not installed there any more
    names: dict[str, str] = field(default_factory=dict)  # location -> its name in GHL
    name_denied: set[str] = field(default_factory=set)  # 403: the token lacks locations.readonly
    refresh_calls: int = 0
    mint_calls: int = 0
    sent_refresh_tokens: list[str] = field(default_factory=list)
    # GHL answers a repeated refresh within this many seconds with the same new pair (0: off).
    reuse_grace_s: float = 0.0
    clock: object = None  # a FakeClock for the grace window (default: time.time)
    spent_at: dict[str, tuple[float, Grant]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def issue(
        self,
        user_type: str = "Location",
        company_id: str | None = None,
        location_id: str | None = None,
        *,
        with_refresh: bool = True,
    ) -> Grant:
        n = next(self._seq)
        access = f"at-{n}-{location_id or company_id}"
        refresh = f"rt-{n}-{location_id or company_id}" if with_refresh else None
        with self._lock:
            self.valid_access.add(access)
            if refresh:
                self.live_refresh[refresh] = (user_type, company_id, location_id)
        return Grant(access, refresh, user_type=user_type, company_id=company_id, location_id=location_id)

    def exchange_code(self, code: str, user_type: str, redirect_uri: str) -> Grant:
        grant = self.codes.pop(code, None)
        if grant is None:
            raise GHLInvalidGrant("Invalid grant: authorization code is invalid", status=400)
        return grant

    def refresh(self, refresh_token: str, user_type: str) -> Grant:
        with self._lock:
            self.refresh_calls += 1
            self.sent_refresh_tokens.append(refresh_token)
        if self.refresh_delay_s:
            time.sleep(self.refresh_delay_s)
        now = self.clock() if callable(self.clock) else time.time()
        with self._lock:
            owner = self.live_refresh.get(refresh_token)
            if owner is None:
                reused = self.spent_at.get(refresh_token)
                if reused is not None and now - reused[0] <= self.reuse_grace_s:
                    return reused[1]
                raise GHLInvalidGrant("Invalid grant: refresh token is invalid", status=400)
            if owner[2] in self.inactive:
                raise GHLLocationInactive("Location is not active", status=400)
            del self.live_refresh[refresh_token]
            self.spent.add(refresh_token)
        grant = self.issue(owner[0], owner[1], owner[2])
        with self._lock:
            self.spent_at[refresh_token] = (now, grant)
        return grant

    def location_token(self, company_token: str, company_id: str, location_id: str) -> Grant:
        with self._lock:
            self.mint_calls += 1
        if company_token not in self.valid_access:
            raise GHLUnauthorized("Invalid JWT", status=401)
        if location_id in self.fail_mint_for:
            raise GHLServerError("upstream failure", status=502)
        if location_id in self.refuse_mint_for:
            raise GHLBadRequest("The app is not installed for this location", status=400)
        return self.issue("Location", company_id, location_id, with_refresh=False)

    def location_name(self, location_token: str, location_id: str) -> str | None:
        if location_token not in self.valid_access:
            raise GHLUnauthorized("Invalid JWT", status=401)
        if location_id in self.name_denied:
            raise GHLForbidden("The token is not authorized for this scope.", status=403)
        return self.names.get(location_id)

    def installed_locations(self, company_token: str, company_id: str, app_id: str) -> Iterator[Installed]:
        if company_token not in self.valid_access:
            raise GHLUnauthorized("Invalid JWT", status=401)
        return iter([Installed(i) for i in self.installed.get(company_id, [])])


class MemoryAgencyQueue:
    """`AgencyInstallQueue` in memory: the jobs in order, deduplicated per message group like the
    FIFO queue (`DeduplicationScope: messageGroup`)."""

    def __init__(self) -> None:
        self.jobs: list[AgencyJob] = []
        self.fail = False
        self.lock = threading.Lock()

    def enqueue(self, job: AgencyJob) -> None:
        if self.fail:
            raise RuntimeError("injected SQS failure")
        with self.lock:
            if (job.group_id, job.deduplication_id) not in {
                (j.group_id, j.deduplication_id) for j in self.jobs
            }:
                self.jobs.append(job)

    def chunk_jobs(self) -> list[AgencyChunkJob]:
        return [j for j in self.jobs if isinstance(j, AgencyChunkJob)]


class MetricsLog:
    def __init__(self) -> None:
        self.counts: dict[str, float] = {}
        self.lock = threading.Lock()

    def __call__(self, name: str, value: float = 1) -> None:
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + value
