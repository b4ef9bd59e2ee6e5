"""One GHL rate budget per resource (location or company) shared by every process of the app.

GHL counts requests per app per resource, whatever container sends them. Each process therefore
reserves a *slice* of the budget from a shared record (`budget_record`: a `BudgetStore`, DynamoDB in
production) and spends it locally; docs/rate-budget.md has the design and its cost.

A slice is *provisional* (it carries its holder) while being spent. At its holder's next
reservation, in the same write, it is replaced by what really happened: the requests completed
since, in a few buckets each ending at its last completion, plus the requests still in flight.
The unused part returns to everyone at no extra call, and each request occupies the window for
about one interval after its own completion rather than after the slice's last one. The next
slice is reserved before the one in hand is spent, so the senders do not wait for the store.

A slice follows demand: a process's first slice of a resource is small, a spent slice is followed
by a full one, and a slice that lapses unspent halves the next. A provisional slice stays booked
until its holder reports again, which a short-lived or idle container may never do for that
resource: five containers that each sent one request on full slices of 20 had booked a whole window
of 100 for the next ten seconds, and the sixth waited for it.

If the store fails, the process falls back for a while to a local budget at `fallback_share` of
the window (conservative: several containers may be in the same state) and never stops the sync.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from rankr_ghl.ghl.budget_record import (
    BudgetStore,
    Entry,
    Grant,
    Limits,
    MemoryBudgetStore,
    Priority,
    SliceRequest,
    Snapshot,
    allocate,
)

logger = logging.getLogger(__name__)

REPORT_BUCKETS = 5  # completions reported per reservation, each bucket ending at its last one
# A prefetch is optional: after two lost races the senders reserve when the slice runs out (with
# seven processes on one record, half the writes lost a race; retrying prefetches cost 0.17-0.23
# coordination calls per GHL call against 0.17 with two attempts, at the same efficiency).
PREFETCH_ATTEMPTS = 2


@dataclass
class _Local:
    """This process's slice of one resource, and what it has not reported yet."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    pieces: list[list[float]] = field(default_factory=list)  # [start, end, count] of the slice in hand
    in_flight: int = 0
    completions: list[float] = field(default_factory=list)  # since the last report
    provisional: bool = False  # the record holds a provisional entry of ours
    retry_at: float = 0.0
    snapshot: Snapshot = field(default_factory=Snapshot)
    seen_at: float = 0.0  # when the snapshot was last known to be the record's
    refilling: bool = False  # the next slice is being reserved while this one is spent
    prefetch_after: float = 0.0  # a prefetch failed: the senders reserve the next slice themselves
    slice_size: int = 0  # what the last reservation asked for (0: none yet)
    lapsed: bool = False  # part of a slice lapsed unspent since the last reservation
    refilled: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.refilled = threading.Condition(self.lock)

    def left(self) -> int:
        return sum(int(p[2]) for p in self.pieces)


class SharedBudget:
    """The process side: hands out requests from the current slice, reserving the next one from
    the store when it runs out. Thread-safe; one instance per process (built by the root)."""

    DEFAULT_SLICE_SHARE = 0.2
    # A process's first slice of a resource, as a share of the full slice (at least two requests).
    DEFAULT_INITIAL_SLICE_SHARE = 0.1
    MIN_SLICE = 2
    DEFAULT_REPORT_HORIZONS = 5.0
    # The next slice is reserved, on a thread of its own, once this share of the one in hand is
    # left: the process spends the rest meanwhile instead of waiting for the store's answer (its
    # round trip, 15-75 ms with lost races under load, would otherwise stop every sender each slice).
    DEFAULT_PREFETCH_SHARE = 0.5

    def __init__(
        self,
        store: BudgetStore,
        *,
        priority: Priority = Priority.STANDARD,
        slice_share: float = DEFAULT_SLICE_SHARE,
        initial_slice_share: float = DEFAULT_INITIAL_SLICE_SHARE,
        lease_share: float = 0.5,
        margin_share: float = 0.01,
        min_margin_s: float = 0.02,
        max_lease_s: float = 1.0,
        latency_s: float = 1.0,
        horizon_share: float = 0.2,
        max_horizon_s: float = 0.5,
        report_horizon_factor: float = DEFAULT_REPORT_HORIZONS,
        prefetch_share: float = DEFAULT_PREFETCH_SHARE,
        run_prefetch: Callable[[Callable[[], None]], object] | None = None,
        fallback_share: float = 0.25,
        fallback_for_s: float = 10.0,
        max_attempts: int = 4,
        assumed_wait_s: float = 0.25,
        default: Limits = Limits(100, 10.0),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """Shares are of the window: a slice is at most ``slice_share`` of its requests (a process's
        first one ``initial_slice_share`` of that; it grows as slices are spent), a lease lasts
        ``lease_share`` of its interval, a slice is booked up to ``horizon_share`` of it ahead.
        ``prefetch_share``: the share of a slice left when the next one is reserved, on a thread
        of its own (``run_prefetch(job)`` runs it, a pool of this budget's by default; 0 reserves
        only when the slice is spent). ``fallback_share``: the part of the window this process
        allows itself for ``fallback_for_s`` after the store failed. ``assumed_wait_s``: the
        longest wait before asking again while nobody has learned the window from GHL's headers
        (the wait was computed on ``default``)."""
        self.store = store
        self.priority = priority
        self.holder = uuid.uuid4().hex[:10]
        self._slice_share = slice_share
        self._initial_slice_share = initial_slice_share
        self._lease_share = lease_share
        self._margin_share = margin_share
        self._min_margin_s = min_margin_s
        self._max_lease_s = max_lease_s
        self._latency_s = latency_s
        self._horizon_share = horizon_share
        self._max_horizon_s = max_horizon_s
        self._report_horizon_factor = report_horizon_factor
        self._prefetch_share = prefetch_share
        self._run_prefetch = run_prefetch
        self._prefetcher: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()  # the prefetch pool's creation and the call count
        self._fallback_share = fallback_share
        self._fallback_for_s = fallback_for_s
        self._max_attempts = max_attempts
        self._assumed_wait_s = assumed_wait_s
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
            while True:
                now = self._clock()
                # A window learned from GHL's headers that the record does not show yet is shared
                # at once: the slice in hand was sized for the old one.
                stale = (
                    learned is not None and local.snapshot.version > 0 and local.snapshot.limits != learned
                )
                if any(p[1] <= now and p[2] > 0 for p in local.pieces):
                    local.lapsed = True
                local.pieces = [p for p in local.pieces if p[1] > now and p[2] > 0] if not stale else []
                if local.pieces or not local.refilling:
                    break
                # The next slice is on its way: wait for it rather than reserve a second one.
                local.refilled.wait(self._max_lease_s)
            if not local.pieces:
                if now < local.retry_at and not stale:
                    return local.retry_at - now
                grant = self._reserve(resource_id, local, learned, now)
                now = self._clock()  # the reservation took time: a lease may have ended meanwhile
                local.pieces = [[p.start, p.end, p.count] for p in grant.pieces if p.end > now]
                if not local.pieces:
                    return self._wait_for_room(local, grant, now)
            piece = local.pieces[0]
            if now < piece[0]:
                return piece[0] - now
            piece[2] -= 1
            local.in_flight += 1
            prefetch = self._prefetch_due(local, now)
            if prefetch:
                local.refilling = True
        if prefetch:
            job = functools.partial(self._prefetch, resource_id, learned)
            if self._run_prefetch is not None:
                self._run_prefetch(job)
            else:
                self._prefetch_pool().submit(job)
        return 0.0

    def _wait_for_room(self, local: _Local, grant: Grant, now: float) -> float:
        """No slice granted: when to ask again (called holding `local.lock`)."""
        # Spread the processes that wait for the same room over the horizon.
        spread = random.uniform(0.0, self._horizon(grant.limits) * 0.5)
        spread_at = grant.retry_at - spread
        local.retry_at = spread_at if spread_at > now else max(grant.retry_at, now + 0.001)
        if grant.assumed:
            # A wait computed on the documented window, which GHL's may not be: the record will
            # show the real one as soon as any process gets a response.
            local.retry_at = min(local.retry_at, now + self._assumed_wait_s)
        return local.retry_at - now

    def _prefetch_due(self, local: _Local, now: float) -> bool:
        if self._prefetch_share <= 0 or local.refilling or self.degraded:
            return False
        if now < local.retry_at or now < local.prefetch_after:
            return False
        full = self._want(local.snapshot.limits or self._default)
        # While slices still grow, the senders reserve the next one themselves: a prefetch on a
        # small slice would cost a second call to a process that needs one request.
        return local.slice_size >= full and local.left() <= full * self._prefetch_share

    def _prefetch_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._prefetcher is None:
                self._prefetcher = ThreadPoolExecutor(4, thread_name_prefix="budget-prefetch")
            return self._prefetcher

    def _prefetch(self, resource_id: str, learned: Limits | None) -> None:
        """Reserve the next slice while the senders spend what is left of this one. The report keeps
        that rest booked (provisional), so nothing in hand is given back; the store is called without
        the lock, and only this reservation runs (`take` waits for it rather than reserve another)."""
        local = self._local(resource_id)
        try:
            with local.lock:
                now = self._clock()
                if self.degraded:
                    return
                request = self._request(local, learned, now, keep=True)
                if local.snapshot.version and not allocate(local.snapshot, request, self._default)[1].count:
                    # No room in the record as last seen: no write for nothing; the senders ask
                    # again, as before, once the slice in hand is spent.
                    return
                reported = len(local.completions)
                # The store is called without the lock: the reservation works on a copy of what it
                # reads and writes, applied below (completions added meanwhile stay unreported).
                scratch = _Local(snapshot=local.snapshot, seen_at=local.seen_at)
            try:
                grant, written = self._reserve_shared(resource_id, scratch, request, PREFETCH_ATTEMPTS)
            except Exception as exc:  # the senders reserve (or fall back) when the slice runs out
                logger.warning("shared rate budget prefetch failed (%s)", type(exc).__name__)
                with local.lock:
                    local.prefetch_after = self._clock() + self._max_lease_s
                return
            with local.lock:
                local.snapshot, local.seen_at = scratch.snapshot, scratch.seen_at
                if written:
                    del local.completions[:reported]
                    local.provisional = scratch.provisional
                now = self._clock()
                fresh = [[p.start, p.end, p.count] for p in grant.pieces if p.end > now]
                if fresh:
                    local.pieces = sorted([*local.pieces, *fresh], key=lambda p: p[0])
                elif written:
                    self._wait_for_room(local, grant, now)
        finally:
            with local.lock:
                local.refilling = False
                local.refilled.notify_all()

    def give_back(self, resource_id: str) -> None:
        """A taken request was not sent after all."""
        local = self._local(resource_id)
        with local.lock:
            local.in_flight = max(0, local.in_flight - 1)
            now = self._clock()
            for piece in local.pieces:
                if piece[0] <= now < piece[1]:
                    piece[2] += 1
                    break

    def completed(self, resource_id: str) -> None:
        """A sent request ended (response, timeout or error)."""
        local = self._local(resource_id)
        with local.lock:
            local.in_flight = max(0, local.in_flight - 1)
            local.completions.append(self._clock())

    def flush(self, resource_id: str) -> None:
        """Report what this process used and give the rest of its slice back (one call), e.g.
        when an invocation ends; otherwise the rest returns when the lease ends."""
        local = self._local(resource_id)
        with local.lock:
            while local.refilling:
                local.refilled.wait(self._max_lease_s)
            if not (local.provisional or local.completions) or self.degraded:
                return
            now = self._clock()
            local.pieces = []
            request = self._request(local, None, now, want=0)
            try:
                self._reserve_shared(resource_id, local, request)
            except Exception as exc:  # best effort: the lease ends anyway
                logger.warning("shared rate budget flush failed (%s)", type(exc).__name__)

    def _count_call(self) -> None:
        with self._lock:  # a prefetch thread counts too
            self.coordination_calls += 1

    def _want(self, limits: Limits) -> int:
        """The full slice: the most a reservation asks for."""
        return max(1, int(limits.max_requests * self._slice_share))

    def _next_slice(self, local: _Local, limits: Limits) -> int:
        """What the next reservation asks for: a small first slice; then half the last one if part of
        a slice lapsed unspent since, else the full one (the last was spent): one small slice costs
        a busy process one call, where growing by doubling cost four (docs/rate-budget.md)."""
        full = self._want(limits)
        first = min(full, max(self.MIN_SLICE, round(full * self._initial_slice_share)))
        if not local.slice_size:
            size = first
        elif local.lapsed:
            size = local.slice_size // 2
        else:
            size = full
        local.slice_size, local.lapsed = min(full, max(first, size)), False
        return local.slice_size

    def _horizon(self, limits: Limits) -> float:
        return min(limits.interval_s * self._horizon_share, self._max_horizon_s)

    def _report(self, local: _Local, limits: Limits, now: float, keep: bool) -> tuple[Entry, ...] | None:
        """What this process used since its last report. ``keep``: the rest of the slice in hand
        stays booked (a prefetch), as the record had it."""
        if not (local.provisional or local.completions):
            return None
        done = sorted(local.completions)
        size = -(-len(done) // REPORT_BUCKETS) if done else 1
        rank = self.priority.rank
        report = [
            Entry("", len(b), b[-1], 0.0, rank)
            for b in (done[i : i + size] for i in range(0, len(done), size))
        ]
        if local.in_flight:
            # Still on their way: provisional until they complete and the next report closes them.
            lease = min(limits.interval_s * self._lease_share, self._max_lease_s)
            report.append(Entry(self.holder, local.in_flight, now + lease + self._latency_s, 0.0, rank))
        if keep:
            report.extend(
                Entry(self.holder, int(count), end + self._latency_s, start, rank)
                for start, end, count in local.pieces
                if count > 0 and end > now
            )
        return tuple(report)

    def _request(
        self, local: _Local, learned: Limits | None, now: float, keep: bool = False, want: int | None = None
    ) -> SliceRequest:
        limits = learned or local.snapshot.limits or self._default
        report = self._report(local, limits, now, keep)
        # A report is a write anyway: it may book further ahead and save the next call. Not a
        # prefetch's: booked far ahead behind the rest in hand, part of it lapsed unsent (measured).
        horizons = self._report_horizon_factor if report is not None and not keep else 1.0
        return SliceRequest(
            holder=self.holder,
            want=self._next_slice(local, limits) if want is None else want,
            priority=self.priority,
            now=now,
            lease_share=self._lease_share,
            margin_share=self._margin_share,
            min_margin_s=self._min_margin_s,
            max_lease_s=self._max_lease_s,
            horizon_s=self._horizon(limits) * horizons,
            latency_s=self._latency_s,
            limits=learned,
            report=report,
        )

    def _reserve(self, resource_id: str, local: _Local, learned: Limits | None, now: float) -> Grant:
        request = self._request(local, learned, now)
        if now >= self._fallback_until:
            try:
                return self._reserve_shared(resource_id, local, request)[0]
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
        grant = self._reserve_fallback(resource_id, request)
        local.completions.clear()  # reported to the fallback record
        local.provisional = False
        return grant

    def _reserve_shared(
        self, resource_id: str, local: _Local, request: SliceRequest, attempts: int | None = None
    ) -> tuple[Grant, bool]:
        """The grant, and whether the write landed (what the request reported is in the record)."""
        snapshot = local.snapshot
        fresh = request.now - local.seen_at <= request.horizon_s
        for _ in range(attempts or self._max_attempts):
            # A slow store or a lost race takes time: a slice computed at the time the process first
            # asked would arrive with part of its lease already spent.
            request = replace(request, now=max(request.now, self._clock()))
            new, grant = allocate(snapshot, request, self._default)
            unchanged = request.report is None and new.limits == snapshot.limits
            if grant.count == 0 and unchanged and snapshot.version:
                if fresh:  # nothing to report and no room in a recent record: wait without a call
                    local.snapshot = snapshot
                    return grant, False
                # Others may have reported since: read the record (no write, no version bump).
                snapshot, fresh = self.store.load(resource_id), True
                self._count_call()
                local.seen_at = request.now
                continue
            current = self.store.compare_and_set(resource_id, snapshot.version, new)
            self._count_call()
            local.seen_at = request.now
            fresh = True
            if current is None:
                local.snapshot = new
                local.completions.clear()
                local.provisional = grant.count > 0 or any(e.holder for e in request.report or ())
                return grant, True
            snapshot = current
        # Lost every race: others are taking slices right now; come back shortly.
        local.snapshot = snapshot
        limits = request.limits or snapshot.limits or self._default
        retry = request.now + limits.interval_s * random.uniform(0.02, 0.06)
        return Grant((), retry, limits, (request.limits or snapshot.limits) is None), False

    def _reserve_fallback(self, resource_id: str, request: SliceRequest) -> Grant:
        limits = request.limits or self._default
        share = Limits(max(1, int(limits.max_requests * self._fallback_share)), limits.interval_s)
        request = replace(
            request,
            want=max(1, min(request.want, share.max_requests // 2)),
            limits=share,
            priority=Priority.INTERACTIVE,
            report=tuple(replace(e, rank=0) for e in request.report or ()),
        )
        snapshot = self._fallback_store.load(resource_id)
        new, grant = allocate(snapshot, request, share)
        self._fallback_store.compare_and_set(resource_id, snapshot.version, new)
        return replace(grant, limits=limits)
