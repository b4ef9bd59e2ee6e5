"""Ports shared by every flow: how a flow counts what happened and looks up a connection.

A flow declares what it needs from the outside world as a Protocol; the composition root
(`rankr_ghl.wiring`) hands it an adapter, a test hands it a fake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rankr_ghl.connections.models import Connection


class Counter(Protocol):
    """Counts one occurrence of `name`, optionally with a `reason` dimension."""

    def count(self, name: str, reason: str | None = None) -> None: ...


class NullCounter:
    """A `Counter` that records nothing (flows built without metrics)."""

    def count(self, name: str, reason: str | None = None) -> None:
        return None


class ConnectionLookup(Protocol):
    """The connection record of a location (or `company:<id>`), None when there is none."""

    def get(self, connection_id: str) -> Connection | None: ...
