"""Entry point of the embedded AWS child process (kept light: no boto3 or cfn-lint imports)."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import logging
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any


def serve_moto(conn: Any) -> None:  # pragma: no cover - runs in the child process
    """Run ThreadedMotoServer on a free loopback port, report the port, live until told to stop."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    with (
        isolated_moto_transactions(),
        atomic_moto_item_writes(),
        serialised_secrets_manager(),
        leaner_moto_server(),
    ):
        server = keep_alive_moto_server()
        threading.Thread(target=server.serve_forever, name="moto-server", daemon=True).start()
        conn.send(server.server_address[1])
        threading.Thread(target=_warm_backends, daemon=True).start()
        with contextlib.suppress(EOFError, OSError):
            conn.recv()  # blocks until the parent says stop or dies (EOFError)


def keep_alive_moto_server() -> Any:
    """moto's server (werkzeug's development server) closes the connection after every response, so
    each AWS call paid a TCP connect, a new server thread and a new client connection: about a third
    of the moto process's CPU per request, and a share of every container's. This one keeps
    HTTP/1.1 connections open, as AWS endpoints do. A request's body is read whole before the app
    sees it, so a handler that leaves part of it unread cannot desynchronise the next request; a
    request without a length (chunked) still closes its connection."""
    import io

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class KeepAliveHandler(MotoRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # a response's headers and body go out as two writes
        _keep_open = False

        def run_wsgi(self) -> None:
            length = self.headers.get("Content-Length")
            self._keep_open = (
                "chunked" not in (self.headers.get("Transfer-Encoding") or "").lower()
                and (self.headers.get("Connection") or "").lower() != "close"
                and (self.headers.get("Expect") or "").lower() != "100-continue"
                and (length is None or length.isdigit())
            )
            if not self._keep_open:
                super().run_wsgi()
                return
            socket_input = self.rfile
            self.rfile = io.BytesIO(socket_input.read(int(length)) if length else b"")
            try:
                super().run_wsgi()
            finally:
                self.rfile = socket_input

        def send_header(self, keyword: str, value: str) -> None:
            if self._keep_open and keyword.lower() == "connection" and value.lower() == "close":
                return  # werkzeug closes every connection; this one stays open for the next request
            super().send_header(keyword, value)

    app = DomainDispatcherApplication(create_backend_app)
    return make_server("127.0.0.1", 0, app, threaded=True, request_handler=KeepAliveHandler)


def _warm_backends() -> None:
    """moto imports a service's backend on its first request; do it while the parent is busy."""
    from moto.backends import get_backend

    for service in ("dynamodb", "sqs", "secretsmanager", "scheduler"):
        with contextlib.suppress(Exception):
            get_backend(service)


@contextlib.contextmanager
def _replaced(owner: object, replacements: dict[str, Any]) -> Iterator[None]:
    """Set attributes of a moto class or module for the duration, then put the originals back."""
    originals = {name: getattr(owner, name) for name in replacements}
    for name, value in replacements.items():
        setattr(owner, name, value)
    try:
        yield
    finally:
        for name, value in originals.items():
            setattr(owner, name, value)


@contextlib.contextmanager
def leaner_moto_server() -> Iterator[None]:
    """moto server costs that grow with traffic or backlog, cut (see each part): without them the moto
    process spent ~40 ms of CPU per webhook of the load bench and was the stack's bottleneck."""
    with (
        memoized_moto_dispatch(),
        lean_sqs_attributes(),
        bounded_sqs_long_polls(),
        fast_sqs_clock(),
        linear_dynamodb_item_size(),
        partition_dynamodb_queries(),
        direct_dynamodb_read_json(),
    ):
        yield


# DynamoDB reads whose results moto already builds in the wire shape (items as typed values).
DIRECT_JSON_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})


def _wire_json_value(value: Any) -> str:
    """A binary attribute value (B, BS) as the wire carries it: base64."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@contextlib.contextmanager
def direct_dynamodb_read_json() -> Iterator[None]:
    """moto 5.2 answers every request through a model-driven serializer that visits each attribute
    value of each item: ~80 % of the moto process's CPU while it answered 1,000-mapping Query pages
    (~2.5 s a page, against ~10 ms for `json.dumps` of the same result). A read's result is already
    in the wire shape, so it is dumped directly, with binary values base64-encoded as the serializer
    does; errors and every other action keep moto's serializer."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.serialized

    def serialized(self: Any, action_result: Any) -> Any:
        result = action_result.result
        if not isinstance(result, dict) or self._get_action() not in DIRECT_JSON_READS:
            return original(self, action_result)
        headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers, "status": 200}
        return 200, headers, json.dumps(result, default=_wire_json_value)

    with _replaced(DynamoHandler, {"serialized": serialized}):
        yield


@contextlib.contextmanager
def linear_dynamodb_item_size() -> Iterator[None]:
    """moto builds every stored DynamoDB item attribute by attribute, re-measuring the whole item on
    each one (400 KB limit): quadratic in the attribute count, with nested maps sized again each time.
    It was the moto process's top cost in the lead-push bench (~40 % of its CPU). Here a new item is
    measured once, with the same sizes and limit; later updates still take moto's checked path."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def size_of(key: str, value: Any) -> int:
        return bytesize(key) + (value.size() if type(value) is DynamoType else bytesize(str(value)))

    def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        values = {key: DynamoType(value) for key, value in attrs.items()}
        # moto's per-attribute check, summed once: every prefix is below the limit iff the whole is.
        if sum(size_of(key, value) for key, value in values.items()) > 405000:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, values)

    with _replaced(Item, {"__init__": item_init}):
        yield


@contextlib.contextmanager
def fast_sqs_clock() -> Iterator[None]:
    """moto's SQS asks the time (via naive-UTC datetime arithmetic, ~3 us a call) twice per message
    for every scan of a queue (visible? delayed?), and receives, counts and sends all scan it: with a
    few hundred messages queued that is most of the moto process's CPU. The epoch seconds come from
    `time.time()` here; explicit datetimes still go through moto."""
    import time

    from moto.core import utils
    from moto.sqs import models

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else utils.unix_time(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else utils.unix_time_millis(dt)

    with _replaced(models, {"unix_time": unix_time, "unix_time_millis": unix_time_millis}):
        yield


@contextlib.contextmanager
def lean_sqs_attributes() -> Iterator[None]:
    """moto 5 computes ALL of a queue's attributes, message counts included (each a scan of every
    message), three times per attribute asked for, and does so for every message it hands out (the
    retention check reads MessageRetentionPeriod that way): O(backlog) per message, so the embedded
    AWS slows down as a queue fills (and the stack's drain polls the counts). Here the attributes are
    computed once per request and the retention check reads its one attribute."""
    from moto.core.utils import unix_time
    from moto.sqs.exceptions import InvalidAttributeName
    from moto.sqs.models import SQSBackend

    original_get = SQSBackend.get_queue_attributes

    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        if not attribute_names or "All" in attribute_names:
            return original_get(self, queue_name, attribute_names)
        queue = self.get_queue(queue_name)
        valid = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
        invalid = next((name for name in attribute_names if name not in valid), None)
        if invalid or invalid == "":
            raise InvalidAttributeName(invalid)
        current = queue.attributes
        return {name: current[name] for name in attribute_names if current.get(name) is not None}

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_s = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_s + message.sent_timestamp / 1000 > unix_time())

    replacements = {
        "get_queue_attributes": get_queue_attributes,
        "is_message_valid_based_on_retention_period": is_message_valid_based_on_retention_period,
    }
    with _replaced(SQSBackend, replacements):
        yield


@contextlib.contextmanager
def memoized_moto_dispatch() -> Iterator[None]:
    """moto 5's server picks the backend of every request under one global lock, and on the way lists
    its own package directory (listdir + ~200 stat calls, twice) and tries its URL patterns in turn:
    milliseconds per AWS call, serialised across every client of the local stack. The answer depends
    only on the (inferred) host name, so it is remembered per host. Likewise the action lookup, which
    lists a response class's methods with `inspect.getmembers` on every request."""
    from moto.core import responses, utils
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original_get = DomainDispatcherApplication.get_backend_for_host
    known: dict[str | None, Any] = {}
    names_by_class: dict[Any, list[str]] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in known:
            known[host] = original_get(self, host)
        return known[host]

    def method_names_from_class(clazz: Any) -> list[str]:
        if clazz not in names_by_class:
            names_by_class[clazz] = utils.method_names_from_class(clazz)
        return names_by_class[clazz]

    with (
        _replaced(DomainDispatcherApplication, {"get_backend_for_host": get_backend_for_host}),
        _replaced(responses, {"method_names_from_class": method_names_from_class}),
    ):
        yield


@contextlib.contextmanager
def bounded_sqs_long_polls(recheck_s: float = 0.1) -> Iterator[None]:
    """moto 5's long poll (ReceiveMessage with WaitTimeSeconds) waits only while a queue has no
    visible message. When every visible message belongs to a FIFO group in flight it re-scans the
    queue in a tight loop for the whole wait: one pump poller then burns a core of the moto process,
    and every other AWS call of the local stack queues behind it (load bench: ~50 ms of moto CPU per
    webhook). Here such a poll re-checks every `recheck_s` (or at once when a message arrives): the
    held-back groups cannot be served by this poll anyway (moto snapshots the in-flight groups when
    it starts), only a message becoming visible again can, and the pump polls again right after a
    batch."""
    from moto.sqs.models import Queue

    def wait_for_messages(self: Any, timeout: int) -> None:
        with self._messages_lock:
            if self.messages:  # held back by in-flight groups: look again shortly, not at once
                self._messages_lock.wait(timeout=min(recheck_s, timeout))
            else:
                self._messages_lock.wait_for(lambda: self.messages, timeout=timeout)

    with _replaced(Queue, {"wait_for_messages": wait_for_messages}):
        yield


# One lock for every DynamoDB write of the moto process: transactions and single-item writes.
# Re-entrant because a transaction's rollback writes items one by one while holding it.
_DYNAMODB_WRITE_LOCK = threading.RLock()


@contextlib.contextmanager
def atomic_moto_item_writes() -> Iterator[None]:
    """DynamoDB applies a conditional PutItem, UpdateItem or DeleteItem atomically: the condition is
    checked against the item as the write finds it. moto 5 checks the condition, then writes, with
    no lock: two threads of its server can both pass a `version = :expected` check and both write
    (the shared rate budget then overbooked its window: 70 taken of 50). Here single-item writes run
    one at a time, as one atomic step each, like the real service."""
    from moto.dynamodb import models

    backend = models.DynamoDBBackend

    def serialised(original: Any) -> Any:
        def write(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _DYNAMODB_WRITE_LOCK:
                return original(self, *args, **kwargs)

        return write

    replacements = {
        name: serialised(getattr(backend, name)) for name in ("put_item", "update_item", "delete_item")
    }
    with _replaced(backend, replacements):
        yield


# Secrets Manager operations that read or change the backend's secret store.
SECRETS_MANAGER_OPERATIONS = (
    "batch_get_secret_value", "cancel_rotate_secret", "create_managed_secret", "create_secret",
    "delete_resource_policy", "delete_secret", "describe_secret", "get_resource_policy",
    "get_secret_value", "list_secret_version_ids", "list_secrets", "put_resource_policy",
    "put_secret_value", "remove_regions_from_replication", "replicate_secret_to_regions",
    "restore_secret", "rotate_secret", "tag_resource", "untag_resource", "update_secret",
    "update_secret_version_stage",
)  # fmt: skip


@contextlib.contextmanager
def serialised_secrets_manager() -> Iterator[None]:
    """Secrets Manager serves concurrent requests safely. moto 5's secret store looks a name up by
    iterating over every stored secret, with no lock: a CreateSecret in one server thread while
    another thread iterates answers HTTP 500 ("dictionary changed size during iteration"), which the
    agency install's parallel fan-out met about once a run (and paid a client retry for). Here the
    store's operations run one at a time, as one step each."""
    from moto.secretsmanager.models import SecretsManagerBackend

    lock = threading.RLock()  # operations call one another (create_secret -> _add_secret -> ...)

    def serialised(original: Any) -> Any:
        def operation(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)

        return operation

    replacements = {
        name: serialised(getattr(SecretsManagerBackend, name)) for name in SECRETS_MANAGER_OPERATIONS
    }
    with _replaced(SecretsManagerBackend, replacements):
        yield


@contextlib.contextmanager
def isolated_moto_transactions() -> Iterator[None]:
    """moto 5 snapshots a WHOLE table (deepcopy, no lock) before each TransactWriteItems: O(table)
    time (~0.2 s per mapping write at 2,000 items, 1.2 s at 10,000) and a 500 when another thread
    writes meanwhile. Here transactions run one at a time and snapshot only the items they touch;
    conditions and rollback behave as before. Applied in the moto child process of EmbeddedAws."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    original_transact = models.DynamoDBBackend.transact_write_items
    lock = _DYNAMODB_WRITE_LOCK

    def deepcopy_keeping_tables(obj: Any, memo: Any = None) -> Any:
        return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with lock:
            touched: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
            for item in transact_items:
                op_type, op = next(iter(item.items()))
                name = op.get("TableName")
                if name not in self.tables:
                    continue
                table = self.tables[name]
                if op_type == "Put":
                    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = op["Item"][table.range_key_attr]
                else:
                    key = op["Key"]
                current = self.get_item(name, key)
                touched.append((name, key, current.to_json()["Attributes"] if current is not None else None))
            try:
                original_transact(self, transact_items)
            except Exception:
                for name, key, previous in reversed(touched):
                    if previous is None:
                        with contextlib.suppress(Exception):
                            self.delete_item(name, key)
                    else:
                        self.put_item(name, previous)
                raise

    with (
        _replaced(models, {"copy": types.SimpleNamespace(deepcopy=deepcopy_keeping_tables)}),
        _replaced(models.DynamoDBBackend, {"transact_write_items": transact_write_items}),
    ):
        yield


@contextlib.contextmanager
def partition_dynamodb_queries() -> Iterator[None]:
    """moto answers every Query by sorting the WHOLE table: a table Query then compares every item's
    hash key (DynamoType comparisons in Python), O(table log table) per Query. The webhook worker's
    one Query of a record's partition slowed down as SyncStateTable filled (fairness bench: the median
    webhook latency doubled over 80 s; ~40 % of the moto process's CPU). Here a table Query hands
    moto's own query only the partition's items, looked up as GetItem looks them up; moto still
    sorts, pages, applies the range condition, the filter and the projection.

    moto answers every page of a GSI Query by sorting the WHOLE table (DynamoType comparisons in
    Python), filtering it to the partition, sorting the matches again and walking past the earlier
    pages: O(table log table) Python work per page, so a listing costs O(partition x table). At
    100,000 mappings (bench/reconcile.py) a page took 9-20 s, later pages more, and the reconcile's
    mapping listing alone ran past half an hour. Here a plain GSI query (one hash key equality, no
    range condition, no QueryFilter) hands moto's own query only the page's candidates: the
    partition's items in the index's order (plain keys, one C sort), after ExclusiveStartKey, up to
    the item past Limit or 1 MB. One pass over the table per page remains (0.5-1 s at 200,000 items).
    moto still builds the page, its LastEvaluatedKey, the projection and the FilterExpression; any
    other query takes moto's path."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, GlobalSecondaryIndex, Table

    original_query: Callable[..., Any] = Table.query  # moto passes None for ExclusiveStartKey itself
    original_all_items = Table.all_items
    local = threading.local()

    def all_items(self: Any) -> Any:
        candidates = getattr(local, "candidates", None)
        if candidates is not None and candidates[0] is self:
            return list(candidates[1])
        return original_all_items(self)

    def plain(value: Any) -> Any:  # what DynamoType orders by (key attributes are S, N or B)
        return value.value if value.type == "S" else value.cast_value

    def page_candidates(
        self: Any,
        index_name: str | None,
        *,
        limit: int | None,
        start: dict[str, Any] | None,
        forward: bool,
        hash_conditions: list[tuple[str, Any]] | None,
    ) -> list[Any] | None:
        index = next((i for i in self.global_indexes or [] if i.name == index_name), None)
        if not isinstance(index, GlobalSecondaryIndex) or (limit is not None and limit < 1):
            return None
        hash_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        range_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        if len(hash_keys) != 1 or len(range_keys) != 1 or len(hash_conditions or []) != 1:
            return None
        name, expected = (hash_conditions or [])[0]
        if name != hash_keys[0]:
            return None
        order = self._generate_attr_to_sort_by(
            [hash_keys[0], self.hash_key_attr], [range_keys[0], self.range_key_attr]
        )
        if start is not None and any(attr not in start for attr in order):
            return None
        after = tuple(plain(DynamoType(start[attr])) for attr in order) if start is not None else None
        # The partition's items before the start's index sort key are left out without a full key.
        bound = None
        if after is not None and order[:2] == [name, range_keys[0]] and after[0] == plain(expected):
            bound = after[1]
        keyed: list[tuple[tuple[Any, ...], Any]] = []
        for hash_set in list(self.items.values()):
            for item in list(hash_set.values()) if self.range_key_attr else [hash_set]:
                attrs = item.attrs
                value = attrs.get(name)
                sort_value = attrs.get(range_keys[0])
                if not value or not sort_value:
                    continue
                if (value.value != expected.value or value.type != expected.type) and value != expected:
                    continue  # (the raw test first: moto's own equality casts both sides)
                if bound is not None:
                    sort_key = plain(sort_value)
                    if sort_key < bound if forward else sort_key > bound:
                        continue
                key = tuple([plain(attrs[attr]) for attr in order])
                if after is None or (key > after if forward else key < after):
                    keyed.append((key, item))
        keyed.sort(key=lambda pair: pair[0], reverse=not forward)
        page: list[Any] = []
        size = 0
        for _, item in keyed:  # up to the item that ends moto's page (it sets LastEvaluatedKey)
            page.append(item)
            size += item.size()
            if (limit is not None and len(page) > limit) or size > RESULT_SIZE_LIMIT:
                break
        return page

    def partition_items(self: Any, hash_key: Any) -> list[Any] | None:
        """A table partition's items (moto's own query filters, sorts and pages them)."""
        if not isinstance(hash_key, DynamoType):
            return None
        partition = self.items.get(hash_key)
        if partition is None:
            return []
        return list(partition.values()) if self.range_key_attr else [partition]

    def query(  # noqa: PLR0917 - moto's signature
        self: Any,
        hash_key: Any,
        range_comparison: str | None,
        range_objs: list[Any],
        limit: int,
        exclusive_start_key: dict[str, Any] | None,
        scan_index_forward: bool,
        projection_expressions: Any,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: list[tuple[str, Any]] | None = None,
        range_key_conditions: list[Any] | None = None,
        **filter_kwargs: Any,
    ) -> Any:
        candidates = None
        if not index_name:
            candidates = partition_items(self, hash_key)
        elif not (consistent_read or range_comparison or range_key_conditions or filter_kwargs):
            candidates = page_candidates(
                self,
                index_name,
                limit=limit,
                start=exclusive_start_key,
                forward=scan_index_forward,
                hash_conditions=hash_key_conditions,
            )
        if candidates is not None:
            local.candidates = (self, candidates)
            if index_name:
                exclusive_start_key = None  # the candidates start after it
        try:
            return original_query(
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )
        finally:
            local.candidates = None

    with _replaced(Table, {"query": query, "all_items": all_items}):
        yield
