"""Entry point of the embedded AWS child process (kept light: no boto3 or cfn-lint imports)."""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import types
from collections.abc import Iterator
from typing import Any


def serve_moto(conn: Any) -> None:  # pragma: no cover - runs in the child process
    """Run ThreadedMotoServer on a free loopback port, report the port, live until told to stop."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    with isolated_moto_transactions(), bounded_sqs_long_polls():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        conn.send(server.get_host_and_port()[1])
        threading.Thread(target=_warm_backends, daemon=True).start()
        with contextlib.suppress(EOFError, OSError):
            conn.recv()  # blocks until the parent says stop or dies (EOFError)


def _warm_backends() -> None:
    """moto imports a service's backend on its first request; do it while the parent is busy."""
    from moto.backends import get_backend

    for service in ("dynamodb", "sqs", "secretsmanager", "scheduler"):
        with contextlib.suppress(Exception):
            get_backend(service)  # type: ignore[call-overload]


@contextlib.contextmanager
def bounded_sqs_long_polls(recheck_s: float = 0.02) -> Iterator[None]:
    """moto 5's long poll (ReceiveMessage with WaitTimeSeconds) waits only while a queue has no
    visible message. When every visible message belongs to a FIFO group in flight it re-scans the
    queue in a tight loop for the whole wait: one pump poller then burns a core of the moto process,
    and every other AWS call of the local stack queues behind it (load bench: ~50 ms of moto CPU per
    webhook). Here such a poll re-checks every `recheck_s` (or at once when a message arrives)."""
    from moto.sqs.models import Queue

    original_wait = Queue.wait_for_messages

    def wait_for_messages(self: Any, timeout: int) -> None:
        with self._messages_lock:
            if self.messages:  # held back by in-flight groups: look again shortly, not at once
                self._messages_lock.wait(timeout=min(recheck_s, timeout))
            else:
                self._messages_lock.wait_for(lambda: self.messages, timeout=timeout)

    Queue.wait_for_messages = wait_for_messages
    try:
        yield
    finally:
        Queue.wait_for_messages = original_wait


@contextlib.contextmanager
def isolated_moto_transactions() -> Iterator[None]:
    """moto 5 snapshots a WHOLE table (deepcopy, no lock) before each TransactWriteItems: O(table)
    time (~0.2 s per mapping write at 2,000 items, 1.2 s at 10,000) and a 500 when another thread
    writes meanwhile. Here transactions run one at a time and snapshot only the items they touch;
    conditions and rollback behave as before. Applied in the moto child process of EmbeddedAws."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    original_transact = models.DynamoDBBackend.transact_write_items
    original_copy = models.copy
    lock = threading.Lock()

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

    models.copy = types.SimpleNamespace(deepcopy=deepcopy_keeping_tables)
    models.DynamoDBBackend.transact_write_items = transact_write_items
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = original_transact
        models.copy = original_copy
