"""The shared record of one GHL rate budget, and the pure allocation every store applies.

The shared record is a short list of entries ``(holder, count, end, start, rank)``: ``count``
requests that reach GHL between ``start`` and ``end``. An entry occupies the window from ``start``
until ``end + interval + margin``: GHL stops counting a request one interval after it arrived,
whatever window GHL uses (sliding, or fixed windows anchored anywhere), so a new slice is granted
only where the entries occupying every instant of its own span leave room for it. A slice may
start a little in the future (when room frees within the *horizon*): its holder books the room
before it frees and sends the moment it does, so no coordination call sits between two windows.

Priority rule (fairness): while an entry of a higher priority occupies the window, a slice is
granted only where the room left after it stays at or above the priority's reserve: webhook work
leaves `STANDARD_RESERVE` of the window, reconcile leaves `BACKGROUND_RESERVE`, and lead push (a
user waits) has no reserve. So while lead push is active, reconcile never takes the share it needs;
when no higher priority has sent for one interval, the lower ones may use the whole window.
docs/rate-budget.md has the design and its cost.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from typing import Protocol

STANDARD_RESERVE = 0.1
BACKGROUND_RESERVE = 0.3
MAX_ENTRIES = 48  # a record never grows much past this: closed entries near in time are merged


class Priority(enum.Enum):
    INTERACTIVE = "interactive"  # lead push: a user waits for the answer
    STANDARD = "standard"  # webhook worker, installs
    BACKGROUND = "background"  # reconcile

    @property
    def rank(self) -> int:
        """0 is the highest priority."""
        return {Priority.INTERACTIVE: 0, Priority.STANDARD: 1}.get(self, 2)

    @property
    def reserve(self) -> float:
        """Share of the window left free after a slice while a higher priority is active."""
        return (0.0, STANDARD_RESERVE, BACKGROUND_RESERVE)[self.rank]


@dataclass(frozen=True)
class Limits:
    max_requests: int
    interval_s: float


@dataclass(frozen=True)
class Entry:
    """``count`` requests reaching GHL between ``start`` and ``end`` (wall-clock seconds).
    ``holder`` is set while the entry is provisional; closed entries have none."""

    holder: str
    count: int
    end: float
    start: float = 0.0
    rank: int = 1


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
    max_lease_s: float
    horizon_s: float  # a slice may be booked to start this far ahead
    latency_s: float  # a request sent at its lease end may reach GHL this much later
    limits: Limits | None  # learned from X-RateLimit-* by this process, if any
    report: tuple[Entry, ...] | None = None  # replaces the holder's provisional entries


@dataclass(frozen=True)
class Piece:
    """Part of a slice: ``count`` requests that may be sent from ``start`` until ``end``."""

    start: float
    end: float
    count: int


@dataclass(frozen=True)
class Grant:
    pieces: tuple[Piece, ...]  # room frees in the shape it was used: a slice may come in pieces
    retry_at: float  # when asking again may succeed (meaningful when nothing is granted)
    limits: Limits
    assumed: bool = False  # limits are the documented default: nobody has learned the window yet

    @property
    def count(self) -> int:
        return sum(p.count for p in self.pieces)


def _peak(entries: list[Entry], since: float, until: float, hold: float) -> int:
    """The most requests the entries put in the window at any instant of [since, until)."""
    instants = [since, *(e.start for e in entries if since < e.start < until)]
    return max(sum(e.count for e in entries if e.start <= t < e.end + hold) for t in instants)


def _compact(entries: list[Entry]) -> list[Entry]:
    """Keep the record within `MAX_ENTRIES` by merging closed entries: each merge joins the two
    closed entries nearest in time where the earlier one holds the fewest requests, since a merged
    entry holds all its requests until the later end (merging the oldest entries instead held
    up to half the window until the newest of them ended)."""
    closed = sorted((e for e in entries if not e.holder), key=lambda e: e.end)
    others = [e for e in entries if e.holder]
    while len(closed) + len(others) > MAX_ENTRIES and len(closed) >= 2:
        i = min(range(len(closed) - 1), key=lambda k: closed[k].count * (closed[k + 1].end - closed[k].end))
        early, late = closed[i], closed[i + 1]
        closed[i : i + 2] = [Entry("", early.count + late.count, late.end, 0.0, min(early.rank, late.rank))]
    return closed + others


def allocate(snapshot: Snapshot, request: SliceRequest, default: Limits) -> tuple[Snapshot, Grant]:
    """The next record and the grant: pure, shared by every store (and the local fallback)."""
    assumed = (request.limits or snapshot.limits) is None
    limits = request.limits or snapshot.limits or default
    hold = limits.interval_s * (1.0 + request.margin_share) + request.min_margin_s
    now = request.now
    kept = list(snapshot.entries)
    if request.report is not None:
        kept = [e for e in kept if e.holder != request.holder] + list(request.report)
    entries = [e for e in kept if e.count > 0 and e.end + hold > now]
    if len(entries) > MAX_ENTRIES:
        entries = _compact(entries)
    rank = request.priority.rank
    higher = [e for e in entries if e.rank < rank]
    capacity = limits.max_requests - (int(limits.max_requests * request.priority.reserve) if higher else 0)
    lease = min(limits.interval_s * request.lease_share, request.max_lease_s)
    # A slice much smaller than wanted costs a coordination call for a few requests: wait for more.
    least = max(1, min(request.want // 3, capacity))
    pieces: list[Entry] = []
    got, first_room = 0, None
    for start in sorted({now, *(e.end + hold for e in entries if e.end + hold > now)}):
        room = min(request.want - got, capacity - _peak(entries + pieces, start, start + lease + hold, hold))
        if room <= 0:
            continue
        if first_room is None and got + room >= least:
            first_room = start
        if start > now + request.horizon_s:
            if first_room is not None:
                break
            continue
        pieces.append(Entry(request.holder, room, start + lease + request.latency_s, start, rank))
        got += room
        if got >= request.want:
            break
    if got >= least:
        entries.extend(pieces)
        grant = Grant(tuple(Piece(e.start, e.start + lease, e.count) for e in pieces), now, limits, assumed)
    else:
        # Room for a useful slice frees later: come back just before it does.
        later = first_room if first_room is not None else now + limits.interval_s
        grant = Grant((), max(later - request.horizon_s, now), limits, assumed)
    # Only a window learned from GHL's headers is recorded, never the documented default.
    return Snapshot(snapshot.version + 1, tuple(entries), request.limits or snapshot.limits), grant


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
