"""Lazily exported packages: every listed name resolves from its module, `__all__` lists exactly the
lazy names, the sync core's lazy re-export stays free of boto3 and httpx, and the GHL client loads
only the models a call needs."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["rankr_ghl.rankr", "rankr_ghl.connections", "rankr_ghl.ghl.models"])
def test_every_export_resolves_to_its_modules_object(package: str) -> None:
    module = importlib.import_module(package)
    exports = module._EXPORTS
    assert sorted(module.__all__) == sorted(exports)
    for name, source in exports.items():
        assert getattr(module, name) is getattr(importlib.import_module(source), name)
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


def test_sync_ports_loads_the_mapping_only_when_asked_and_no_aws_or_http_client() -> None:
    code = (
        "import sys\n"
        "import rankr_ghl.sync.ports as ports\n"
        "assert 'rankr_ghl.sync.mapping' not in sys.modules\n"
        "assert not {'boto3', 'httpx'} & set(sys.modules)\n"
        "from rankr_ghl.sync.mapping_resolver import MappingConfigSource\n"
        "assert ports.MappingConfigSource is MappingConfigSource\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=None)


def test_the_ghl_client_loads_no_model_and_no_pydantic_until_a_typed_call_needs_them() -> None:
    """A contact webhook reads one contact and a lead push upserts one: both go through the wire-format
    contact calls, so neither pydantic nor any GHL model (pydantic classes, costly to build) loads
    until a typed call first needs one."""
    code = (
        "import sys\n"
        "import rankr_ghl.ghl, rankr_ghl.ghl.client, rankr_ghl.ghl.records, rankr_ghl.ghl.models as models\n"
        "loaded = {m.rsplit('.', 1)[-1] for m in sys.modules if m.startswith('rankr_ghl.ghl.')}\n"
        "assert 'contact_wire' in loaded, loaded\n"
        "later = {'contact_models', 'contact_write_models', 'contact_search_models', 'task_note_models'}\n"
        "assert not (later | {'appointment_models', 'oauth_models', 'model_base'}) & loaded, loaded\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core')]\n"
        "assert models.TaskCreate.__module__ == 'rankr_ghl.ghl.task_note_models'\n"
        "assert models.ContactUpsert.__module__ == 'rankr_ghl.ghl.contact_write_models'\n"
        "assert 'rankr_ghl.ghl.appointment_models' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=None)


def test_the_rankr_client_loads_no_model_and_no_pydantic_until_a_typed_call_needs_one() -> None:
    """A contact webhook reads and writes Rankr contacts as checked dicts (`contact_wire`): the client
    and the records adapter load no model, nor pydantic; each model module loads when first used."""
    code = (
        "import sys\n"
        "import rankr_ghl.rankr.client, rankr_ghl.rankr.records, rankr_ghl.rankr as rankr\n"
        "loaded = {m.rsplit('.', 1)[-1] for m in sys.modules if m.startswith('rankr_ghl.rankr.')}\n"
        "assert 'contact_wire' in loaded, loaded\n"
        "models = {'contact_models', 'task_note_models', 'appointment_models', 'model_base'}\n"
        "assert not models & loaded, loaded\n"
        "assert not [m for m in sys.modules if m.startswith('pydantic')]\n"
        "assert rankr.TaskPage.__module__ == 'rankr_ghl.rankr.task_note_models'\n"
        "assert 'rankr_ghl.rankr.appointment_models' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=None)


def test_connection_records_are_batch_written_without_the_sync_state_stores() -> None:
    """An agency fan-out writes connection records in batches; that must not load the sync-state
    stores (and `rankr_ghl.sync`), which its cold start never uses."""
    code = (
        "import sys\n"
        "from rankr_ghl.aws.connections_store import DynamoConnectionStore\n"
        "from rankr_ghl.connections.models import Connection, UserType\n"
        "class Client:\n"
        "    def __init__(self): self.calls = []\n"
        "    def batch_write_item(self, RequestItems):\n"
        "        self.calls.append(RequestItems)\n"
        "        first = len(self.calls) == 1\n"
        "        return {'UnprocessedItems': {'t': RequestItems['t'][:1]} if first else {}}\n"
        "client = Client()\n"
        "store = DynamoConnectionStore('t', client=client)\n"
        "store.put_all(\n"
        "    Connection(connection_id=f'loc{i}', location_id=f'loc{i}', user_type=UserType.LOCATION)\n"
        "    for i in range(30)\n"
        ")\n"
        "assert [len(c['t']) for c in client.calls] == [25, 1, 5], client.calls\n"
        "stores = ('rankr_ghl.aws.sync_state', 'rankr_ghl.sync')\n"
        "assert not [m for m in sys.modules if m.startswith(stores)]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=None)
