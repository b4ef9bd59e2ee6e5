"""Small shared vocabulary of the sync core: sides, entities, directions, policies."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

# A canonical record: canonical field name -> normalised value (str, bool, list[str], JSON value or None).
Canonical = dict[str, Any]


class Side(StrEnum):
    GHL = "ghl"
    RANKR = "rankr"

    @property
    def other(self) -> Side:
        return Side.RANKR if self is Side.GHL else Side.GHL


class Entity(StrEnum):
    CONTACT = "contact"
    TASK = "task"
    NOTE = "note"
    APPOINTMENT = "appointment"


class Direction(StrEnum):
    GHL_TO_RANKR = "ghl_to_rankr"
    RANKR_TO_GHL = "rankr_to_ghl"
    BOTH = "both"

    def allows(self, from_side: Side) -> bool:
        """True when values may flow from `from_side` to the other side."""
        if self is Direction.BOTH:
            return True
        return (self is Direction.GHL_TO_RANKR) == (from_side is Side.GHL)

    @staticmethod
    def of(from_side: Side) -> Direction:
        return Direction.GHL_TO_RANKR if from_side is Side.GHL else Direction.RANKR_TO_GHL


class ConflictPolicy(StrEnum):
    NEWER_WINS = "newer_wins"
    GHL_WINS = "ghl_wins"
    RANKR_WINS = "rankr_wins"


class DeletePolicy(StrEnum):
    PROPAGATE = "propagate"
    SOFT = "soft"
    IGNORE = "ignore"


class DeleteAction(StrEnum):
    """What a flow does on the target side when the source side deleted a record."""

    DELETE = "delete"  # the target's delete endpoint (Rankr's DELETE is itself a soft delete)
    SOFT_DELETE = "soft_delete"  # Rankr soft delete
    TAG = "tag"  # GHL has no soft delete: add the mapping's deleted tag to the contact
    NONE = "none"
