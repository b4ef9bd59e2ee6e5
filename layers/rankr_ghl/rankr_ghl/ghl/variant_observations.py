"""What GHL's own answers tell about behaviours FACTS.md marks unverified (docs/ghl-variants.md).

Each observation becomes the EMF metric `GhlObservedVariant` (dimensions `behaviour` and `variant`)
once per container, through `observe_variant_once`: the first real traffic settles which variant GHL
uses. Observing never changes what the client does, and never fails a request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

CONTACT_CREATE_PATHS = frozenset({"/contacts/", "/contacts/upsert"})
_observed_variants: set[tuple[str, str]] = set()


def observe_variant_once(name: str, value: str) -> None:
    """EMF metric `GhlObservedVariant` with dimensions `behaviour`/`variant`, once per container."""
    if (name, value) in _observed_variants:
        return
    _observed_variants.add((name, value))
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    from rankr_ghl.observability import logger, metrics

    logger.info("observed GHL behaviour", extra={"behaviour": name, "variant": value})
    with single_metric(
        name="GhlObservedVariant", unit=MetricUnit.Count, value=1, namespace=metrics.namespace
    ) as metric:
        metric.add_dimension(name="behaviour", value=name)
        metric.add_dimension(name="variant", value=value)


def observe_search_cursor(records_with_cursor: int, records: int, top_level_cursor: bool) -> None:
    """Where POST /contacts/search puts its `searchAfter`: on every contact, beside `contacts`, or
    nowhere. An empty page tells nothing."""
    if not records:
        return
    if records_with_cursor == records:
        observe_variant_once("search_cursor", "per_contact")
    elif top_level_cursor:
        observe_variant_once("search_cursor", "top_level")
    elif not records_with_cursor:
        observe_variant_once("search_cursor", "none")
    else:
        observe_variant_once("search_cursor", "some_contacts")


def observe_tag_case(tag_lists: Iterable[Sequence[str] | None]) -> None:
    """How GHL stores tags. A stored tag with an upper-case letter proves `preserve`; tags that are
    all lower case are what both variants show for our own writes (written in lower case), so that
    dimension (`lower_case_only`) is recorded too but settles nothing on its own."""
    seen = False
    for tags in tag_lists:
        for tag in tags or ():
            if not isinstance(tag, str) or not tag:
                continue
            if tag != tag.lower():
                observe_variant_once("tags_store", "preserve")
                return
            seen = True
    if seen:
        observe_variant_once("tags_store", "lower_case_only")


def duplicate_error_shape(status: int, body: Any, message: str) -> str | None:
    """The shape of GHL's refusal of a duplicate contact, or None for any other error:
    `meta` (400 with meta.contactId), `no_meta` (400 naming a duplicate), `409`, `422`."""
    meta = body.get("meta") if isinstance(body, dict) else None
    names_duplicate = "duplicat" in message.lower()
    if status == 400 and isinstance(meta, dict) and meta.get("contactId"):
        return "meta"
    if status == 400 and names_duplicate:
        return "no_meta"
    if status == 409:
        return "409"
    if status == 422 and names_duplicate:
        return "422"
    return None


def observe_duplicate_error(status: int, body: Any, message: str, *, method: str, path: str) -> None:
    if method != "POST" or path not in CONTACT_CREATE_PATHS:
        return
    shape = duplicate_error_shape(status, body, message)
    if shape is not None:
        observe_variant_once("duplicate_error", shape)
