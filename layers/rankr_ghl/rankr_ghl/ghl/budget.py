"""One GHL rate budget per resource (location or company) shared by every process of the app.

GHL counts requests per app per resource, whatever container sends them. Each process therefore
reserves a *slice* of the budget from a shared record (`BudgetStore`, DynamoDB in production) and
spends it locally; docs/rate-budget.md has the design and its cost.

The shared record is a short list of entries ``(holder, count, end)``. An entry occupies ``count``
requests of the window until ``end + interval + margin``: every request it covers was sent by
``end``, so GHL stops counting it one interval later, whatever window GHL uses (sliding, or fixed
windows anchored anywhere). A live slice ends at its lease end; when its holder comes back for the
next slice it reports what it really used and when it last sent, which shrinks the entry, so the
unused part and the lease's slack return to everyone at no extra call.

Priority rule (fairness): a slice is granted only while the requests left in the window after it
stay at or above the priority's reserve: lead push (a user waits) has no reserve and can take the
last request; webhook work leaves `STANDARD_RESERVE` of the window; reconcile (background) leaves
`BACKGROUND_RESERVE`. Reconcile can never take the share lead push needs.

If the store fails, the process falls back for a while to a local budget at `fallback_share` of
the window (conservative: several containers may be in the same state) and never stops the sync.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

logger = logging.getLogger(__name__)

STANDARD_RESERVE = 0.1
BACKGROUND_RESERVE = 0.3
MAX_ENTRIES = 64  # a record never grows past this: the oldest entries are merged into one


class Priority(enum.Enum):
    INTERACTIVE = "interactive"  # lead push: a user waits for the answer
    STANDARD = "standard"  # webhook worker, installs
    BACKGROUND = "background"  # reconcile

    @property
    def reserve(self) -> float:
        """Share of the window that must stay free after a slice of this priority is granted."""
        return {Priority.INTERACTIVE: 0.0, Priority.STANDARD: STANDARD_RESERVE}.get(self, BACKGROUND_RESERVE)


@dataclass(frozen=True)
class Limits:
    max_requests: int
    interval_s: float


@dataclass(frozen=True)
class Entry:
    """``count`` requests sent no later than ``end`` (wall-clock seconds)."""

    holder: str
    count: int
    end: float


@dataclass(frozen=True)
class Snapshot:
    """The shared record of one resource; ``version`` 0 means it does not exist yet."""

    version: int = 0
    entries: tuple[Entry, ...] = ()
    limits: Limits | None = None


class BudgetStore(Protocol):
    """Where the shared record lives. Both calls raise on an unreachable store."""

    def load(self, resource_id: str) -> Snapshot: ...

    def compare_and_set(self, resource_id: str, expected_version: int, new: Snapshot) -> Snapshot | None:
        """Write ``new`` if the stored version is still ``expected_version``; return None on
        success, else the record as it now stands."""
        ...


@dataclass(frozen=True)
class SliceRequest:
    holder: str
    want: int
    priority: Priority
    now: float
    lease_share: float  # a slice must be spent within this share of the interval
    margin_share: float  # entries are held this share of the interval (+ min_margin_s) longer
    min_margin_s: float
    max_lease_s: float  # a slice not spent by then goes back at its holder's next reservation
    limits: Limits | None  # learned from X-RateLimit-* by this process, if any
    used: int = 0  # of the holder's previous slice
    last_sent: float = 0.0  # when the previous slice's last request was sent or completed


@dataclass(frozen=True)
class Grant:
    count: int
    lease_end: float
    retry_at: float  # when asking again may succeed (meaningful when count is 0)
    limits: Limits


def allocate(snapshot: Snapshot, request: SliceRequest, default: Limits) -> tuple[Snapshot, Grant]:
    """The next record and the grant: pure, shared by every store (and the local fallback)."""
    limits = request.limits or snapshot.limits or default
    hold = limits.interval_s * (1.0 + request.margin_share) + request.min_margin_s
    now = request.now
    entries: list[Entry] = []
    for stored in snapshot.entries:
        entry = stored
        if entry.holder == request.holder and entry.end > request.last_sent:
            # The holder's live slice: keep only what it used, up to its last send.
            entry = replace(entry, count=min(entry.count, request.used), end=request.last_sent)
        if entry.count > 0 and entry.end + hold > now:
            entries.append(entry)
    if len(entries) > MAX_ENTRIES:
        entries.sort(key=lambda e: e.end)
        merged = entries[: len(entries) - MAX_ENTRIES + 1]
        tail = Entry("merged", sum(e.count for e in merged), merged[-1].end)
        entries = [tail, *entries[len(merged) :]]
    occupied = sum(e.count for e in entries)
    reserve = int(limits.max_requests * request.priority.reserve)
    free = limits.max_requests - occupied - reserve
    # A slice smaller than a third of the wanted one costs a coordination call for a few requests:
    # wait until enough of the window frees instead.
    least = max(1, request.want // 3)
    count = min(request.want, free) if free >= least else 0
    lease_end = now + min(limits.interval_s * request.lease_share, request.max_lease_s)
    if count:
        entries.append(Entry(request.holder, count, lease_end))
        retry_at = now
    else:
        retry_at = now + limits.interval_s
        for entry in sorted(entries, key=lambda e: e.end):
            free += entry.count
            if free >= least:
                retry_at = entry.end + hold
                break
        # Holders report early and the window may be learned shorter meanwhile: ask again soon.
        retry_at = min(retry_at, now + request.max_lease_s)
    # Only a window learned from GHL's headers is recorded, never the documented default.
    new = Snapshot(snapshot.version + 1, tuple(entries), request.limits or snapshot.limits)
    return new, Grant(count, lease_end, max(retry_at, now), limits)


class MemoryBudgetStore:
    """The shared record in this process's memory: the local fallback, and the fake of tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, Snapshot] = {}
        self.calls = 0

    def load(self, resource_id: str) -> Snapshot:
        with self._lock:
            self.calls += 1
            return self._records.get(resource_id, Snapshot())

    def compare_and_set(self, resource_id: str, expected_version: int, new: Snapshot) -> Snapshot | None:
        with self._lock:
            self.calls += 1
            current = self._records.get(resource_id, Snapshot())
            if current.version != expected_version:
                return current
            self._records[resource_id] = new
            return None


@dataclass
class _Local:
    """This process's slice of one resource."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: int = 0
    used: int = 0
    lease_end: float = 0.0
    last_sent: float = 0.0
    in_flight: int = 0
    retry_at: float = 0.0
    unreported: bool = False  # the current slice's use is not in the shared record yet
    snapshot: Snapshot = field(default_factory=Snapshot)


class SharedBudget:
    """The process side: hands out requests from the current slice, reserving the next one from
    the store when it runs out. Thread-safe; one instance per process (built by the root)."""

    def __init__(
        self,
        store: BudgetStore,
        *,
        priority: Priority = Priority.STANDARD,
        slice_share: float = 0.2,
        lease_share: float = 0.5,
        margin_share: float = 0.02,
        min_margin_s: float = 0.1,
        max_lease_s: float = 1.0,
        fallback_share: float = 0.25,
        fallback_for_s: float = 10.0,
        max_attempts: int = 4,
        default: Limits = Limits(100, 10.0),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """Shares are of the window: a slice is ``slice_share`` of its requests, a lease lasts
        ``lease_share`` of its interval. ``fallback_share``: the part of the window this process
        allows itself for ``fallback_for_s`` after the store failed."""
        self.store = store
        self.priority = priority
        self.holder = uuid.uuid4().hex[:12]
        self._slice_share = slice_share
        self._lease_share = lease_share
        self._margin_share = margin_share
        self._min_margin_s = min_margin_s
        self._max_lease_s = max_lease_s
        self._fallback_share = fallback_share
        self._fallback_for_s = fallback_for_s
        self._max_attempts = max_attempts
        self._default = default
        self._clock = wall_clock
        self._fallback_store = MemoryBudgetStore()
        self._fallback_until = 0.0
        self._locals: dict[str, _Local] = {}
        self._locals_lock = threading.Lock()
        self.coordination_calls = 0
        self.fallbacks = 0

    @property
    def degraded(self) -> bool:
        return self._clock() < self._fallback_until

    def _local(self, resource_id: str) -> _Local:
        with self._locals_lock:
            return self._locals.setdefault(resource_id, _Local())

    def take(self, resource_id: str, learned: Limits | None) -> float:
        """Take one request of ``resource_id``'s budget: 0.0 when taken, else seconds to wait.
        ``learned``: the window this process learned from GHL's headers, if any."""
        local = self._local(resource_id)
        with local.lock:
            now = self._clock()
            # A window learned from GHL's headers that the record does not show yet is shared at
            # once: the slice in hand was sized for the old one.
            stale = learned is not None and local.snapshot.version > 0 and local.snapshot.limits != learned
            if local.tokens > 0 and now < local.lease_end and not stale:
                local.tokens -= 1
                local.used += 1
                local.in_flight += 1
                local.last_sent = now
                local.unreported = True
                return 0.0
            if now < local.retry_at and not stale:
                return local.retry_at - now
            grant = self._reserve(resource_id, local, learned, now)
            if grant.count == 0:
                # The previous slice stays reported as used until a new slice replaces it.
                local.tokens = 0
                local.retry_at = grant.retry_at
                return max(grant.retry_at - now, 0.001)
            local.tokens, local.lease_end = grant.count - 1, grant.lease_end
            local.used = 1
            local.unreported = True
            local.in_flight += 1
            local.last_sent = now
            return 0.0

    def give_back(self, resource_id: str) -> None:
        """A taken request was not sent after all."""
        local = self._local(resource_id)
        with local.lock:
            local.in_flight = max(0, local.in_flight - 1)
            if local.used > 0:
                local.used -= 1
                if self._clock() < local.lease_end:
                    local.tokens += 1

    def completed(self, resource_id: str) -> None:
        """A sent request ended (response, timeout or error)."""
        local = self._local(resource_id)
        with local.lock:
            local.in_flight = max(0, local.in_flight - 1)
            local.last_sent = max(local.last_sent, self._clock())

    def _reserve(self, resource_id: str, local: _Local, learned: Limits | None, now: float) -> Grant:
        limits = learned or local.snapshot.limits or self._default
        want = max(1, int(limits.max_requests * self._slice_share))
        # Requests still in flight may reach GHL until they complete: count them as sent now.
        last_sent = now if local.in_flight else local.last_sent
        request = SliceRequest(
            holder=self.holder,
            want=want,
            priority=self.priority,
            now=now,
            lease_share=self._lease_share,
            margin_share=self._margin_share,
            min_margin_s=self._min_margin_s,
            max_lease_s=self._max_lease_s,
            limits=learned,
            used=local.used,
            last_sent=last_sent,
        )
        if now >= self._fallback_until:
            try:
                return self._reserve_shared(resource_id, local, request)
            except Exception as exc:  # any store failure: degrade, never stop the sync
                self.fallbacks += 1
                self._fallback_until = now + self._fallback_for_s
                local.snapshot = Snapshot(limits=local.snapshot.limits)
                logger.warning(
                    "shared rate budget unreachable (%s): local budget at %.0f%% for %.0f s",
                    type(exc).__name__,
                    self._fallback_share * 100,
                    self._fallback_for_s,
                )
        return self._reserve_fallback(resource_id, request, limits)

    def _reserve_shared(self, resource_id: str, local: _Local, request: SliceRequest) -> Grant:
        snapshot = local.snapshot
        if snapshot.version == 0:
            snapshot = self.store.load(resource_id)
            self.coordination_calls += 1
        for _ in range(self._max_attempts):
            new, grant = allocate(snapshot, request, self._default)
            current = self.store.compare_and_set(resource_id, snapshot.version, new)
            self.coordination_calls += 1
            if current is None:
                local.snapshot = new
                local.unreported = False
                return grant
            snapshot = current
        # Lost every race: others are taking slices right now; come back shortly.
        local.snapshot = snapshot
        limits = request.limits or snapshot.limits or self._default
        return Grant(0, request.now, request.now + limits.interval_s * 0.05, limits)

    def _reserve_fallback(self, resource_id: str, request: SliceRequest, limits: Limits) -> Grant:
        share = Limits(max(1, int(limits.max_requests * self._fallback_share)), limits.interval_s)
        request = replace(request, want=max(1, min(request.want, share.max_requests // 2)), limits=share)
        snapshot = self._fallback_store.load(resource_id)
        new, grant = allocate(snapshot, request, share)
        self._fallback_store.compare_and_set(resource_id, snapshot.version, new)
        return replace(grant, limits=limits)
