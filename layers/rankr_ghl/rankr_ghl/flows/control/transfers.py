"""`test_transfer`: one record through the reconcile's own per-record step, in either direction.

Without `apply` the step runs as a dry run and both record ports refuse every write, so nothing can
reach GHL or Rankr; with `apply` it syncs that one record exactly as a reconcile would (creates, links,
conflict rules, echo ledger, audit) and reports each write it made. A write is reported by its call
and the ids and field names it carried, never its values.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from rankr_ghl.flows.control.contract import ControlError
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob
from rankr_ghl.flows.reconcile.run import ReconcileRun
from rankr_ghl.flows.reconcile.services import ReconcileServices
from rankr_ghl.sync.types import Entity

Direction = Literal["ghl_to_rankr", "rankr_to_ghl"]

GHL_WRITES = frozenset(
    {
        "create_contact",
        "upsert_contact",
        "upsert_contact_reporting_new",
        "update_contact",
        "delete_contact",
        "add_tags",
        "remove_tags",
        "create_task",
        "update_task",
        "create_note",
        "update_note",
    }
)
RANKR_WRITES = frozenset({"create", "update", "delete", "put_appointment"})


class WriteRefused(Exception):
    """A dry run tried to write: the step is aborted rather than allowed to reach the other system."""


def _record_id(result: Any) -> str | None:
    if isinstance(result, Mapping) and result.get("id") is not None:
        return str(result["id"])
    record = getattr(result, "record", None)  # GhlUpsert
    if isinstance(record, Mapping) and record.get("id") is not None:
        return str(record["id"])
    return None


def _field_names(args: tuple[Any, ...]) -> list[str]:
    for arg in args:
        if isinstance(arg, Mapping):
            return sorted(str(k) for k in arg)
        if isinstance(arg, list | tuple) and all(isinstance(t, str) for t in arg) and arg:
            return ["tags"]
    return []


class RecordingPort:
    """A record port that passes reads through and records (or, in a dry run, refuses) writes."""

    def __init__(self, inner: Any, system: str, writes: frozenset[str], log: list[dict[str, Any]]) -> None:
        self._inner = inner
        self._system = system
        self._writes = writes
        self._log = log
        self.allow_writes = False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in self._writes:
            return attribute

        def write(*args: Any, **kwargs: Any) -> Any:
            if not self.allow_writes:
                raise WriteRefused(f"{self._system}.{name}")
            result = attribute(*args, **kwargs)
            entity = next((a.value for a in args if isinstance(a, Entity)), "contact")
            ids = [a for a in args[1:] if isinstance(a, str) and not isinstance(a, Entity)]
            self._log.append(
                {
                    "system": self._system,
                    "call": name,
                    "entity": entity,
                    "recordId": _record_id(result) or (ids[0] if ids else None),
                    "fields": _field_names(args[1:]),
                }
            )
            return result

        return write


def transfer_one(
    services: ReconcileServices,
    *,
    location_id: str,
    account_id: str,
    direction: Direction,
    record_id: str,
    apply: bool,
) -> dict[str, Any]:
    """Run the reconcile's per-contact step for one record; `apply=False` writes nothing anywhere."""
    writes: list[dict[str, Any]] = []
    ghl = RecordingPort(services.ghl, "ghl", GHL_WRITES, writes)
    rankr = RecordingPort(services.rankr, "rankr", RANKR_WRITES, writes)
    ghl.allow_writes = rankr.allow_writes = apply
    scoped = dataclasses.replace(services, ghl=ghl, rankr=rankr)
    job = ReconcileJob(
        location_id, Mode.INCREMENTAL, dry_run=not apply, run_id=f"transfer-{uuid.uuid4().hex[:12]}"
    )
    run = ReconcileRun(scoped, job, account_id, None, None)
    try:
        if direction == "ghl_to_rankr":
            record = services.ghl.get_contact(location_id, record_id)
            if record is None:
                raise ControlError("not_found", "no GHL contact with that id in this location")
            run.changed_ghl_contact(record)
        else:
            record = services.rankr.get(account_id, Entity.CONTACT, record_id, None)
            if record is None:
                raise ControlError("not_found", "no Rankr contact with that id in this account")
            run.changed_rankr_contact(record)
    except WriteRefused as refused:  # the reconcile step wrote in a dry run: a bug, and nothing left
        raise ControlError(
            "unavailable", f"a dry run attempted a write ({refused}); nothing was written"
        ) from None
    report = run.report.to_dict()
    return {
        "dryRun": not apply,
        "direction": direction,
        "runId": job.run_id,
        "differences": report["differences"],
        "repaired": report["repaired"],
        "failures": report["failures"],
        "samples": report["samples"],
        "writes": writes,
    }
