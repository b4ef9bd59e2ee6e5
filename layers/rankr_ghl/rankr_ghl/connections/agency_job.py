"""An agency install's fan-out job, its progress, and the ports the OAuth callback and the fan-out use.

The OAuth callback of an agency (Company) install stores the company token, records the progress as
`queued` on the company connection and queues one `AgencyInstallJob`; the fan-out
(`rankr_ghl.connections.agency_fanout`) mints the location tokens. Plain dataclasses: the callback's
cold start loads no pydantic for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

MAX_COMPANY_ID_LENGTH = 128


class AgencyInstallStatus(StrEnum):
    QUEUED = "queued"  # the callback queued the fan-out
    RUNNING = "running"
    CONTINUING = "continuing"  # an invocation ran short of time and queued the rest
    DONE = "done"
    FAILED = "failed"  # GHL or storage failed; the queue retries the job


class InvalidAgencyJob(ValueError):
    """A queued message that is not an agency install job (never retried)."""


@dataclass(frozen=True)
class AgencyInstallJob:
    """One fan-out of one agency: `requested_ms` names the install (OAuth callback or INSTALL webhook)
    that asked for it; `part` counts the continuations of that install."""

    company_id: str
    requested_ms: int
    part: int = 0

    @property
    def group_id(self) -> str:
        # One message group per agency: its fan-outs run one at a time, in order.
        return self.company_id

    @property
    def deduplication_id(self) -> str:
        return f"{self.company_id}:{self.requested_ms}:{self.part}"

    def body(self) -> str:
        return json.dumps(
            {"companyId": self.company_id, "requestedMs": self.requested_ms, "part": self.part},
            separators=(",", ":"),
        )

    def next(self) -> AgencyInstallJob:
        return replace(self, part=self.part + 1)

    @classmethod
    def from_body(cls, text: str) -> AgencyInstallJob:
        try:
            data = json.loads(text)
        except ValueError:
            raise InvalidAgencyJob("the message is not JSON") from None
        if not isinstance(data, dict):
            raise InvalidAgencyJob("the message is not a JSON object")
        company_id = data.get("companyId")
        requested_ms = data.get("requestedMs")
        part = data.get("part", 0)
        if not isinstance(company_id, str) or not 0 < len(company_id) <= MAX_COMPANY_ID_LENGTH:
            raise InvalidAgencyJob("companyId must be a non-empty string")
        if not company_id.replace("-", "").replace("_", "").isalnum():
            raise InvalidAgencyJob("companyId has characters GHL ids never have")
        if type(requested_ms) is not int or requested_ms < 0 or type(part) is not int or part < 0:
            raise InvalidAgencyJob("requestedMs and part must be non-negative integers")
        return cls(company_id, requested_ms, part)


@dataclass(frozen=True)
class AgencyInstallProgress:
    """What `connection.get`/`connections.list` show on the company connection (`agencyInstall`)."""

    status: AgencyInstallStatus
    requested_ms: int
    updated_ms: int
    locations: int | None = None  # installed locations GHL listed; None until listed
    connected: int = 0  # of those, connected (this run or before)
    skipped: int = 0  # listed, but GHL refused their token (no longer installed, not found)
    error: str | None = None
    started_ms: int | None = None  # when the current (or last) run started

    def to_item(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "requestedMs": self.requested_ms,
            "updatedMs": self.updated_ms,
            "locations": self.locations,
            "connected": self.connected,
            "skipped": self.skipped,
            "error": self.error,
            "startedMs": self.started_ms,
        }


class AgencyInstallQueue(Protocol):
    def enqueue(self, job: AgencyInstallJob) -> None:
        """Queue the fan-out (FIFO per agency, deduplicated by the job's id). Raises on failure."""
        ...


class AgencyProgressStore(Protocol):
    def record_agency_install(self, company_id: str, progress: AgencyInstallProgress) -> None:
        """Write the progress onto the company connection (a missing one is not created)."""
        ...
