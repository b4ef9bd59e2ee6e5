"""Ports of the sync core: the records it stores and the Protocols of the stores that keep them.

Adapters: `rankr_ghl.aws.sync_state` (DynamoDB SyncStateTable) and `rankr_ghl.aws.audit`
(AuditTable); in-memory fakes for tests live in `tests/fakes.py`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol

from rankr_ghl.lazy_exports import lazy_exports
from rankr_ghl.sync.transforms import LEAD_TAG_PREFIX, e164
from rankr_ghl.sync.types import Entity, Side

if TYPE_CHECKING:
    # Re-exported lazily (`__getattr__` below): the webhook intake (a DedupeStore user) never needs it.
    from rankr_ghl.sync.mapping_resolver import MappingConfigSource


__getattr__ = lazy_exports(__name__, {"MappingConfigSource": "rankr_ghl.sync.mapping_resolver"})


__all__ = [
    "CLAIM_LINK_ORIGIN",
    "LEAD_CLAIM_TTL_S",
    "LEAD_PUSH_CHILDREN",
    "LEAD_PUSH_CHILDREN_PENDING",
    "LEAD_PUSH_ORIGIN",
    "LEAD_TAG_PREFIX",
    "AuditAction",
    "AuditEntry",
    "AuditLog",
    "AuditOutcome",
    "AuditSink",
    "Checkpoint",
    "CheckpointConflict",
    "CheckpointStore",
    "DedupeStore",
    "IdMapping",
    "LeadClaim",
    "LeadClaimStore",
    "LedgerEntry",
    "LedgerStore",
    "MappingConfigSource",
    "MappingConflict",
    "MappingStore",
    "Tombstone",
    "TombstoneStore",
    "lead_child_claim_identity",
    "lead_claim_identities",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------------------------------
# ID mappings


@dataclass(frozen=True)
class IdMapping:
    """One GHL record <-> one Rankr record, within a GHL location."""

    location_id: str
    entity: Entity
    ghl_id: str
    rankr_id: str
    created_at: datetime = field(default_factory=utcnow)
    # Parent contact ids for tasks and notes (their APIs are contact-scoped on both sides).
    ghl_parent_id: str | None = None
    rankr_parent_id: str | None = None
    account_id: str | None = None
    # Free-form string facts, e.g. {"matchedBy": "email"} for a lead linked to an existing contact.
    attributes: Mapping[str, str] = field(default_factory=dict)

    def same_pair(self, other: IdMapping) -> bool:
        return (self.location_id, self.entity, self.ghl_id, self.rankr_id) == (
            other.location_id,
            other.entity,
            other.ghl_id,
            other.rankr_id,
        )


class MappingConflict(Exception):
    """The GHL id or the Rankr id is already mapped to a different counterpart."""

    def __init__(self, wanted: IdMapping, existing: IdMapping | None, side: Side) -> None:
        self.wanted = wanted
        self.existing = existing
        self.side = side  # which id was already taken
        taken = wanted.ghl_id if side is Side.GHL else wanted.rankr_id
        counterpart = ""
        if existing is not None:
            counterpart = f" (mapped to {existing.rankr_id if side is Side.GHL else existing.ghl_id})"
        super().__init__(
            f"{wanted.entity.value} {side.value} id {taken} in location {wanted.location_id} "
            f"is already mapped{counterpart}"
        )


class MappingStore(Protocol):
    def get_by_ghl(self, location_id: str, entity: Entity, ghl_id: str) -> IdMapping | None: ...

    def get_by_rankr(self, location_id: str, entity: Entity, rankr_id: str) -> IdMapping | None: ...

    def put(self, mapping: IdMapping) -> IdMapping:
        """Store a new pair atomically. The same pair again returns the stored one (idempotent).

        Raises `MappingConflict` when either id already belongs to another pair, also when two
        writers race: exactly one of them wins.
        """
        ...

    def delete(self, mapping: IdMapping) -> None:
        """Remove both directions of the pair (no error when already gone)."""
        ...

    def update_attributes(self, mapping: IdMapping) -> bool:
        """Replace the stored `attributes` of the pair (both directions) with `mapping.attributes`.

        Only while the pair is still mapped exactly so; False when it is not (nothing written).
        """
        ...

    def list_for_location(self, location_id: str, entity: Entity) -> Iterator[IdMapping]:
        """Every pair of one entity kind in a location, streamed page by page."""
        ...


# --------------------------------------------------------------------------------------------------
# Write ledger


LedgerOrigin = Literal["write", "observed"]


@dataclass(frozen=True)
class LedgerEntry:
    """What one side's record looked like, in canonical form, when the connector last touched it.

    `origin="write"`: the state the connector wrote there (an inbound change equal to it is an echo).
    `origin="observed"`: the state the connector last read there and synced from (a baseline).
    `link_base`: written by a lead push together with its link, before the lead's tags, note and task
    and its settle: the pair's base for later decisions, but not yet a state the push finished (see
    `lead_push_settling`). Only digests are stored, never values.
    """

    location_id: str
    entity: Entity
    side: Side
    record_id: str
    field_digests: Mapping[str, str]
    digest: str
    written_at: datetime
    origin: LedgerOrigin = "write"
    correlation_id: str | None = None
    link_base: bool = False


def lead_push_settling(*entries: LedgerEntry | None) -> bool:
    """True while a mapped pair's ledger holds nothing but a lead push's link base (or nothing at
    all): that push's GHL writes may still be landing (tags follow the contact write)."""
    return all(entry is None or entry.link_base for entry in entries)


class LedgerStore(Protocol):
    def get(self, location_id: str, entity: Entity, side: Side, record_id: str) -> LedgerEntry | None: ...

    def put(self, entry: LedgerEntry) -> None: ...

    def get_many(
        self, location_id: str, entity: Entity, keys: Sequence[tuple[Side, str]]
    ) -> dict[tuple[Side, str], LedgerEntry]:
        """Several entries of one location and entity in one read, keyed by (side, record id);
        missing (or expired) entries are absent from the result."""
        ...

    def put_many(self, entries: Sequence[LedgerEntry]) -> None:
        """Store several entries in one write (not atomic: like consecutive `put`s)."""
        ...

    def delete(self, location_id: str, entity: Entity, side: Side, record_id: str) -> None: ...


# --------------------------------------------------------------------------------------------------
# Tombstones


@dataclass(frozen=True)
class Tombstone:
    location_id: str
    side: Side  # the side whose record was deleted
    entity: Entity
    record_id: str
    deleted_at: datetime = field(default_factory=utcnow)
    reason: str | None = None


class TombstoneStore(Protocol):
    def bury(self, tombstone: Tombstone, *, ttl_s: int | None = None) -> None:
        """Remember that a record was deleted (kept `ttl_s`, the store's default when None)."""
        ...

    def get(self, location_id: str, side: Side, entity: Entity, record_id: str) -> Tombstone | None: ...

    def is_tombstoned(self, location_id: str, side: Side, entity: Entity, record_id: str) -> bool:
        """True when the record was deleted: a late create/update event must not resurrect it."""
        ...


# --------------------------------------------------------------------------------------------------
# Checkpoints and webhook dedupe


@dataclass(frozen=True)
class Checkpoint:
    location_id: str
    name: str  # e.g. "reconcile:incremental", "reconcile:full:cursor"
    value: Mapping[str, Any]
    version: int
    updated_at: datetime


class CheckpointConflict(Exception):
    """Another writer saved the checkpoint since it was loaded (optimistic concurrency)."""


class CheckpointStore(Protocol):
    def load(self, location_id: str, name: str) -> Checkpoint | None: ...

    def save(
        self, location_id: str, name: str, value: Mapping[str, Any], *, expected_version: int | None = None
    ) -> Checkpoint:
        """Store `value` as the next version. With `expected_version` (0 = must not exist yet) the
        save fails with `CheckpointConflict` when the stored version differs."""
        ...

    def delete(self, location_id: str, name: str) -> None: ...


class DedupeStore(Protocol):
    def claim_once(self, key: str, ttl_s: int) -> bool:
        """True for the first claim of `key` within `ttl_s` seconds, False for every repeat."""
        ...

    def release(self, key: str) -> None:
        """Forget a claim (e.g. the event could not be queued, so GHL's retry must get through)."""
        ...


# --------------------------------------------------------------------------------------------------
# Lead claims (lead push in flight; see docs/lead-push.md "Claims")

# A mapping the webhook worker wrote for a claimed lead (provisional until lead push confirms it).
CLAIM_LINK_ORIGIN = "webhook_claim"
LEAD_PUSH_ORIGIN = "lead_push"
# A lead's contact mapping attribute: "pending" from lead push's link until its tags, note and task are
# all written (the pair's ledger is the link base meanwhile), then "done".
LEAD_PUSH_CHILDREN = "children"
LEAD_PUSH_CHILDREN_PENDING = "pending"


@dataclass(frozen=True)
class LeadClaim:
    """A lead push in flight for `lead_id`: it is about to write (or has written) a GHL contact with this
    identity and has not linked it yet. The webhook worker must not create a Rankr twin for it."""

    location_id: str
    identity: str  # from `lead_claim_identities`; adapters store a digest of it, never the value
    lead_id: str
    claimed_at: datetime


# How long a claim holds: well past a push's worst case and GHL's webhook delay, short enough that an
# abandoned claim soon stops steering the webhook worker.
LEAD_CLAIM_TTL_S = 600


def lead_claim_identities(
    *, email: Any = None, phone: Any = None, tags: Any = None, default_country_code: str = "+1"
) -> list[str]:
    """The identities a GHL contact is matched by, normalised the same way on both flows: lead tags
    (`tag:rankr-lead:<leadid>`, lower case like GHL stores tags) first, then `email:`, then `phone:` (E.164).
    """
    identities: list[str] = []
    if isinstance(tags, list | tuple):
        for tag in tags:
            text = str(tag).strip().lower()
            if text.startswith(LEAD_TAG_PREFIX) and len(text) > len(LEAD_TAG_PREFIX):
                identities.append(f"tag:{text}")
    if isinstance(email, str) and email.strip():
        identities.append(f"email:{email.strip().lower()}")
    if isinstance(phone, str) and phone.strip():
        normalised = e164(phone, default_country_code)
        if isinstance(normalised, str) and normalised:
            identities.append(f"phone:{normalised}")
    return list(dict.fromkeys(identities))


def lead_child_claim_identity(entity: Entity, ghl_contact_id: str, text: Any) -> str | None:
    """The identity a lead's own note (its body) or task (its title) is claimed by on its GHL contact
    while lead push writes and maps it: the webhook worker and reconcile leave an unmapped note or task
    that carries it alone, so it never becomes a Rankr record of its own."""
    if not ghl_contact_id or not isinstance(text, str) or not text.strip():
        return None
    import hashlib

    digest = hashlib.sha256(text.strip().encode()).hexdigest()[:32]
    return f"child:{entity.value}:{ghl_contact_id}:{digest}"


class LeadClaimStore(Protocol):
    def claim(self, location_id: str, identities: Sequence[str], lead_id: str, ttl_s: int) -> None:
        """Claim every identity for `lead_id` for `ttl_s` seconds (a newer claim replaces an older one)."""
        ...

    def find(self, location_id: str, identities: Sequence[str]) -> list[LeadClaim]:
        """The live claims among `identities`, in the order given (expired claims count as absent)."""
        ...

    def release(self, location_id: str, identities: Sequence[str], lead_id: str) -> None:
        """Drop the claims `lead_id` still holds (another lead's newer claim on one identity is kept)."""
        ...


@dataclass(frozen=True)
class LeadClaimResult:
    """`claimed`: the lead was unmapped and its identities are claimed now. Otherwise `mapping` is
    the lead's mapping, or None when the store could not tell (contended): read and claim apart."""

    claimed: bool
    mapping: IdMapping | None = None


class LeadPushStore(Protocol):
    def claim_unless_mapped(
        self, location_id: str, lead_id: str, identities: Sequence[str], ttl_s: int
    ) -> LeadClaimResult:
        """In one write: claim `identities` for the lead (as `LeadClaimStore.claim`) unless the lead
        has a contact mapping already, which is then returned instead (nothing claimed)."""
        ...

    def settle_lead(
        self,
        location_id: str,
        lead_id: str,
        *,
        mapping: IdMapping | None,
        ledger: Sequence[LedgerEntry],
        release_identities: Sequence[str],
        attributes_of: IdMapping | None = None,
    ) -> bool:
        """The end of a lead push in one all-or-nothing write: the ledger entries, the lead's claims
        on `release_identities` dropped (each still held by `lead_id`) and, if given, the mapping
        (neither side mapped yet), and the attributes of `attributes_of` (that pair mapped already).
        False, with nothing written, when any of that does not hold or the write was contended: the
        caller then goes step by step (put, put_many, release, update_attributes)."""
        ...


# --------------------------------------------------------------------------------------------------
# Audit log


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    LINK = "link"
    SKIP = "skip"
    FAILURE = "failure"


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    SKIPPED = "skipped"
    FAILED = "failed"
    DRY_RUN = "dry_run"


_FIELD_NAME = re.compile(r"^[A-Za-z0-9_.:#-]{1,100}$")


@dataclass(frozen=True)
class AuditEntry:
    """One thing a flow did (or declined to do). Field NAMES only, never values."""

    location_id: str
    entity: Entity
    action: AuditAction
    outcome: AuditOutcome
    direction: str  # "ghl_to_rankr", "rankr_to_ghl" or "none"
    ghl_id: str | None = None
    rankr_id: str | None = None
    fields: tuple[str, ...] = ()
    reason: str | None = None  # short code: "echo", "in_sync", "tombstoned", "conflict_lost", ...
    error: str | None = None  # redacted by the sink before it is stored
    correlation_id: str | None = None
    flow: str | None = None  # "webhook", "lead_push", "reconcile", ...
    at: datetime = field(default_factory=utcnow)
    entry_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        bad = [f for f in self.fields if not _FIELD_NAME.match(f)]
        if bad:
            # A "field name" with spaces or '@' is almost surely a value leaking into the log.
            raise ValueError(f"audit fields must be field names, got {len(bad)} invalid name(s)")
        if self.at.tzinfo is None:
            raise ValueError("audit timestamps must be timezone-aware")


class AuditSink(Protocol):
    def record(self, entry: AuditEntry) -> None: ...


class AuditReader(Protocol):
    def query_location(
        self,
        location_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        entity: Entity | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Entries of a location, newest first, optionally one entity kind and a time range."""
        ...


class AuditLog(AuditSink, AuditReader, Protocol):
    """The audit log: written by every flow, read by the control API."""
