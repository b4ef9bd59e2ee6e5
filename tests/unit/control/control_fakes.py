"""In-memory stand-ins for the control API's operational ports: the reconcile queue, the dead-letter
queues (with SQS's look-then-release semantics), the queue backlog and the shared rate budget."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rankr_ghl.flows.reconcile.jobs import ReconcileJob
from rankr_ghl.ghl.budget_record import Entry, Limits, Snapshot


class JobQueue:
    def __init__(self) -> None:
        self.sent: list[ReconcileJob] = []

    def send(self, job: ReconcileJob) -> None:
        self.sent.append(job)


@dataclass(frozen=True)
class Letter:
    kind: str
    message_id: str
    location_id: str | None
    rankr_account_id: str | None = None
    event_type: str | None = "ContactUpdate"
    receive_count: int = 5
    age_s: int | None = 60
    lead_targets: tuple[tuple[str | None, str | None], ...] | None = None


@dataclass
class DeadLetters:
    queued: dict[str, list[Letter]] = field(
        default_factory=lambda: {"webhooks": [], "reconcile": [], "lead-push": []}
    )
    hidden: set[str] = field(default_factory=set)
    replayed: list[str] = field(default_factory=list)
    targets: set[str] = field(default_factory=lambda: {"webhooks", "reconcile", "lead-push"})
    holds_back: dict[str, bool] = field(default_factory=dict)  # SQS's count not reached (a FIFO DLQ)
    looks: int = 0

    def kinds(self) -> list[str]:
        return list(self.queued)

    def replayable(self, kind: str) -> bool:
        return kind in self.targets

    def look(self, kind: str) -> list[Any]:
        self.looks += 1
        found = [m for m in self.queued[kind] if m.message_id not in self.hidden]
        self.hidden |= {m.message_id for m in found}
        return found

    def release(self, letters: list[Any]) -> None:
        self.hidden -= {m.message_id for m in letters}

    def count_all(self, kind: str, until: float) -> tuple[list[Any], bool]:
        letters = self.look(kind)
        self.release(letters)
        return letters, not self.holds_back.get(kind, False)

    def replay(self, letter: Any) -> None:
        self.queued[letter.kind].remove(letter)
        self.hidden.discard(letter.message_id)
        self.replayed.append(letter.message_id)


@dataclass
class DeadLetterCounts:
    """The sweep's count items, and the DynamoDB calls a read makes."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    swept: set[str] = field(default_factory=set)
    reads: int = 0

    def read(self, location_id: str) -> dict[str, Any] | None:
        self.reads += 1
        item = self.items.get(location_id)
        return None if item is None else {**item, "counts": dict(item["counts"])}

    def previous_locations(self) -> set[str]:
        return set(self.swept)

    def write(self, location_id: str, counts: Any, complete: Any, counted_at: str) -> None:
        self.items[location_id] = {
            "counts": dict(counts),
            "complete": dict(complete),
            "countedAt": counted_at,
        }

    def finish_sweep(self, locations: set[str], counted_at: str) -> None:
        self.swept = set(locations)

    def subtract(self, location_id: str, queue: str, replayed: int) -> None:
        item = self.items.get(location_id)
        if item is not None and item["counts"].get(queue, 0) >= replayed:
            item["counts"][queue] -= replayed


class Backlog:
    def backlog(self) -> dict[str, int]:
        return {"webhooks": 3, "reconcile": 1}


def budget_snapshot(location_id: str) -> Snapshot:
    now = time.time()
    return Snapshot(
        3, (Entry("a", 20, now - 1), Entry("b", 5, now - 60)), Limits(max_requests=100, interval_s=10)
    )
