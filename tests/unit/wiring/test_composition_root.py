"""The composition root: one Settings in, one cached service per function, one DynamoDB client shared."""

from __future__ import annotations

import ssl
import threading
from typing import Any

import pytest
from rankr_ghl import lazy_http, wiring
from rankr_ghl.config import Settings
from rankr_ghl.lazy_http import TrustStore
from rankr_ghl.wiring import Overrides, Root
from rankr_ghl_tools.faults import CrashBeforeMappingWrite, install_from_environment


def test_every_store_shares_the_one_dynamodb_client_built_on_first_use(monkeypatch) -> None:
    built: list[object] = []

    def new_client(service: str, **kwargs: Any) -> object:
        assert service == "dynamodb"
        built.append(object())
        return built[-1]

    monkeypatch.setattr("boto3.client", new_client)
    root = Root(Settings(stage="unit"))
    stores = [root.connection_store(), root.sync_state().mappings, root.sync_state().dedupe, root.audit_log()]
    assert built == []  # nothing built until a store is used
    clients = {id(store.client) for store in stores}
    assert len(built) == 1 and clients == {id(built[0])}


def test_factories_are_cached_per_root_and_reset_forgets_the_root(monkeypatch) -> None:
    monkeypatch.delenv("SYNC_TABLE", raising=False)
    monkeypatch.setenv("STAGE", "one")
    first = wiring.root()
    assert first.settings.sync_table == "rankr-ghl-one-sync-state"
    assert first.sync_state() is first.sync_state()
    monkeypatch.setenv("STAGE", "two")
    assert wiring.root() is first  # the environment is read once per root
    wiring.reset()
    assert wiring.root().settings.sync_table == "rankr-ghl-two-sync-state"


def test_overrides_replace_the_inbound_processor() -> None:
    sentinel: Any = object()
    root = Root(Settings(), overrides=Overrides(inbound_processor=lambda: sentinel))
    assert root.inbound_processor() is sentinel


class Records:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def link(self, *args: Any) -> None:
        self.calls.append("link")

    def settle(self, *args: Any, **kwargs: Any) -> bool:
        self.calls.append("settle")
        return True

    def flush(self) -> None:
        self.calls.append("flush")


class Crashed(Exception):
    pass


def crash() -> None:
    raise Crashed


def test_the_crash_fault_fires_before_the_mapping_write_only() -> None:
    inner = Records()
    records = CrashBeforeMappingWrite(inner, 1.0, crash=crash)  # type: ignore[arg-type]
    records.flush()
    with pytest.raises(Crashed):
        records.link("loc", "lead", "contact", "email")
    with pytest.raises(Crashed):
        records.settle("loc", object(), "contact", None, release=())  # type: ignore[arg-type]
    assert inner.calls == ["flush"]  # the mapping was never written
    calm = CrashBeforeMappingWrite(inner, 0.0, crash=crash)  # type: ignore[arg-type]
    calm.link("loc", "lead", "contact", "email")
    assert inner.calls == ["flush", "link"]


def test_the_fault_is_installed_into_the_root_only_when_asked() -> None:
    assert not install_from_environment({"STAGE": "unit"})
    assert wiring.root().overrides.lead_push_records is None
    assert install_from_environment({"STAGE": "unit", "RANKR_GHL_FAULT_CRASH_AFTER_GHL_WRITE": "0.5"})
    wrap = wiring.root().overrides.lead_push_records
    assert wrap is not None and isinstance(wrap(Records()), CrashBeforeMappingWrite)  # type: ignore[arg-type]


@pytest.mark.parametrize(("environ", "slice_of_100"), [({}, 20), ({"GHL_BUDGET_SLICE_SHARE": "0.1"}, 10)])
def test_the_budget_slice_set_for_a_function_is_what_its_shared_budget_reserves(
    environ: dict[str, str], slice_of_100: int
) -> None:
    """The agency fan-out's smaller slices (template: GHL_BUDGET_SLICE_SHARE) reach its budget."""
    from rankr_ghl.ghl.budget_record import Limits, MemoryBudgetStore

    shared = Root(Settings.from_env({**environ, "GHL_BUDGET_REPORT_HORIZONS": "1"})).rate_limiter().shared
    assert shared is not None
    shared.store = MemoryBudgetStore()  # in the DynamoDB store's place: the network is blocked here
    slices: list[int] = []  # the first slices are smaller: they grow as they are spent
    while not slices or slices[-1] < slice_of_100:
        assert shared.take("location", Limits(100, 1.0)) == 0.0
        shared.completed("location")
        held = [entry.count for entry in shared.store.load("location").entries if entry.holder]
        if held and (not slices or held[-1] != slices[-1]):
            slices.append(held[-1])
    assert slices[-1] == slice_of_100 and len(slices) == 2


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("GHL_BUDGET_SLICE_SHARE", "0"),
        ("GHL_BUDGET_SLICE_SHARE", "1.5"),
        ("GHL_BUDGET_SLICE_SHARE", "a tenth"),
        ("GHL_BUDGET_REPORT_HORIZONS", "0.5"),
        ("GHL_BUDGET_REPORT_HORIZONS", "50"),
    ],
)
def test_a_budget_tuning_out_of_range_is_a_named_configuration_error(name: str, raw: str) -> None:
    from rankr_ghl.config import ConfigError

    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: raw})


QUEUED = Settings(
    stage="unit", webhook_queue_url="https://sqs.test/w", reconcile_queue_url="https://sqs.test/r"
)


def recording_trust_store(monkeypatch) -> tuple[TrustStore, list[str]]:
    """The process's trust store, replaced by one that records the thread of each load (no AWS)."""
    loaded_by: list[str] = []

    def load() -> ssl.SSLContext:
        loaded_by.append(threading.current_thread().name)
        return ssl.create_default_context()

    store = TrustStore(load)
    monkeypatch.setattr(lazy_http, "trust_store", store)
    monkeypatch.setattr("boto3.client", lambda service, **kwargs: object())
    return store, loaded_by


@pytest.mark.parametrize("service", ["webhook_worker", "agency_install", "lead_push", "reconcile_worker"])
def test_a_function_that_calls_ghl_starts_loading_the_trust_store_first(monkeypatch, service: str) -> None:
    store, loaded_by = recording_trust_store(monkeypatch)
    root = Root(QUEUED, overrides=Overrides(inbound_processor=object))  # type: ignore[arg-type]
    if service == "reconcile_worker":
        root.reconcile()._worker()
    else:
        getattr(root, service)()
    assert store.context() is store.context()
    assert loaded_by == ["tls-trust-store"]


@pytest.mark.parametrize("service", ["webhook_intake", "reconcile_planner"])
def test_a_function_that_never_calls_ghl_starts_no_background_load(monkeypatch, service: str) -> None:
    store, loaded_by = recording_trust_store(monkeypatch)
    root = Root(QUEUED)
    if service == "reconcile_planner":
        root.reconcile()._planner()
    else:
        getattr(root, service)()
    store.context()  # loads here, on this thread, unless building the service started a load
    assert loaded_by == [threading.current_thread().name]
