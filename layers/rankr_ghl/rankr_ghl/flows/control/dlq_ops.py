"""The control API's dead-letter ops, scoped to one Rankr account.

A queue message is the account's when it belongs to one of the account's locations (its message
group, or the location it names). A lead-push failure record is the account's when every lead in it
is: each names the account or one of its locations, and nothing of another account. A record mixing
accounts belongs to none of them, so no caller replays another tenant's leads. Other tenants'
messages are released untouched and never counted. `dlq.replay` sends webhook and reconcile messages
back to their source queue and invokes lead push's async alias again with a failure record's request.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

from rankr_ghl.flows.control.contract import ControlError, DlqReplayRequest, DlqSummaryRequest
from rankr_ghl.flows.control.operator_contract import OpsDlqReplayRequest, OpsDlqSummaryRequest

SHOWN_PER_QUEUE = 50


class Letter(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def message_id(self) -> str: ...
    @property
    def location_id(self) -> str | None: ...
    @property
    def rankr_account_id(self) -> str | None: ...
    @property
    def event_type(self) -> str | None: ...
    @property
    def receive_count(self) -> int: ...
    @property
    def age_s(self) -> int | None: ...
    @property
    def lead_targets(self) -> tuple[tuple[str | None, str | None], ...] | None: ...


class DeadLetters(Protocol):
    def kinds(self) -> list[str]: ...

    def replayable(self, kind: str) -> bool: ...

    def look(self, kind: str) -> list[Any]: ...

    def release(self, letters: list[Any]) -> None: ...

    def count_all(self, kind: str, until: float) -> tuple[list[Any], bool]: ...

    def replay(self, letter: Any) -> None: ...


def _owned(letter: Letter, account: str | None, locations: set[str]) -> bool:
    if account is None:  # the operator scope without an account filter: every message
        return True
    if letter.lead_targets is not None:
        return all(
            (lead_account is not None or lead_location is not None)
            and lead_account in (None, account)
            and (lead_location is None or lead_location in locations)
            for lead_account, lead_location in letter.lead_targets
        )
    return letter.location_id is not None and letter.location_id in locations


def _row(letter: Letter) -> dict[str, Any]:
    return {
        "messageId": letter.message_id,
        "locationId": letter.location_id,
        "eventType": letter.event_type,
        "receiveCount": letter.receive_count,
        "ageSeconds": letter.age_s,
    }


def dlq_summary(
    dead: DeadLetters,
    request: DlqSummaryRequest | OpsDlqSummaryRequest,
    locations: set[str],
    shown: int = SHOWN_PER_QUEUE,
) -> dict[str, Any]:
    queues: dict[str, Any] = {}
    for kind in dead.kinds():
        letters = dead.look(kind)
        try:
            ours = [
                letter
                for letter in letters
                if _owned(letter, request.rankr_account_id, locations)
                and (request.location_id is None or letter.location_id == request.location_id)
            ]
        finally:
            dead.release(letters)
        queues[kind] = {
            "messages": len(ours),
            "byLocation": dict(Counter(letter.location_id or "-" for letter in ours)),
            "oldestAgeSeconds": max((letter.age_s or 0 for letter in ours), default=None),
            "replayable": dead.replayable(kind),
            "sample": [_row(letter) for letter in ours[:shown]],
        }
    return {"queues": queues}


def dlq_replay(
    dead: DeadLetters, request: DlqReplayRequest | OpsDlqReplayRequest, locations: set[str]
) -> dict[str, Any]:
    if request.queue not in dead.kinds():
        raise ControlError("invalid_request", "invalid fields: queue")
    if not dead.replayable(request.queue):
        raise ControlError("not_replayable", f"no replay target is configured for {request.queue}")
    wanted = set(request.message_ids or [])
    letters = dead.look(request.queue)
    replayed: list[str] = []
    failed: list[str] = []
    keep: list[Any] = []
    by_location: Counter[str] = Counter()
    try:
        for letter in letters:
            chosen = (
                _owned(letter, request.rankr_account_id, locations)
                and (request.location_id is None or letter.location_id == request.location_id)
                and (not wanted or letter.message_id in wanted)
                and len(replayed) + len(failed) < request.max
            )
            if not chosen:
                keep.append(letter)
                continue
            try:
                dead.replay(letter)
                replayed.append(letter.message_id)
                by_location[letter.location_id or "-"] += 1
            except Exception:  # the DLQ copy stays; the next replay tries it again
                failed.append(letter.message_id)
                keep.append(letter)
    finally:
        dead.release(keep)
    return {"queue": request.queue, "replayed": replayed, "failed": failed, "byLocation": dict(by_location)}
