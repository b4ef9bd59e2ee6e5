"""The control API's dead-letter ops, scoped to one Rankr account.

A message is the account's when it belongs to one of the account's locations (its message group, or
the location it names), or, for a lead-push failure record, when the lead names the account. Other
tenants' messages are released untouched and never counted. `dlq.replay` sends the account's
webhook and reconcile messages back to their source queue; a lead-push failure is Rankr's own request,
which Rankr sends again itself (the summary shows it, `retryable` says so).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

from rankr_ghl.flows.control.contract import ControlError, DlqReplayRequest, DlqSummaryRequest

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


class DeadLetters(Protocol):
    def kinds(self) -> list[str]: ...

    def replayable(self, kind: str) -> bool: ...

    def look(self, kind: str) -> list[Any]: ...

    def release(self, letters: list[Any]) -> None: ...

    def replay(self, letter: Any) -> None: ...


def _owned(letter: Letter, account: str, locations: set[str]) -> bool:
    if letter.rankr_account_id is not None:
        return letter.rankr_account_id == account
    return letter.location_id is not None and letter.location_id in locations


def _row(letter: Letter) -> dict[str, Any]:
    return {
        "messageId": letter.message_id,
        "locationId": letter.location_id,
        "eventType": letter.event_type,
        "receiveCount": letter.receive_count,
        "ageSeconds": letter.age_s,
    }


def dlq_summary(dead: DeadLetters, request: DlqSummaryRequest, locations: set[str]) -> dict[str, Any]:
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
            "sample": [_row(letter) for letter in ours[:SHOWN_PER_QUEUE]],
        }
    return {"queues": queues}


def dlq_replay(dead: DeadLetters, request: DlqReplayRequest, locations: set[str]) -> dict[str, Any]:
    if request.queue not in dead.kinds():
        raise ControlError("invalid_request", "invalid fields: queue")
    if not dead.replayable(request.queue):
        raise ControlError(
            "not_replayable", f"{request.queue} failures are replayed by sending the request again"
        )
    wanted = set(request.message_ids or [])
    letters = dead.look(request.queue)
    replayed: list[str] = []
    failed: list[str] = []
    keep: list[Any] = []
    try:
        for letter in letters:
            chosen = (
                _owned(letter, request.rankr_account_id, locations)
                and letter.location_id == request.location_id
                and (not wanted or letter.message_id in wanted)
                and len(replayed) + len(failed) < request.max
            )
            if not chosen:
                keep.append(letter)
                continue
            try:
                dead.replay(letter)
                replayed.append(letter.message_id)
            except Exception:  # the DLQ copy stays; the next replay tries it again
                failed.append(letter.message_id)
                keep.append(letter)
    finally:
        dead.release(keep)
    return {"queue": request.queue, "replayed": replayed, "failed": failed}
