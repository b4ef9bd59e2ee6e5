"""The chaos bench's adversarial workload, beside plain traffic:

- child-write failures: leads carrying tags, a note and a task, pushed while GHL fails the child writes
  (tags, notes, tasks) often, and retried by the caller as Rankr would;
- lead reverts: a lead pushed as A, then B, then A again (the Rankr contact edited to match each push);
- dropped note webhooks: notes created and edited in GHL with no webhook at all, on contacts nothing
  else touches, so only a reconcile that looks at notes can find them;
- full reconciles running while lead pushes and webhooks flow.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .convergence import LeadChildren

# The routes of a lead's child writes: the child-failure phase faults only these.
CHILD_WRITE_PATHS = (
    "POST /contacts/{contactId}/tags",
    "POST /contacts/{contactId}/notes",
    "POST /contacts/{contactId}/tasks",
)


def lead_note_body(lead_id: str) -> str:
    return f"Lead note {lead_id}"


def lead_task_title(lead_id: str) -> str:
    return f"Lead follow-up {lead_id}"


def children_payload(lead_id: str) -> dict[str, Any]:
    """The note and task a lead asks lead push to create with its contact."""
    return {
        "note": {"body": lead_note_body(lead_id)},
        "task": {"title": lead_task_title(lead_id), "body": "call the lead back"},
    }


def expected_children(lead_id: str, tags: Sequence[str], payload: dict[str, Any]) -> LeadChildren:
    return LeadChildren(
        lead_id=lead_id,
        tags=tuple(tags),
        note_body=payload.get("note", {}).get("body"),
        task_title=payload.get("task", {}).get("title"),
    )


def child_write_faults(admin: Any, seed: int) -> None:
    """GHL fails a third of the child writes; 5 % answer 422 although the record was written."""
    admin.faults(
        rate429=0.05,
        rate500=0.15,
        rate503=0.10,
        rate422_created=0.05,
        paths=list(CHILD_WRITE_PATHS),
        seed=seed,
    )


@dataclass
class Revert:
    """One lead pushed A -> B -> A: GHL must end with A (`expected`, canonical contact fields)."""

    lead_id: str
    original: dict[str, Any]  # the Rankr contact fields of A that B changes
    changed: dict[str, Any]  # B's values
    expected: dict[str, Any]  # canonical fields the GHL contact must hold after the last push


def plan_reverts(
    lead_ids: Sequence[str], fields: dict[str, dict[str, Any]], count: int, rng: random.Random
) -> list[Revert]:
    """`fields`: each lead's Rankr fields (firstName, lastName)."""
    chosen = rng.sample(list(lead_ids), min(count, len(lead_ids)))
    reverts = []
    for n, lead_id in enumerate(chosen):
        original = {
            "lastName": fields[lead_id].get("lastName"),
            "firstName": fields[lead_id].get("firstName"),
        }
        changed = {"lastName": f"Reverted{n}", "firstName": f"Interim{n}"}
        expected = {"last_name": original["lastName"], "first_name": original["firstName"]}
        reverts.append(Revert(lead_id, original, changed, expected))
    return reverts


def run_revert(
    revert: Revert, rankr_admin: Any, account_id: str, push: Callable[[dict[str, Any]], None]
) -> None:
    """Edit the lead in Rankr to B and push it, then back to A and push again (each push retried to
    success by `push`, as Rankr's caller would)."""
    for values in (revert.changed, revert.original):
        rankr_admin.edit(account_id, "contact", revert.lead_id, values)
        push(values)


@dataclass
class NotePlan:
    """Notes written in GHL: with webhooks on busy contacts, without any on quiet ones."""

    quiet_contacts: list[str]
    busy_contacts: list[str]
    creates_per_contact: int = 1
    edit_rate: float = 0.5
    written: list[dict[str, Any]] = field(default_factory=list)  # {contact, id, body, webhook}
    lock: threading.Lock = field(default_factory=threading.Lock)

    def operations(self, rng: random.Random) -> list[Callable[[Any, str], None]]:
        ops: list[Callable[[Any, str], None]] = []
        for contacts, webhook in ((self.quiet_contacts, False), (self.busy_contacts, True)):
            for contact_id in contacts:
                for _ in range(self.creates_per_contact):
                    ops.append(self._note(contact_id, webhook, edit=rng.random() < self.edit_rate))
        rng.shuffle(ops)
        return ops

    def _note(self, contact_id: str, webhook: bool, *, edit: bool) -> Callable[[Any, str], None]:
        def op(admin: Any, location_id: str) -> None:
            body = f"Chaos note {uuid.uuid4().hex[:8]}"
            note = admin.create(
                location_id, "note", {"body": body}, contact_id=contact_id, emit_webhook=webhook
            )
            if edit:
                body = f"{body} (edited)"
                admin.edit(
                    location_id,
                    "note",
                    note["id"],
                    {"body": body},
                    contact_id=contact_id,
                    emit_webhook=webhook,
                )
            with self.lock:
                self.written.append(
                    {"contact": contact_id, "id": note["id"], "body": body, "webhook": webhook}
                )

        return op


@dataclass
class ReconcileRuns:
    """Full reconciles run back to back while traffic flows (at least `runs` of them)."""

    runs: int = 2
    started: list[float] = field(default_factory=list)
    attempts: list[Any] = field(default_factory=list)
    second_started: threading.Event = field(default_factory=threading.Event)
    first_started: threading.Event = field(default_factory=threading.Event)

    def run(self, reconcile: Callable[[], dict[str, Any]]) -> None:
        for index in range(self.runs):
            self.started.append(time.monotonic())
            (self.first_started if index == 0 else self.second_started).set()
            self.attempts.append(reconcile().get("attempts"))
