"""Per-location dead-letter counts, kept by a sweep so `connection.get` reads them with one GetItem.

Where the count can be kept honestly: messages reach a DLQ inside AWS (SQS's redrive after
maxReceiveCount receives; Lambda's on-failure destination after the async retries), with no code of
ours running at that moment. A worker's last failed attempt would miss every message whose last
attempt crashed or timed out, so the DLQs themselves are the only truth. The sweep (ControlFunction,
on the `DeadLetterCount` schedule) reads each DLQ in full off the request path, releases every
message at once, and writes one count item per location; locations the previous sweep counted and
this one did not get zeros. `dlq.replay` subtracts what it replayed at once; the next sweep recounts.

A count is as of its `countedAt`. `complete` says whether the sweep read the whole queue: SQS's own
count was reached (a FIFO DLQ holds back a message group's later messages while its first ones are
looked at, and a concurrent `dlq.replay` hides the messages it holds), so an incomplete count is a
lower bound.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rankr_ghl.flows.control.dlq_ops import Letter

SWEEP_EVENT = {"sweep": "dead-letters"}
QUEUES = ("webhooks", "reconcile", "lead-push")


class CountingDeadLetters(Protocol):
    def kinds(self) -> list[str]: ...

    def count_all(self, kind: str, until: float) -> tuple[list[Any], bool]: ...


class DeadLetterCounts(Protocol):
    def read(self, location_id: str) -> dict[str, Any] | None: ...

    def previous_locations(self) -> set[str]: ...

    def write(
        self, location_id: str, counts: Mapping[str, int], complete: Mapping[str, bool], counted_at: str
    ) -> None: ...

    def finish_sweep(self, locations: set[str], counted_at: str) -> None: ...

    def subtract(self, location_id: str, queue: str, replayed: int) -> None: ...


def is_sweep(event: Any) -> bool:
    return isinstance(event, dict) and event == SWEEP_EVENT


def sweep_dead_letters(
    dead: CountingDeadLetters, counts: DeadLetterCounts, budget_s: float
) -> dict[str, Any]:
    """Count every DLQ per location and store the counts. Answers totals only (no location)."""
    until = time.monotonic() + budget_s
    counted_at = datetime.now(UTC).isoformat()
    kinds = dead.kinds()
    per_location: dict[str, Counter[str]] = {}
    complete: dict[str, bool] = {}
    seen: dict[str, int] = {}
    for kind in kinds:
        letters, complete[kind] = dead.count_all(kind, until)
        unique: dict[str, Letter] = {letter.message_id: letter for letter in letters}
        seen[kind] = len(unique)
        for letter in unique.values():
            # A lead-push record naming no single location (only the account, or several) is in
            # dlq.summary, not in a location's count.
            if letter.location_id:
                per_location.setdefault(letter.location_id, Counter())[kind] += 1
    previous = counts.previous_locations()
    for location in sorted(per_location.keys() | previous):
        found = per_location.get(location, Counter())
        counts.write(location, {kind: found[kind] for kind in kinds}, complete, counted_at)
    counts.finish_sweep(set(per_location), counted_at)
    return {
        "countedAt": counted_at,
        "queues": {kind: {"messages": seen[kind], "complete": complete[kind]} for kind in kinds},
        "locations": len(per_location),
    }


def location_counts(
    counts: DeadLetterCounts, location_id: str, kinds: tuple[str, ...] = QUEUES
) -> dict[str, Any]:
    """`connection.get`'s `deadLetters`: one GetItem. No item: no sweep found a dead letter of it."""
    stored = counts.read(location_id)
    if stored is None:
        return {**dict.fromkeys(kinds, 0), "countedAt": None, "complete": None}
    numbers = stored["counts"]
    return {
        **{kind: int(numbers.get(kind, 0)) for kind in kinds},
        "countedAt": stored["countedAt"],
        "complete": all(stored["complete"].get(kind, False) for kind in kinds),
    }
