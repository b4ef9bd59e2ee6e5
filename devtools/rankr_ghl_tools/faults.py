"""Fault injection for chaos runs, installed into the composition root (never in the layer itself).

`RANKR_GHL_FAULT_CRASH_AFTER_GHL_WRITE` (a probability, set by bench/chaos.py on the local runtime):
lead push's process exits right after a lead's GHL contact write and before its mapping write,
which proves the re-resolve path. The local runtime's worker process calls
`install_from_environment` before importing the handler.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rankr_ghl.flows.lead_push import Lead, LeadLink, LeadRecords
    from rankr_ghl.sync.types import Entity

CRASH_AFTER_GHL_WRITE_ENV = "RANKR_GHL_FAULT_CRASH_AFTER_GHL_WRITE"
CRASH_EXIT_CODE = 70


def _rate(raw: str | None) -> float:
    try:
        return min(1.0, max(0.0, float(raw or 0)))
    except ValueError:
        return 0.0


def _exit_process() -> None:
    from rankr_ghl.observability import logger

    logger.warning("fault injection: process exits between the GHL write and the mapping write")
    os._exit(CRASH_EXIT_CODE)


class CrashBeforeMappingWrite:
    """`LeadRecords` that exits the process, with probability `rate`, when lead push is about to
    write a lead's mapping (`link`, `settle`): always right after its GHL contact write."""

    def __init__(self, inner: LeadRecords, rate: float, *, crash: Callable[[], None] | None = None) -> None:
        """`crash`: what the fault does (default: the process exits at once, as a killed container)."""
        self._inner = inner
        self._rate = rate
        self._crash = crash or _exit_process

    def _maybe_crash(self) -> None:
        if self._rate and random.random() < self._rate:
            self._crash()

    def link(
        self,
        location_id: str,
        lead_id: str,
        contact_id: str,
        matched_by: str,
        *,
        attributes: Mapping[str, str] | None = None,
    ) -> Mapping[str, str]:
        self._maybe_crash()
        if attributes is None:
            return self._inner.link(location_id, lead_id, contact_id, matched_by)
        return self._inner.link(location_id, lead_id, contact_id, matched_by, attributes=attributes)

    def settle(
        self,
        location_id: str,
        lead: Lead,
        contact_id: str,
        ghl_state: Mapping[str, Any] | None,
        *,
        release: Sequence[str],
        link_matched_by: str | None = None,
        link_attributes: Mapping[str, str] | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> bool:
        self._maybe_crash()
        return self._inner.settle(
            location_id,
            lead,
            contact_id,
            ghl_state,
            release=release,
            link_matched_by=link_matched_by,
            link_attributes=link_attributes,
            attributes=attributes,
        )

    def update_link(
        self, location_id: str, lead_id: str, contact_id: str, changes: Mapping[str, str]
    ) -> None:
        self._inner.update_link(location_id, lead_id, contact_id, changes)

    def link_child(
        self, location_id: str, lead: Lead, contact_id: str, entity: Entity, record: Mapping[str, Any]
    ) -> None:
        self._inner.link_child(location_id, lead, contact_id, entity, record)

    def mapped_contact(self, location_id: str, lead_id: str) -> LeadLink | None:
        return self._inner.mapped_contact(location_id, lead_id)

    def claim_unless_mapped(
        self, location_id: str, lead_id: str, identities: Sequence[str]
    ) -> LeadLink | None:
        return self._inner.claim_unless_mapped(location_id, lead_id, identities)

    def claim(self, location_id: str, lead_id: str, identities: Sequence[str]) -> None:
        self._inner.claim(location_id, lead_id, identities)

    def release_claims(self, location_id: str, lead_id: str, identities: Sequence[str]) -> None:
        self._inner.release_claims(location_id, lead_id, identities)

    def record_write(
        self, location_id: str, contact_id: str, lead: Lead, ghl_state: Mapping[str, Any] | None
    ) -> None:
        self._inner.record_write(location_id, contact_id, lead, ghl_state)

    def audit(
        self,
        location_id: str,
        lead_id: str,
        contact_id: str | None,
        outcome: str,
        *,
        fields: Sequence[str] = (),
        matched_by: str | None = None,
        error: str | None = None,
    ) -> None:
        self._inner.audit(
            location_id, lead_id, contact_id, outcome, fields=fields, matched_by=matched_by, error=error
        )

    def flush(self) -> None:
        self._inner.flush()


def install_from_environment(environ: Mapping[str, str]) -> bool:
    """Install the faults `environ` asks for into the root; True when one was installed."""
    rate = _rate(environ.get(CRASH_AFTER_GHL_WRITE_ENV))
    if not rate:
        return False
    from rankr_ghl.config import Settings
    from rankr_ghl.wiring import Overrides, Root, install

    def wrap(records: LeadRecords) -> LeadRecords:
        return CrashBeforeMappingWrite(records, rate)

    install(Root(Settings.from_env(environ), overrides=Overrides(lead_push_records=wrap)))
    return True
