"""The webhook worker: each queued GHL event is mirrored into Rankr (router.py has the rules).

- `router`: `InboundProcessor`, which routes an event to the lifecycle or to the mirror step;
- `mirror`: the mirror step, with the lead-claim linking that keeps a lead push's contact from twinning;
- `outcomes`: the ports the worker holds and how each event ends (ledger, skip, delete, audit, metrics);
- `model`: results, the per-event context, metric names and event routing;
- `batch`: one SQS FIFO batch (partial failures per message group).
"""

from __future__ import annotations

from rankr_ghl.flows.inbound.model import (
    METRIC_CLAIM_LINKED,
    METRIC_ECHO,
    METRIC_FAILED,
    METRIC_PROCESSED,
    METRIC_SKIPPED,
    METRIC_WRITTEN,
    AppLifecycle,
    AppointmentFetchForbidden,
    EventContext,
    InboundResult,
)
from rankr_ghl.flows.inbound.router import InboundProcessor

__all__ = [
    "METRIC_CLAIM_LINKED",
    "METRIC_ECHO",
    "METRIC_FAILED",
    "METRIC_PROCESSED",
    "METRIC_SKIPPED",
    "METRIC_WRITTEN",
    "AppLifecycle",
    "AppointmentFetchForbidden",
    "EventContext",
    "InboundProcessor",
    "InboundResult",
]
