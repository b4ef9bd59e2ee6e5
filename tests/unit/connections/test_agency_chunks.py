"""The agency fan-out's chunk pipeline over in-memory stores and a fake GHL: minting never pauses
between chunks, what is minted is stored in batches while the rest is minted, and a failure still
stores what was minted before it."""

from __future__ import annotations

import threading

import pytest
from rankr_ghl.connections.agency_chunks import (
    STORE_MIN,
    Chunk,
    ChunkInstaller,
    ChunkOwner,
    ChunkPipeline,
)
from rankr_ghl.connections.errors import GHLUnavailable
from rankr_ghl.connections.models import ConnectionStatus, PauseReason

WAIT_S = 5.0


def agency(world, locations: int) -> list[str]:
    world.install_company("co1")
    return [f"loc{i:03d}" for i in range(locations)]


def pipeline(world, *, workers: int = 4, on_stored=None) -> ChunkPipeline:
    installer = ChunkInstaller(
        world.oauth,
        world.tokens,
        world.connections,
        company_tokens=world.vault(),
        metric=world.metrics,
        clock=world.clock,
    )
    return ChunkPipeline(installer, ChunkOwner("co1", 1, "acct_9"), workers=workers, on_stored=on_stored)


def chunk(key: str, ids: list[str]) -> Chunk:
    return Chunk(key, tuple(ids), {})


def store_one_chunk(world, ids: list[str]) -> tuple[ChunkPipeline, list[tuple[str, int, int]]]:
    """The pipeline after one chunk of `ids`, and each `on_stored` call (key, connected, skipped)."""
    stored: list[tuple[str, int, int]] = []
    with pipeline(
        world, on_stored=lambda c, connected, skipped: stored.append((c.key, connected, skipped))
    ) as chunks:
        chunks.add(chunk("0", ids))
        chunks.drain()
    return chunks, stored


def active(world, location_id: str) -> bool:
    record = world.connections.get(location_id)
    return record is not None and record.status is ConnectionStatus.ACTIVE


def test_the_next_chunk_is_minted_while_the_last_mint_of_the_previous_one_is_still_out(world):
    ids = agency(world, 8)
    mint = world.oauth.location_token
    second_chunk_minting = threading.Event()

    def mint_after_the_next_chunk_started(company_token, company_id, location_id):
        if location_id in ids[4:]:
            second_chunk_minting.set()
        elif location_id == ids[3]:  # the first chunk's last mint waits for the second chunk
            assert second_chunk_minting.wait(WAIT_S), "minting paused between chunks"
        return mint(company_token, company_id, location_id)

    world.oauth.location_token = mint_after_the_next_chunk_started
    with pipeline(world) as chunks:
        chunks.add(chunk("0", ids[:4]))
        chunks.add(chunk("1", ids[4:]))
        chunks.drain()
    assert chunks.connected == 8 and all(active(world, i) for i in ids)


def test_a_chunk_is_stored_in_batches_while_the_rest_of_it_is_minted(world):
    ids = agency(world, STORE_MIN * 3)
    mint = world.oauth.location_token
    first_batch_stored = threading.Event()
    install = world.tokens.install

    def install_and_tell(connection_id, bundle):
        install(connection_id, bundle)
        first_batch_stored.set()

    def last_mint_after_a_store(company_token, company_id, location_id):
        if location_id == ids[-1]:
            assert first_batch_stored.wait(WAIT_S), "nothing stored before the chunk's last mint"
        return mint(company_token, company_id, location_id)

    world.tokens.install = install_and_tell
    world.oauth.location_token = last_mint_after_a_store
    _, stored = store_one_chunk(world, ids)
    # Stored in several batches, counted once, when the whole chunk is in.
    assert stored == [("0", len(ids), 0)]
    assert all(active(world, i) for i in ids)
    assert [cid for cid in world.tokens.secrets if world.connections.get(cid) is None] == []


def test_what_was_minted_before_a_failure_is_stored_then_the_failure_is_raised(world):
    ids = agency(world, 4)
    world.oauth.fail_mint_for.add(ids[3])
    stored: list[str] = []
    with (
        pipeline(world, workers=1, on_stored=lambda c, *_: stored.append(c.key)) as chunks,
        pytest.raises(GHLUnavailable),
    ):
        chunks.add(chunk("0", ids))  # raises here or at the drain, as the failure comes
        chunks.drain()
    assert [active(world, i) for i in ids] == [True, True, True, False]
    assert world.tokens.read(ids[3]) is None
    assert stored == []  # the chunk is not complete: its job is retried, and counted then


def test_a_location_ghl_refuses_is_counted_as_skipped_in_its_chunk(world):
    ids = agency(world, 3)
    world.oauth.refuse_mint_for.add(ids[1])
    chunks, stored = store_one_chunk(world, ids)
    assert stored == [("0", 2, 1)] and (chunks.connected, chunks.skipped) == (2, 1)
    assert world.connections.get(ids[1]) is None


def test_a_storage_failure_is_raised_and_stops_the_minting(world):
    ids = agency(world, 12)
    mint = world.oauth.location_token
    raised = threading.Event()

    class Down(Exception):
        pass

    def failing_install(connection_id, bundle):
        raise Down

    def mint_once_the_run_failed(company_token, company_id, location_id):
        if location_id == ids[4]:  # the second chunk's first mint: the first chunk's store fails meanwhile
            assert raised.wait(WAIT_S)
        return mint(company_token, company_id, location_id)

    world.tokens.install = failing_install
    world.oauth.location_token = mint_once_the_run_failed
    with pipeline(world, workers=1) as chunks:
        with pytest.raises(Down):
            chunks.add(chunk("0", ids[:4]))
            chunks.add(chunk("1", ids[4:8]))
            chunks.add(chunk("2", ids[8:]))
            chunks.drain()
        raised.set()
    # Nothing minted once the failure is known; the failed chunk's records stay `installing`, never a
    # secret without its record.
    assert world.oauth.mint_calls == 5
    assert not any(world.tokens.read(i) or active(world, i) for i in ids)
    assert {world.connections.get(i).status_reason for i in ids[:4]} == {PauseReason.INSTALLING}


def test_minting_is_known_done_while_the_last_batch_is_still_storing(world):
    ids = agency(world, 6)
    install = world.tokens.install
    storing = threading.Event()
    release_storing = threading.Event()

    def slow_install(location_id, bundle):
        storing.set()
        assert release_storing.wait(WAIT_S)
        return install(location_id, bundle)

    world.tokens.install = slow_install
    with pipeline(world) as chunks:
        chunks.add(chunk("0", ids))
        chunks.wait_minted()  # returns with every token minted, the secrets still being written
        assert storing.wait(WAIT_S)
        assert world.oauth.mint_calls == 6
        assert not any(active(world, i) for i in ids)
        release_storing.set()
        chunks.drain()
    assert all(active(world, i) for i in ids)
