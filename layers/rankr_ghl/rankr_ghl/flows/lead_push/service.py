"""Lead push: Rankr leads become GHL contacts, exactly once, linked, every time (docs/lead-push.md).

A batch is validated lead by lead; each valid lead runs once per payload under Powertools
Idempotency (`idempotency.py`), through `LeadWriter` (mapping path or first push) and
`ContactResolver` (which GHL contact a first push becomes).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rankr_ghl import deadlines
from rankr_ghl.connections.errors import ConnectionsError
from rankr_ghl.flows.lead_push.contact_resolution import ContactResolver, ResolutionSettings
from rankr_ghl.flows.lead_push.idempotency import IdempotentRunner
from rankr_ghl.flows.lead_push.lead import Lead, describe_validation_error, parse_lead
from rankr_ghl.flows.lead_push.lead_writer import LeadWriter
from rankr_ghl.flows.lead_push.ports import (
    AppliedVersion,
    LeadMapper,
    LeadRecords,
    LeadSource,
    LocationResolver,
)
from rankr_ghl.flows.lead_push.request import InvocationType, lead_size_error, parse_request
from rankr_ghl.flows.lead_push.results import BatchResult, ErrorCode, LeadPushFailure, Outcome, failed_result
from rankr_ghl.ghl.errors import GHLError, GHLForbidden, GHLRateLimited, GHLUnauthorized
from rankr_ghl.observability import logger, redact_text
from rankr_ghl.ports import GhlRecords
from rankr_ghl.wire_values import WireFormatError


def payload_hash(location_id: str, lead: Lead) -> str:
    canonical = json.dumps(
        {"locationId": location_id, **lead.as_json(exclude=frozenset({"locationId", "rankrAccountId"}))},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# Idempotency keys one push may try: a replay whose payload GHL no longer holds moves to another key,
# which only a concurrent push of other payloads of the same lead can make stale again.
_KEY_ATTEMPTS = 6


@dataclass
class PushSettings:
    workers: int = 8
    # Start no new lead when less than this much time is left (a lead's worst case incl. client retries).
    deadline_margin_ms: int = 20_000
    # A running lead's GHL calls (timeouts, retries, rate-limit waits) end this long before the
    # invocation does, leaving time for its store writes and the answer: it then fails `retryable`.
    finish_reserve_ms: int = 5_000
    # How long a lead waits for a concurrent invocation of the same payload to finish.
    in_progress_wait_s: float = 15.0
    resolution: ResolutionSettings = field(default_factory=ResolutionSettings)


@dataclass
class _LeadWork:
    index: int
    raw: Any
    lead: Lead | None = None
    result: dict[str, Any] | None = None
    lead_id: str | None = None
    check_current: bool = False


class LeadPushService:
    """Pushes leads; one instance per container (ports are thread-safe)."""

    def __init__(
        self,
        *,
        ghl: GhlRecords,
        records: LeadRecords,
        mapper: LeadMapper,
        locations: LocationResolver,
        idempotent: IdempotentRunner | None,
        source: LeadSource | None = None,
        in_progress_errors: tuple[type[BaseException], ...] = (),
        settings: PushSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._records = records
        self._locations = locations
        self._source = source
        self._in_progress_errors = in_progress_errors
        self._settings = settings or PushSettings()
        self._sleep = sleep
        resolver = ContactResolver(
            ghl, settings=self._settings.resolution, clock=clock, sleep=sleep, monotonic=monotonic
        )
        self._writer = LeadWriter(ghl=ghl, records=records, mapper=mapper, resolver=resolver, clock=clock)
        self._push_idempotent = idempotent(self._push_payload) if idempotent else self._push_payload
        self._ran = threading.local()  # per worker thread: did this lead's function run (or replay)?

    # -- batch ---------------------------------------------------------------------------------

    def push(
        self, event: Any, remaining_ms: Callable[[], int] | None = None, *, asynchronous: bool = False
    ) -> BatchResult:
        """Process an invoke payload. Raises LeadPushRequestError for a whole-request error.

        `asynchronous`: invoked without a waiting caller (the async alias). Such a delivery may come
        late (Lambda's retries, `dlq.replay` of its failure record), after the lead changed in Rankr,
        so a mapped lead's payload is checked against the lead as Rankr holds it now (`LeadSource`)
        before it overwrites anything; so is a request marked `redelivery` (a replay made through the
        waiting alias). A waiting caller's own push is what Rankr holds when it is sent."""
        request = parse_request(event)
        late_possible = asynchronous or request.redelivery or request.invocation_type is InvocationType.EVENT
        work = [
            _LeadWork(index=i, raw=raw, check_current=late_possible) for i, raw in enumerate(request.leads)
        ]
        for item in work:
            self._validate(item)
        pending = [w for w in work if w.result is None]
        deadline_guard = DeadlineGuard(
            remaining_ms, self._settings.deadline_margin_ms, self._settings.finish_reserve_ms
        )
        try:
            self._run_all(pending, deadline_guard)
        finally:
            self._flush_records()
        results = [w.result for w in work if w.result is not None]
        counts: dict[str, int] = {o.value: 0 for o in Outcome}
        for r in results:
            counts[r["outcome"]] += 1
        return BatchResult(
            results=results, batch=request.batch, invocation_type=request.invocation_type, counts=counts
        )

    def _run_all(self, pending: list[_LeadWork], guard: DeadlineGuard) -> None:
        if not pending:
            return
        workers = max(1, min(self._settings.workers, len(pending)))
        if workers == 1:
            for item in pending:
                item.result = self._run_one(item, guard)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lead-push") as pool:
            for item, result in zip(
                pending, pool.map(lambda w: self._run_one(w, guard), pending), strict=True
            ):
                item.result = result

    def _validate(self, item: _LeadWork) -> None:
        raw = item.raw
        item.lead_id = (
            raw.get("leadId") if isinstance(raw, Mapping) and isinstance(raw.get("leadId"), str) else None
        )
        if not isinstance(raw, Mapping):
            not_object = LeadPushFailure(
                ErrorCode.INVALID_LEAD, f"leads[{item.index}]: must be an object", retryable=False
            )
            item.result = failed_result(None, not_object)
            return
        too_large = lead_size_error(item.index, raw)
        if too_large is not None:
            item.result = failed_result(
                item.lead_id, LeadPushFailure(ErrorCode.INVALID_LEAD, too_large, retryable=False)
            )
            return
        try:
            item.lead = parse_lead(raw)
        except WireFormatError as exc:
            message = f"leads[{item.index}]: {describe_validation_error(exc)}"
            item.result = failed_result(
                item.lead_id, LeadPushFailure(ErrorCode.INVALID_LEAD, message, retryable=False)
            )
            # The leadId failed validation too, perhaps: scrub it like free text before logging.
            logged_id = redact_text(item.lead_id) if item.lead_id else None
            logger.info("lead rejected", extra={"leadId": logged_id, "reason": message})

    def _run_one(self, item: _LeadWork, guard: DeadlineGuard) -> dict[str, Any]:
        lead = item.lead
        assert lead is not None
        if not guard.has_time():
            not_started = LeadPushFailure(
                ErrorCode.NOT_PROCESSED, "not started: the invocation ran out of time; retry", retryable=True
            )
            return failed_result(lead.leadId, not_started)
        try:
            budget_s = guard.lead_budget_s()
            if budget_s is None:
                return self.push_lead(lead, guard, check_current=item.check_current)
            # Per worker thread (a context variable): the GHL client caps each call by it.
            with deadlines.deadline_in(budget_s):
                return self.push_lead(lead, guard, check_current=item.check_current)
        except LeadPushFailure as failure:
            return failed_result(lead.leadId, failure)
        except Exception as exc:
            logger.exception("lead push failed unexpectedly", extra={"leadId": lead.leadId})
            internal = LeadPushFailure(
                ErrorCode.INTERNAL, f"internal error: {type(exc).__name__}", retryable=True
            )
            return failed_result(lead.leadId, internal)

    # -- one lead ------------------------------------------------------------------------------

    def push_lead(
        self, lead: Lead, guard: DeadlineGuard | None = None, *, check_current: bool = False
    ) -> dict[str, Any]:
        """Push one validated lead (idempotent); raises LeadPushFailure. `check_current`: see `push`.

        The idempotency key holds the payload's hash and a sequence number (`appliedSeq`). A first try
        uses sequence 0 and reads nothing before it: a new payload runs at once. Only a replayed result
        is checked against the lead's mapping: it stands when GHL still holds this payload (the
        mapping's applied hash); after A, B, then A again, A's stored answer is stale, so the push
        runs again under the next unused sequence number."""
        location_id = self._locations.location_for(lead)
        current = payload_hash(location_id, lead)
        body = lead.as_json(exclude=frozenset({"rankrAccountId"})) | {"locationId": location_id}
        seq = 0
        for _ in range(_KEY_ATTEMPTS):
            payload = {
                "leadId": lead.leadId,
                "locationId": location_id,
                "payloadHash": current,
                "appliedSeq": seq,
                "lead": body,
                "checkCurrent": check_current,
                # The fields the lead carries (the rest are defaults): only those can be stale.
                "given": sorted(lead.given_fields),
            }
            self._ran.done = False
            result = self._push_once(payload, guard)
            if self._ran.done:
                return result
            link = self._records.mapped_contact(location_id, lead.leadId)
            if link is not None and link.applied_hash == current:
                if link.applied_seq == seq:
                    return result  # the answer of the payload GHL holds
                seq = link.applied_seq  # that payload's latest application: its answer
            else:
                seq = max(seq, link.applied_seq if link is not None else 0) + 1
        raise LeadPushFailure(
            ErrorCode.IN_PROGRESS,
            "the lead changed repeatedly while this push ran; retry shortly",
            retryable=True,
        )

    def _push_once(self, payload: dict[str, Any], guard: DeadlineGuard | None) -> dict[str, Any]:
        waited = 0.0
        delay = 0.1
        while True:
            try:
                return self._push_idempotent(lead_payload=payload)
            except self._in_progress_errors:
                out_of_time = guard is not None and not guard.has_time()
                if waited >= self._settings.in_progress_wait_s or out_of_time:
                    raise LeadPushFailure(
                        ErrorCode.IN_PROGRESS,
                        "another invocation is pushing this lead right now; retry shortly",
                        retryable=True,
                    ) from None
                self._sleep(delay)
                waited += delay
                delay = min(delay * 2, 1.0)

    def _push_payload(self, lead_payload: dict[str, Any]) -> dict[str, Any]:
        self._ran.done = True  # run, not replayed from the idempotency store
        body: dict[str, Any] = lead_payload["lead"]
        given = lead_payload.get("given")
        kept = {"leadId", "locationId", *given} if isinstance(given, list) else set(body)
        lead = parse_lead({k: v for k, v in body.items() if k in kept})
        location_id: str = lead_payload["locationId"]
        source = self._source
        current = (
            (lambda: source.current(location_id, lead))
            if source is not None and lead_payload.get("checkCurrent")
            else None
        )
        try:
            applied = AppliedVersion(lead_payload["payloadHash"], int(lead_payload["appliedSeq"]))
            return self._writer.write(location_id, lead, applied, current=current)
        except LeadPushFailure as failure:
            self._writer.safe_audit(location_id, lead.leadId, None, "failed", error=failure.code.value)
            raise
        except GHLError as exc:
            mapped_failure = _failure_from_ghl(exc)
            self._writer.safe_audit(location_id, lead.leadId, None, "failed", error=mapped_failure.code.value)
            raise mapped_failure from exc
        except ConnectionsError as exc:  # the token vault: no token, needs re-auth, paused, ...
            connection_failure = LeadPushFailure(
                ErrorCode.CONNECTION_UNAVAILABLE,
                f"the GHL connection of location {location_id} is not usable: {exc.message}",
                retryable=exc.retryable,
            )
            self._writer.safe_audit(
                location_id, lead.leadId, None, "failed", error=connection_failure.code.value
            )
            raise connection_failure from exc

    def _flush_records(self) -> None:
        try:
            self._records.flush()
        except Exception:  # the audit log must never fail a push that GHL already applied
            logger.exception("audit flush failed")


def _failure_from_ghl(exc: GHLError) -> LeadPushFailure:
    if isinstance(exc, GHLRateLimited):
        return LeadPushFailure(
            ErrorCode.GHL_RATE_LIMITED, f"GHL rate limit: {exc.message}", retryable=exc.retryable
        )
    if isinstance(exc, GHLUnauthorized | GHLForbidden):
        return LeadPushFailure(
            ErrorCode.GHL_UNAUTHORIZED, f"GHL refused the location's token: {exc}", retryable=False
        )
    if exc.retryable or exc.may_have_been_applied:
        return LeadPushFailure(
            ErrorCode.GHL_UNAVAILABLE, f"GHL did not complete the request: {exc}", retryable=True
        )
    return LeadPushFailure(ErrorCode.GHL_REJECTED, f"GHL rejected the lead: {exc}", retryable=False)


class DeadlineGuard:
    def __init__(self, remaining_ms: Callable[[], int] | None, margin_ms: int, reserve_ms: int = 0) -> None:
        self._remaining_ms = remaining_ms
        self._margin_ms = margin_ms
        self._reserve_ms = reserve_ms
        self._lock = threading.Lock()

    def has_time(self) -> bool:
        """Time enough to start a lead."""
        if self._remaining_ms is None:
            return True
        with self._lock:
            return self._remaining_ms() > self._margin_ms

    def lead_budget_s(self) -> float | None:
        """How long a lead starting now may spend on GHL: the time left less the reserve."""
        if self._remaining_ms is None:
            return None
        with self._lock:
            return max(0.0, (self._remaining_ms() - self._reserve_ms) / 1000.0)
