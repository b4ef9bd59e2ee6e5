"""`CountingMetrics`: the `rankr_ghl.ports.Counter` port in memory, the one metrics fake of the unit
tests; `counts` by (metric name, reason)."""

from __future__ import annotations

from collections import Counter


class CountingMetrics:
    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str | None]] = Counter()

    def count(self, name: str, reason: str | None = None) -> None:
        self.counts[(name, reason)] += 1
