"""The lead-push request: the batch envelope; each lead is checked separately (`lead.parse_lead`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MAX_BATCH = 100
# Bytes of compact JSON (UTF-8). A lead carries at most one note and one task; 100 kB leaves room for
# both at GHL's sizes. A batch of 1 MB stays far below Lambda's 6 MB synchronous payload limit, and its
# GHL work fits the function's timeout.
MAX_LEAD_BYTES = 100_000
MAX_BATCH_BYTES = 1_000_000


class InvocationType(StrEnum):
    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"


class LeadPushRequestError(ValueError):
    """The request as a whole is unusable (not per lead): nothing is processed."""

    code = "invalid_request"


class LeadPushIncomplete(RuntimeError):
    """An async invocation left retryable failures: raised so Lambda retries the event and, once
    its retries are spent, sends it to the on-failure destination (nothing is dropped silently)."""

    def __init__(self, failures: Sequence[Mapping[str, Any]]) -> None:
        self.failures = [dict(f) for f in failures]
        ids = ", ".join(str(f.get("leadId")) for f in failures[:20])
        more = f" (+{len(failures) - 20} more)" if len(failures) > 20 else ""
        super().__init__(f"{len(failures)} lead(s) failed retryably: {ids}{more}")


def request_invocation_type(event: Any) -> InvocationType:
    """How the caller says it invoked us (`invocationType` in the payload; default sync)."""
    if isinstance(event, Mapping) and event.get("invocationType") == InvocationType.EVENT.value:
        return InvocationType.EVENT
    return InvocationType.REQUEST_RESPONSE


@dataclass(frozen=True)
class ParsedRequest:
    """Raw leads (each validated separately later) plus request-level options."""

    leads: list[Any]
    invocation_type: InvocationType
    batch: bool
    # A request sent again later (a failure record's replay): its leads may be older than Rankr's.
    redelivery: bool = False


# `redelivery`: set by the connector's own replays (`dlq.replay`, `rankr-ghl dlq replay`), not by Rankr.
REDELIVERY_KEY = "redelivery"
_ENVELOPE_KEYS = {"invocationType", REDELIVERY_KEY}
_REQUEST_KEYS = {"leads", "locationId", "rankrAccountId", *_ENVELOPE_KEYS}


def parse_request(event: Any) -> ParsedRequest:
    """Split an invoke payload into leads. One lead object, or `{"leads": [...], ...}`.

    Request-level `locationId` / `rankrAccountId` apply to leads that name neither; a request-level
    `rankrAccountId` also applies to leads naming only a `locationId` (that location must be the account's).
    """
    if not isinstance(event, Mapping):
        raise LeadPushRequestError('the payload must be a JSON object: one lead, or {"leads": [...]}')
    invocation = event.get("invocationType", InvocationType.REQUEST_RESPONSE.value)
    try:
        invocation_type = InvocationType(invocation)
    except ValueError:
        raise LeadPushRequestError("invocationType must be 'RequestResponse' or 'Event'") from None
    redelivery = event.get(REDELIVERY_KEY, False)
    if not isinstance(redelivery, bool):
        raise LeadPushRequestError(f"{REDELIVERY_KEY} must be true or false")
    if "leads" not in event:
        lead = {k: v for k, v in event.items() if k not in _ENVELOPE_KEYS}
        return ParsedRequest([lead], invocation_type, batch=False, redelivery=redelivery)
    unknown = sorted(set(event) - _REQUEST_KEYS)
    if unknown:
        raise LeadPushRequestError(f"unknown request field(s): {', '.join(map(str, unknown))}")
    leads = event["leads"]
    if not isinstance(leads, list):
        raise LeadPushRequestError("leads must be an array of lead objects")
    if not leads:
        raise LeadPushRequestError("leads must not be empty")
    if len(leads) > MAX_BATCH:
        raise LeadPushRequestError(f"a batch holds at most {MAX_BATCH} leads; got {len(leads)}")
    size = json_bytes(event)
    if size > MAX_BATCH_BYTES:
        per_batch = max(1, len(leads) * MAX_BATCH_BYTES // size)
        raise LeadPushRequestError(
            f"the batch is {size} bytes; a batch holds at most {MAX_BATCH_BYTES} bytes: nothing was pushed, "
            f"split it into batches of about {per_batch} leads (or fewer) and send each"
        )
    defaults = {k: event[k] for k in ("locationId", "rankrAccountId") if event.get(k) is not None}
    merged: list[Any] = []
    for raw_lead in leads:
        lead = raw_lead
        if (
            isinstance(lead, Mapping)
            and defaults
            and not (lead.get("locationId") or lead.get("rankrAccountId"))
        ):
            lead = {**defaults, **lead}
        elif isinstance(lead, Mapping) and "rankrAccountId" in defaults and not lead.get("rankrAccountId"):
            # Tenant isolation: the request's account also binds leads naming only a locationId, so
            # a lead cannot reach a location of another account (checked by the location resolver).
            lead = {**lead, "rankrAccountId": defaults["rankrAccountId"]}
        merged.append(lead)
    return ParsedRequest(leads=merged, invocation_type=invocation_type, batch=True, redelivery=redelivery)


def json_bytes(value: Any) -> int:
    """The size of `value` as compact UTF-8 JSON (how the limits are measured)."""
    encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return len(encoded.encode("utf-8", "surrogatepass"))  # a lone surrogate is measured, not fatal


def lead_size_error(index: int, raw: Any) -> str | None:
    size = json_bytes(raw)
    if size <= MAX_LEAD_BYTES:
        return None
    return f"leads[{index}]: the lead is {size} bytes; a lead holds at most {MAX_LEAD_BYTES} bytes"
