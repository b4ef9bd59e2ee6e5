"""Which side wins a field that both sides changed since they were last in sync."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rankr_ghl.sync.types import ConflictPolicy, Side


@dataclass(frozen=True)
class FieldConflict:
    field: str
    winner: Side
    policy: ConflictPolicy
    reason: str  # "ghl_wins", "newer", "tie", "no_timestamp"


def resolve(
    field: str,
    policy: ConflictPolicy,
    *,
    ghl_ts: datetime | None,
    rankr_ts: datetime | None,
    tie_breaker: Side = Side.GHL,
) -> FieldConflict:
    """Pick the winning side for `field`.

    The result depends only on the policy and the two record timestamps, never on which side's
    event is being processed: deciding from either side gives the same winner, so the two
    directions can never overwrite each other in turn. `newer_wins` with a missing timestamp
    (GHL tasks and notes have none) or equal timestamps falls back to `tie_breaker`.
    """
    if policy is ConflictPolicy.GHL_WINS:
        return FieldConflict(field, Side.GHL, policy, "ghl_wins")
    if policy is ConflictPolicy.RANKR_WINS:
        return FieldConflict(field, Side.RANKR, policy, "rankr_wins")
    if ghl_ts is None or rankr_ts is None:
        return FieldConflict(field, tie_breaker, policy, "no_timestamp")
    if ghl_ts == rankr_ts:
        return FieldConflict(field, tie_breaker, policy, "tie")
    return FieldConflict(field, Side.GHL if ghl_ts > rankr_ts else Side.RANKR, policy, "newer")
