"""A mapping delete is one transaction: a crash can never leave one side of a pair behind."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from rankr_ghl.aws.sync_state import SyncStateTable
from rankr_ghl.sync.ports import IdMapping
from rankr_ghl.sync.types import Entity

pytestmark = pytest.mark.integration


class CrashAfterFirstWrite:
    """The DynamoDB client of a container that dies after its first write call."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.client, name)
        if name not in ("delete_item", "transact_write_items"):
            return target

        def write(**kwargs: Any) -> Any:
            self.writes += 1
            if self.writes > 1:
                raise RuntimeError("container died")
            return target(**kwargs)

        return write


def test_a_crash_during_a_mapping_delete_leaves_both_sides_or_neither(
    sync_state: SyncStateTable, location: str
) -> None:
    pair = IdMapping(location, Entity.CONTACT, "g-del", "r-del")
    sync_state.mappings.put(pair)
    crashing = SyncStateTable(
        sync_state.mappings.table_name, client=CrashAfterFirstWrite(sync_state.mappings.client)
    )
    with contextlib.suppress(RuntimeError):  # the container dies mid-delete
        crashing.mappings.delete(pair)
    by_ghl = sync_state.mappings.get_by_ghl(location, Entity.CONTACT, "g-del")
    by_rankr = sync_state.mappings.get_by_rankr(location, Entity.CONTACT, "r-del")
    assert (by_ghl is None) == (by_rankr is None), "half a mapping left behind"


def test_a_side_that_belongs_to_another_pair_is_kept(sync_state: SyncStateTable, location: str) -> None:
    old = IdMapping(location, Entity.CONTACT, "g-old", "r-old")
    sync_state.mappings.put(old)
    sync_state.mappings.delete(IdMapping(location, Entity.CONTACT, "g-old", "r-other"))  # stale view
    assert sync_state.mappings.get_by_ghl(location, Entity.CONTACT, "g-old") == old
    assert sync_state.mappings.get_by_rankr(location, Entity.CONTACT, "r-old") == old
