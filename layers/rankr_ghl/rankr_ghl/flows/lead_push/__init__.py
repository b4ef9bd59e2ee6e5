"""Lead push: Rankr leads become GHL contacts, exactly once, linked (contract: docs/lead-push.md).

- `request`: the leads and the batch envelope as Rankr sends them;
- `results`: per-lead results and error codes;
- `ports`: the stores, field mapping and location lookup (GHL is `rankr_ghl.ports.GhlRecords`);
- `service`: the batch (validation, threads, deadline, idempotent run per lead);
- `lead_writer`: one lead's write (mapping path or first push, tags, note, task, settle);
- `contact_resolution`: which GHL contact a first push becomes, without twins;
- `idempotency`: Powertools Idempotency; `records`, `mapper`, `locations`, `lead_source`: the adapters;
- `invocation`: the Lambda invocation (sync or async) around the service.
"""

from __future__ import annotations

from rankr_ghl.flows.lead_push.contact_resolution import FoundContact, ResolutionSettings
from rankr_ghl.flows.lead_push.idempotency import (
    LeadIdempotency,
    dynamodb_idempotency,
    powertools_idempotency,
)
from rankr_ghl.flows.lead_push.lead import Lead, LeadNote, LeadTask, lead_tag, parse_lead
from rankr_ghl.flows.lead_push.lead_source import RankrLeadSource
from rankr_ghl.flows.lead_push.lead_writer import claim_identities
from rankr_ghl.flows.lead_push.locations import ConnectionLocationResolver
from rankr_ghl.flows.lead_push.mapper import SyncLeadMapper
from rankr_ghl.flows.lead_push.ports import (
    ConnectionLookup,
    LeadLink,
    LeadMapper,
    LeadRecords,
    LeadSource,
    LinkConflict,
    LocationResolver,
)
from rankr_ghl.flows.lead_push.records import SyncLeadRecords
from rankr_ghl.flows.lead_push.request import (
    MAX_BATCH,
    MAX_BATCH_BYTES,
    MAX_LEAD_BYTES,
    InvocationType,
    LeadPushIncomplete,
    LeadPushRequestError,
    parse_request,
)
from rankr_ghl.flows.lead_push.results import BatchResult, ErrorCode, LeadPushFailure, Outcome
from rankr_ghl.flows.lead_push.service import LeadPushService, PushSettings, payload_hash
from rankr_ghl.sync.ports import LEAD_CLAIM_TTL_S

__all__ = [
    "LEAD_CLAIM_TTL_S",
    "MAX_BATCH",
    "MAX_BATCH_BYTES",
    "MAX_LEAD_BYTES",
    "BatchResult",
    "ConnectionLocationResolver",
    "ConnectionLookup",
    "ErrorCode",
    "FoundContact",
    "InvocationType",
    "Lead",
    "LeadIdempotency",
    "LeadLink",
    "LeadMapper",
    "LeadNote",
    "LeadPushFailure",
    "LeadPushIncomplete",
    "LeadPushRequestError",
    "LeadPushService",
    "LeadRecords",
    "LeadSource",
    "LeadTask",
    "LinkConflict",
    "LocationResolver",
    "Outcome",
    "PushSettings",
    "RankrLeadSource",
    "ResolutionSettings",
    "SyncLeadMapper",
    "SyncLeadRecords",
    "claim_identities",
    "dynamodb_idempotency",
    "lead_tag",
    "parse_lead",
    "parse_request",
    "payload_hash",
    "powertools_idempotency",
]
