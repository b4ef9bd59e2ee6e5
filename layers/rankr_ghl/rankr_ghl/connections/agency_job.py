"""An agency install's jobs, its progress, and the ports the OAuth callback and the fan-out use.

The OAuth callback of an agency (Company) install stores the company token, records the progress as
`queued` on the company connection and queues one `AgencyInstallJob`: the listing run. It lists the
installed locations and queues one `AgencyChunkJob` per chunk of listed locations still to connect;
chunk jobs run in parallel (a message group each) and mint within the company's shared rate budget
(`rankr_ghl.connections.agency_fanout`). Plain dataclasses: the callback's cold start loads no
pydantic for them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

MAX_COMPANY_ID_LENGTH = 128
MAX_CHUNK_LOCATIONS = 500  # far above the fan-out's chunk; keeps a message well under SQS's 256 KB
MAX_LOCATION_ID_LENGTH = 64
MAX_ATTEMPT_LENGTH = 32
MAX_GROUP_ID_LENGTH = 128  # SQS's limit on MessageGroupId


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


def _is_ghl_id(value: object, max_length: int) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= max_length
        and value.replace("-", "").replace("_", "").isalnum()
    )


@dataclass(frozen=True)
class AgencyChunkJob:
    """One chunk of listed locations of one listing `attempt`: minted, stored and counted on its own,
    in a message group of its own, so chunks run in parallel. `index` names the chunk within the
    attempt (its progress is counted once per index); `part` counts its continuations."""

    company_id: str
    requested_ms: int
    attempt: str
    index: int
    location_ids: tuple[str, ...]
    part: int = 0

    @property
    def chunk_key(self) -> str:
        return str(self.index)

    @property
    def group_id(self) -> str:
        # A group per chunk: chunks run in parallel. Should a long company id cut the suffix, chunks
        # share a group and run one after the other: slower, never wrong.
        return f"{self.company_id}.{self.attempt}.{self.index}"[:MAX_GROUP_ID_LENGTH]

    @property
    def deduplication_id(self) -> str:
        return f"{self.attempt}:{self.index}:{self.part}"

    def body(self) -> str:
        return json.dumps(
            {
                "kind": "chunk",
                "companyId": self.company_id,
                "requestedMs": self.requested_ms,
                "attempt": self.attempt,
                "index": self.index,
                "locationIds": list(self.location_ids),
                "part": self.part,
            },
            separators=(",", ":"),
        )

    def next(self) -> AgencyChunkJob:
        return replace(self, part=self.part + 1)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> AgencyChunkJob:
        job = AgencyInstallJob.from_body(
            json.dumps({k: data.get(k) for k in ("companyId", "requestedMs", "part") if k in data})
        )
        attempt, index, location_ids = data.get("attempt"), data.get("index"), data.get("locationIds")
        if not _is_ghl_id(attempt, MAX_ATTEMPT_LENGTH):
            raise InvalidAgencyJob("attempt must be a short id")
        if type(index) is not int or index < 0:
            raise InvalidAgencyJob("index must be a non-negative integer")
        if not isinstance(location_ids, list) or not 0 < len(location_ids) <= MAX_CHUNK_LOCATIONS:
            raise InvalidAgencyJob(f"locationIds must list 1 to {MAX_CHUNK_LOCATIONS} locations")
        if not all(_is_ghl_id(i, MAX_LOCATION_ID_LENGTH) for i in location_ids):
            raise InvalidAgencyJob("locationIds must be GHL location ids")
        return cls(job.company_id, job.requested_ms, str(attempt), index, tuple(location_ids), job.part)


AgencyJob = AgencyInstallJob | AgencyChunkJob


def agency_job_from_body(text: str) -> AgencyJob:
    """A queued message: the listing job (no `kind`, as the callback queues it) or a chunk job."""
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidAgencyJob("the message is not JSON") from None
    if isinstance(data, dict) and data.get("kind") == "chunk":
        return AgencyChunkJob.from_data(data)
    if isinstance(data, dict) and "kind" in data:
        raise InvalidAgencyJob("unknown job kind")
    return AgencyInstallJob.from_body(text)


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
    started_ms: int | None = None  # when the current (or last) listing run started
    attempt: str | None = None  # the listing run whose chunks are counted
    chunks_done: int = 0  # chunks of that attempt counted so far
    chunks: int | None = None  # chunks of that attempt; None until its listing is complete

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "status": self.status.value,
            "requestedMs": self.requested_ms,
            "updatedMs": self.updated_ms,
            "locations": self.locations,
            "connected": self.connected,
            "skipped": self.skipped,
            "error": self.error,
            "startedMs": self.started_ms,
            "chunksDone": self.chunks_done,
        }
        if self.attempt is not None:
            item["attempt"] = self.attempt
        if self.chunks is not None:  # absent until the listing is complete (a condition reads it)
            item["chunks"] = self.chunks
        return item


def is_complete(progress: Mapping[str, Any] | None) -> bool:
    """Every chunk of a completely listed attempt is counted: the install is done."""
    if not progress or progress.get("chunks") is None:
        return False
    return int(progress.get("chunksDone") or 0) >= int(progress["chunks"])


class ChunkCount(NamedTuple):
    """A stored chunk's counts, as `count_chunk` adds them."""

    key: str
    connected: int
    skipped: int


class ListingTotals(NamedTuple):
    """A complete listing, as `complete_listing` records it: `locations` listed, `chunks` counts to
    wait for, and the locations it found connected already (`connected_before`)."""

    locations: int
    chunks: int
    connected_before: int


class AgencyInstallQueue(Protocol):
    def enqueue(self, job: AgencyJob) -> None:
        """Queue a job (FIFO, in its message group, deduplicated by the job's id). Raises on failure."""
        ...


class AgencyProgressStore(Protocol):
    def record_agency_install(self, company_id: str, progress: AgencyInstallProgress) -> None:
        """Write the progress onto the company connection (a missing one is not created)."""
        ...


class AgencyProgressTally(Protocol):
    """Progress aggregated across the parallel runs of one attempt, on the company connection. Every
    method is one atomic, conditional write; a write for an attempt that is no longer the current
    one changes nothing (None/False)."""

    def start_attempt(self, company_id: str, progress: AgencyInstallProgress) -> None:
        """Make `progress` (with its attempt) the current one, its counters and counted chunks reset."""
        ...

    def count_chunk(
        self, company_id: str, attempt: str, chunk_key: str, *, connected: int, skipped: int, now_ms: int
    ) -> dict[str, Any] | None:
        """Add a finished chunk's counts, once per chunk key. The progress after it, or None when
        the attempt is not current or the chunk was counted already."""
        ...

    def complete_listing(
        self,
        company_id: str,
        attempt: str,
        totals: ListingTotals,
        *,
        now_ms: int,
    ) -> dict[str, Any] | None:
        """The listing is complete (`totals`); the locations it found connected already are counted
        in the same write. The progress after it, or None when the attempt is not current or was
        completed already."""
        ...

    def complete_listing_finished(
        self,
        company_id: str,
        attempt: str,
        totals: ListingTotals,
        *,
        last: ChunkCount | None,
        now_ms: int,
    ) -> dict[str, Any] | None:
        """`complete_listing`, `count_chunk(last)` and `finish` in one write, for a listing run that
        stored every chunk itself: it writes only if, with `last` (a chunk not counted yet), all
        `totals.chunks` are counted. The progress after it (`done`), or None, with nothing written, when a
        chunk is still uncounted, the attempt is not current or its listing was completed already."""
        ...

    def finish(self, company_id: str, attempt: str, chunks: int, now_ms: int) -> bool:
        """`done` once all `chunks` are counted, exactly once: True for the one caller whose write
        made it so."""
        ...

    def record_status(
        self,
        company_id: str,
        attempt: str,
        status: AgencyInstallStatus,
        now_ms: int,
        error: str | None = None,
    ) -> None:
        """Set the status (and the error class), unless the attempt is done or not current."""
        ...
