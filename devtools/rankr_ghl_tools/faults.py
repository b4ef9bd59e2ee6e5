"""Fault injection for chaos runs, installed into the composition root (never in the layer itself).

`RANKR_GHL_FAULT_CRASH_AFTER_GHL_WRITE` (a probability, set by bench/chaos.py on the local runtime):
lead push's process exits right after a lead's GHL contact write and before its mapping write,
which proves the re-resolve path.

`RANKR_GHL_FAULT_CRASH_AGENCY_INSTALL_AFTER` (a count, set by bench/agency_install.py and the agency
install tests): the process making that token-secret write of the agency install exits, once per
marker file `RANKR_GHL_FAULT_CRASH_ONCE_MARKER` (the retried run must be able to finish). The writes
are counted across every process of the fan-out (its chunk runs run in parallel containers), in a
file beside the marker.

The local runtime's worker process calls `install_from_environment` before importing the handler.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rankr_ghl.connections.models import TokenBundle
    from rankr_ghl.connections.ports import TokenStore
    from rankr_ghl.flows.lead_push import Lead, LeadLink, LeadRecords
    from rankr_ghl.sync.types import Entity

CRASH_AFTER_GHL_WRITE_ENV = "RANKR_GHL_FAULT_CRASH_AFTER_GHL_WRITE"
CRASH_AGENCY_INSTALL_AFTER_ENV = "RANKR_GHL_FAULT_CRASH_AGENCY_INSTALL_AFTER"
CRASH_ONCE_MARKER_ENV = "RANKR_GHL_FAULT_CRASH_ONCE_MARKER"
CRASH_EXIT_CODE = 70


def _rate(raw: str | None) -> float:
    try:
        return min(1.0, max(0.0, float(raw or 0)))
    except ValueError:
        return 0.0


def _exit_process(why: str = "between the GHL write and the mapping write") -> None:
    from rankr_ghl.observability import logger

    logger.warning(f"fault injection: process exits {why}")
    os._exit(CRASH_EXIT_CODE)


def _exit_mid_agency_install() -> None:
    _exit_process("in the middle of an agency install's secret writes")


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
        link_base: bool = False,
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
            link_base=link_base,
        )

    def write_link_base(
        self, location_id: str, lead: Lead, contact_id: str, ghl_state: Mapping[str, Any] | None
    ) -> None:
        self._inner.write_link_base(location_id, lead, contact_id, ghl_state)

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


def count_across_processes(path: str) -> int:
    """This call's number among every process's calls counting in `path`: each appends one byte,
    and with O_APPEND the kernel places each write at the end atomically, so the offset after it is
    the count so far, unique per call."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    try:
        os.write(fd, b".")
        return os.lseek(fd, 0, os.SEEK_CUR)
    finally:
        os.close(fd)


class CrashOnSecretWrite:
    """`TokenStore` of the agency fan-out: the process making the install's `after`-th secret write
    (counted across processes, beside the marker) exits, once per marker file, leaving that chunk's
    records without their secrets."""

    def __init__(
        self, inner: TokenStore, after: int, marker: str, *, crash: Callable[[], None] | None = None
    ) -> None:
        self._inner = inner
        self._after = after
        self._marker = marker
        self._crash = crash or _exit_mid_agency_install
        self._lock = threading.Lock()

    def _maybe_crash(self) -> None:
        with self._lock:
            if (
                os.path.exists(self._marker)
                or count_across_processes(self._marker + ".writes") != self._after
            ):
                return
            try:  # the first process to get here claims the one crash
                os.close(os.open(self._marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
        self._crash()

    def install(self, connection_id: str, bundle: TokenBundle) -> None:
        self._maybe_crash()
        self._inner.install(connection_id, bundle)

    def read(self, connection_id: str, *, fresh: bool = False) -> TokenBundle | None:
        return self._inner.read(connection_id, fresh=fresh)

    def write(self, connection_id: str, bundle: TokenBundle) -> None:
        self._inner.write(connection_id, bundle)

    def replace(self, connection_id: str, bundle: TokenBundle) -> None:
        self._inner.replace(connection_id, bundle)

    def schedule_deletion(self, connection_id: str, recovery_window_days: int) -> None:
        self._inner.schedule_deletion(connection_id, recovery_window_days)

    def restore(self, connection_id: str, bundle: TokenBundle | None) -> None:
        self._inner.restore(connection_id, bundle)


def _count(raw: str | None) -> int:
    try:
        return max(0, int(raw or 0))
    except ValueError:
        return 0


def install_from_environment(environ: Mapping[str, str]) -> bool:
    """Install the faults `environ` asks for into the root; True when one was installed."""
    rate = _rate(environ.get(CRASH_AFTER_GHL_WRITE_ENV))
    crash_after = _count(environ.get(CRASH_AGENCY_INSTALL_AFTER_ENV))
    marker = environ.get(CRASH_ONCE_MARKER_ENV, "")
    if not rate and not (crash_after and marker):
        return False
    from rankr_ghl.config import Settings
    from rankr_ghl.wiring import Overrides, Root, install

    def wrap_records(records: LeadRecords) -> LeadRecords:
        return CrashBeforeMappingWrite(records, rate)

    def wrap_tokens(tokens: TokenStore) -> TokenStore:
        return CrashOnSecretWrite(tokens, crash_after, marker)

    overrides = Overrides(
        lead_push_records=wrap_records if rate else None,
        agency_install_tokens=wrap_tokens if crash_after and marker else None,
    )
    install(Root(Settings.from_env(environ), overrides=overrides))
    return True
