"""What `connection.get` adds to the connection record: the last webhook, the last reconcile and its
result, the backlog, the location's dead-letter counts (kept by the sweep: one GetItem, no DLQ read)
and the GHL rate budget in use.

Each part is read on its own; one that fails is left out and named in `unavailable`, so a dependency
having a bad moment never hides the connection itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from rankr_ghl.flows.control.dead_letter_sweep import DeadLetterCounts, location_counts
from rankr_ghl.flows.control.reconcile_ops import last_reconcile
from rankr_ghl.flows.inbound.model import FLOW as WEBHOOK_FLOW
from rankr_ghl.observability import logger
from rankr_ghl.sync.ports import AuditReader, CheckpointStore

# The newest audit entries searched for the last webhook-driven change.
WEBHOOK_LOOKBACK = 100


class BudgetSnapshot(Protocol):
    @property
    def entries(self) -> tuple[Any, ...]: ...
    @property
    def limits(self) -> Any: ...


class Backlog(Protocol):
    def backlog(self) -> dict[str, int]: ...


def rate_budget_use(snapshot: BudgetSnapshot, now: float | None = None) -> dict[str, Any]:
    """Requests of the shared GHL budget still counted in the current window (docs/rate-budget.md)."""
    limits = snapshot.limits
    now = time.time() if now is None else now
    interval = float(limits.interval_s) if limits is not None else 10.0
    used = sum(int(e.count) for e in snapshot.entries if float(e.end) + interval > now)
    limit = int(limits.max_requests) if limits is not None else None
    return {
        "windowRequests": used,
        "windowLimit": limit,
        "intervalSeconds": interval,
        "share": round(used / limit, 3) if limit else None,
    }


def last_webhook_at(audit: AuditReader, location_id: str) -> str | None:
    for entry in audit.query_location(location_id, limit=WEBHOOK_LOOKBACK):
        if entry.flow == WEBHOOK_FLOW:
            return entry.at.isoformat()
    return None


def connection_details(
    *,
    location_id: str,
    audit: Callable[[], AuditReader],
    checkpoints: Callable[[], CheckpointStore],
    dead_letter_counts: Callable[[], DeadLetterCounts],
    backlog: Callable[[], Backlog],
    budget: Callable[[str], BudgetSnapshot],
) -> dict[str, Any]:
    parts: dict[str, Callable[[], Any]] = {
        "lastWebhookAt": lambda: last_webhook_at(audit(), location_id),
        "lastReconcile": lambda: last_reconcile(checkpoints(), location_id),
        "backlog": lambda: {**backlog().backlog(), "scope": "connector"},
        "deadLetters": lambda: location_counts(dead_letter_counts(), location_id),
        "rateBudget": lambda: rate_budget_use(budget(location_id)),
    }
    details: dict[str, Any] = {"unavailable": []}
    for name, read in parts.items():
        try:
            details[name] = read()
        except Exception as exc:  # shown as unavailable; the connection itself is still answered
            logger.warning("connection detail unavailable", extra={"part": name, "error": type(exc).__name__})
            details[name] = None
            details["unavailable"].append(name)
    return details
