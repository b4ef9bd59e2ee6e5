"""The state every resource module of the GHL sandbox store shares."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable

from ..config import SandboxConfig
from ..variants import VariantRegistry, Variants
from .records import (
    AccessToken,
    AuthCode,
    CompanyState,
    EventSink,
    LocationState,
    Record,
    RefreshRecord,
    not_found,
)


class StoreBase:
    """The shared state of every resource: locations, the entity -> location indexes, tokens, one lock.

    All public methods take the lock; mutations report webhook events through `sink(type, payload)`
    while the lock is held, so the event order is the mutation order.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.sink: EventSink = lambda _type, _payload: None
        self.variants = VariantRegistry(config.variants)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.locations: dict[str, LocationState] = {}
            self.companies: dict[str, CompanyState] = {}
            self.contact_loc: dict[str, str] = {}
            self.task_loc: dict[str, str] = {}
            self.note_loc: dict[str, str] = {}
            self.appt_loc: dict[str, str] = {}
            self.access_tokens: dict[str, AccessToken] = {}
            self.refresh_tokens: dict[str, RefreshRecord] = {}
            self.codes: dict[str, AuthCode] = {}
            self.consent_override: tuple[str, str] | None = None  # ("Location"|"Company", id)
            self.refresh_grants = 0
            # Per location (or `company:<id>`): tests on a shared sandbox count only their own grants.
            self.refresh_grants_by_subject: Counter[str] = Counter()
            self.refresh_rotations = 0
            self.auth_code_grants = 0
            self.rng = random.Random(self.config.seed)  # shuffles and jitter of the variants

    def variants_for(self, resource_id: str | None) -> Variants:
        return self.variants.effective(resource_id)

    def get_location(self, location_id: str) -> LocationState:
        loc = self.locations.get(location_id)
        if loc is None:
            raise not_found("Location")
        return loc

    def owner_of(self, entity: str, entity_id: str) -> str | None:
        table = {"contact": self.contact_loc, "task": self.task_loc, "note": self.note_loc}.get(entity)
        if entity == "appointment":
            table = self.appt_loc
        return table.get(entity_id) if table is not None else None

    def _contact(self, contact_id: str) -> tuple[LocationState, Record]:
        location_id = self.contact_loc.get(contact_id)
        loc = self.locations.get(location_id or "")
        if loc is None or contact_id not in loc.contacts:
            raise not_found("Contact")
        return loc, loc.contacts[contact_id]

    def _file_child(
        self,
        owners: dict[str, str],
        loc: LocationState,
        records: dict[str, Record],
        by_contact: dict[str, dict[str, None]],
        record: Record,
    ) -> None:
        """A new task, note or appointment of `loc`: kept by id and under its contact (in creation
        order), and `owners` (id -> location) told where it is."""
        records[record["id"]] = record
        by_contact.setdefault(record["contactId"], {})[record["id"]] = None
        owners[record["id"]] = loc.id

    def _child(
        self,
        owners: dict[str, str],
        records_of: Callable[[LocationState], dict[str, Record]],
        label: str,
        contact_id: str | None,
        child_id: str,
    ) -> tuple[LocationState, Record]:
        """A task, note or appointment by id (`owners`: its location); 404 unless it is `contact_id`'s
        (when given)."""
        loc = self.locations.get(owners.get(child_id, ""))
        if loc is None or child_id not in records_of(loc):
            raise not_found(label)
        record = records_of(loc)[child_id]
        if contact_id is not None and record["contactId"] != contact_id:
            raise not_found(label)
        return loc, record
