"""The Lambda service, locally: worker pools per function, sync and async invocation, and the
Lambda Invoke API (`POST /2015-03-31/functions/{FunctionName}/invocations`) so that boto3's
`lambda.invoke(...)` pointed at `invoke_url` reaches the real handler unchanged.

Async (`Event`) invocations behave like Lambda's: a failure is retried `MaximumRetryAttempts` times
(default 2; waits of 1 then 2 minutes, times `time_scale`), then the invocation record goes to the
on-failure destination queue. The settings are those of the invoked qualifier when the template gives
it an AWS::Lambda::EventInvokeConfig of its own, else the function's. Every alias the template declares
(AutoPublishAlias and AWS::Lambda::Alias) is served, and the handler sees the invoked ARN with it.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from rankr_ghl_tools.local.aws_calls import CallWriter, call_resources, recording_target
from rankr_ghl_tools.local.httpserver import HttpRequest, HttpResponse, LocalHttpServer, ServedOverHttp
from rankr_ghl_tools.local.template import REGION, FunctionSpec, Template
from rankr_ghl_tools.local.workers import (
    FunctionPool,
    InvocationResult,
    LogSink,
    WorkerSpec,
    lambda_environment,
)

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 1024 * 1024
ASYNC_RETRY_DELAYS_S = (60.0, 120.0)  # Lambda's waits before the 1st and 2nd async retry


class Timers:
    """One thread running delayed callbacks in due order (retries, visibility resets)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="local-timers", daemon=True)
        self._thread.start()

    def call_later(self, delay_s: float, action: Callable[[], object]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, delay_s), next(self._counter), action))
            self._cond.notify()

    def __len__(self) -> int:
        with self._cond:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, _, action = heapq.heappop(self._heap)
            try:
                action()
            except Exception:  # a failed timer must not stop the others
                import traceback

                traceback.print_exc()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)


@dataclass
class _AsyncEvent:
    function: FunctionSpec
    payload: bytes
    invoked_arn: str
    request_id: str
    received_at: float  # monotonic
    attempts: int = 0


class LambdaService:
    """Worker pools for a template's functions plus Lambda's async invocation semantics."""

    def __init__(
        self,
        template: Template,
        *,
        aws_environ: Mapping[str, str],
        sqs_client: Any = None,
        concurrency: int | Mapping[str, int] = 2,
        time_scale: float = 1.0,
        log_sink: LogSink | None = None,
        extra_env: Mapping[str, str] | None = None,
        timers: Timers | None = None,
    ) -> None:
        self.template = template
        self.aws_environ = dict(aws_environ)
        self.sqs = sqs_client
        self.concurrency = concurrency
        self.time_scale = time_scale
        self.log_sink = log_sink
        self.extra_env = dict(extra_env or {})
        self.timers = timers or Timers()
        self._owns_timers = timers is None
        self._pools: dict[str, FunctionPool] = {}
        self._pools_lock = threading.Lock()
        self._async_pending = 0
        self._async_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="lambda-async")
        self.destination_records: list[dict[str, Any]] = []  # also kept here for inspection
        self._destination_writers: dict[str, CallWriter] = {}

    # -- pools ----------------------------------------------------------------------------------
    def concurrency_for(self, logical_id: str) -> int:
        if isinstance(self.concurrency, int):
            return self.concurrency
        return int(self.concurrency.get(logical_id, self.concurrency.get("*", 2)))

    def worker_spec(self, fn: FunctionSpec) -> WorkerSpec:
        env = lambda_environment(
            fn.env,
            function_name=fn.name,
            memory_mb=fn.memory_mb,
            timeout_s=fn.timeout_s,
            handler=fn.handler,
            code_dir=str(fn.code_uri),
            extra={**self.aws_environ, **self.extra_env},
        )
        return WorkerSpec(
            logical_id=fn.logical_id,
            function_name=fn.name,
            function_arn=fn.arn,
            code_dir=str(fn.code_uri),
            layer_dirs=tuple(str(p) for p in fn.layers),
            handler=fn.handler,
            env=env,
            timeout_s=float(fn.timeout_s),
            memory_mb=fn.memory_mb,
            aws_calls=recording_target(
                fn.logical_id, str(self.template.path), self.template.parameter_overrides
            ),
        )

    def pool(self, logical_id: str) -> FunctionPool:
        with self._pools_lock:
            pool = self._pools.get(logical_id)
            if pool is None:
                fn = self.template.functions[logical_id]
                pool = FunctionPool(
                    self.worker_spec(fn), concurrency=self.concurrency_for(logical_id), log_sink=self.log_sink
                )
                self._pools[logical_id] = pool
            return pool

    @property
    def pools(self) -> dict[str, FunctionPool]:
        with self._pools_lock:
            return dict(self._pools)

    @property
    def in_flight(self) -> int:
        return sum(p.in_flight for p in self.pools.values())

    @property
    def async_pending(self) -> int:
        with self._async_lock:
            return self._async_pending

    # -- invocation -----------------------------------------------------------------------------
    def resolve(self, function_ref: str, qualifier: str | None = None) -> tuple[FunctionSpec, str]:
        """(function, invoked ARN) for a logical id, name, ARN or alias ARN (+ optional Qualifier)."""
        fn = self.template.function(function_ref)
        invoked = function_ref if function_ref.startswith("arn:") else fn.arn
        suffix = invoked[len(fn.arn) :].lstrip(":")
        if qualifier:
            if suffix and suffix != qualifier:
                raise KeyError(f"{function_ref}: qualifier {qualifier} conflicts with the ARN")
            suffix = qualifier
        if suffix and suffix not in ("$LATEST", "1", *fn.aliases):
            raise KeyError(f"{fn.arn}:{suffix}")
        return fn, f"{fn.arn}:{suffix}" if suffix else fn.arn

    def invoke(
        self,
        function_ref: str,
        event: Any = None,
        *,
        raw: bytes | None = None,
        invoked_arn: str | None = None,
    ) -> InvocationResult:
        """Synchronous (RequestResponse) invocation."""
        fn, arn = self.resolve(function_ref)
        payload = raw if raw is not None else json.dumps(event).encode()
        return self.pool(fn.logical_id).invoke(None, raw_event=payload, invoked_arn=invoked_arn or arn)

    def invoke_async(
        self,
        function_ref: str,
        event: Any = None,
        *,
        raw: bytes | None = None,
        invoked_arn: str | None = None,
    ) -> str:
        """Event invocation: queue it and return the request id at once (Lambda's 202)."""
        fn, arn = self.resolve(function_ref)
        payload = raw if raw is not None else json.dumps(event).encode()
        item = _AsyncEvent(fn, payload, invoked_arn or arn, str(uuid.uuid4()), time.monotonic())
        with self._async_lock:
            self._async_pending += 1
        self._executor.submit(self._run_async, item)
        return item.request_id

    def _run_async(self, item: _AsyncEvent) -> None:
        config = item.function.event_invoke_for(item.invoked_arn)
        max_age = config.maximum_event_age_s * self.time_scale
        if time.monotonic() - item.received_at > max_age:
            self._finish_async(item, None, "EventAgeExceeded")
            return
        item.attempts += 1
        result = self.pool(item.function.logical_id).invoke(
            None, raw_event=item.payload, invoked_arn=item.invoked_arn, request_id=item.request_id
        )
        if result.ok:
            self._finish_async(item, result, "Success")
            return
        retries_done = item.attempts - 1
        if retries_done < config.maximum_retry_attempts:
            delay = ASYNC_RETRY_DELAYS_S[min(retries_done, len(ASYNC_RETRY_DELAYS_S) - 1)] * self.time_scale
            self.timers.call_later(delay, lambda: self._executor.submit(self._run_async, item))
            return
        self._finish_async(item, result, "RetriesExhausted")

    def _finish_async(self, item: _AsyncEvent, result: InvocationResult | None, condition: str) -> None:
        try:
            config = item.function.event_invoke_for(item.invoked_arn)
            destination = config.on_success if condition == "Success" else config.on_failure
            if destination:
                self._send_destination(item, result, condition, destination)
        finally:
            with self._async_lock:
                self._async_pending -= 1

    def _send_destination(
        self, item: _AsyncEvent, result: InvocationResult | None, condition: str, destination: str
    ) -> None:
        try:
            request_payload: Any = json.loads(item.payload)
        except ValueError:
            request_payload = item.payload.decode("utf-8", "replace")
        function_arn = item.invoked_arn
        if function_arn == item.function.arn:
            function_arn += ":$LATEST"
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "requestContext": {
                "requestId": item.request_id,
                "functionArn": function_arn,
                "condition": condition,
                "approximateInvokeCount": item.attempts,
            },
            "requestPayload": request_payload,
        }
        if result is not None:
            response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
            if not result.ok:
                response_context["functionError"] = result.function_error
            record["responseContext"] = response_context
            record["responsePayload"] = result.json() if result.payload else None
        self.destination_records.append(record)
        queue = self.template.queues[destination]
        if self.sqs is not None:
            self.sqs.send_message(QueueUrl=queue.url, MessageBody=json.dumps(record))
            self._record_destination_call(item.function, queue.url)

    def _record_destination_call(self, function: FunctionSpec, queue_url: str) -> None:
        """Lambda delivers to a destination with the function's execution role: record it as its call."""
        writer = self._destination_writers.get(function.logical_id)
        if writer is None:
            template = self.template
            target = recording_target(function.logical_id, str(template.path), template.parameter_overrides)
            if target is None:
                return
            writer = self._destination_writers.setdefault(function.logical_id, CallWriter(target))
        resources, details = call_resources("sqs", "SendMessage", {"QueueUrl": queue_url}, REGION)
        writer.write("sqs", "SendMessage", resources, details)

    def stop(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._owns_timers:
            self.timers.stop()
        pools = list(self.pools.values())
        with ThreadPoolExecutor(max_workers=max(1, len(pools))) as stopper:
            list(stopper.map(lambda pool: pool.stop(), pools))


_INVOKE_PATH = "/2015-03-31/functions/"


class InvokeApi(ServedOverHttp):
    """Lambda's Invoke API over HTTP (boto3 `lambda` client with endpoint_url=invoke_url)."""

    def __init__(self, service: LambdaService, *, host: str = "127.0.0.1", port: int = 3001) -> None:
        self.service = service
        self.server = LocalHttpServer(self.dispatch, host=host, port=port, name="invoke-api")

    def dispatch(self, request: HttpRequest) -> HttpResponse:
        path, _, query = request.target.partition("?")
        if request.method != "POST" or not path.startswith(_INVOKE_PATH) or not path.endswith("/invocations"):
            return _error(404, "UnknownOperationException", "Unknown operation")
        function_ref = unquote(path[len(_INVOKE_PATH) : -len("/invocations")])
        qualifiers = parse_qs(query).get("Qualifier")
        qualifier = qualifiers[0] if qualifiers else None
        try:
            fn, invoked_arn = self.service.resolve(function_ref, qualifier)
        except KeyError:
            return _error(404, "ResourceNotFoundException", f"Function not found: {function_ref}")
        invocation_type = request.header("X-Amz-Invocation-Type") or "RequestResponse"
        payload = request.body or b"{}"
        try:
            json.loads(payload)
        except ValueError:
            return _error(400, "InvalidRequestContentException", "Could not parse request body into json")
        if invocation_type == "DryRun":
            return HttpResponse(204, [("x-amzn-RequestId", str(uuid.uuid4()))])
        if invocation_type == "Event":
            if len(payload) > ASYNC_PAYLOAD_LIMIT:
                return _error(413, "RequestTooLargeException", "Request must be smaller than 1048576 bytes")
            request_id = self.service.invoke_async(fn.logical_id, raw=payload, invoked_arn=invoked_arn)
            return HttpResponse(202, [("x-amzn-RequestId", request_id)])
        if invocation_type != "RequestResponse":
            message = f"Unsupported InvocationType {invocation_type}"
            return _error(400, "InvalidParameterValueException", message)
        if len(payload) > SYNC_PAYLOAD_LIMIT:
            return _error(413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes")
        result = self.service.invoke(fn.logical_id, raw=payload, invoked_arn=invoked_arn)
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", result.request_id),
            ("X-Amz-Executed-Version", "$LATEST"),
        ]
        if not result.ok:
            headers.append(("X-Amz-Function-Error", result.function_error or "Unhandled"))
        return HttpResponse(200, headers, result.payload)


def _error(status: int, error_type: str, message: str) -> HttpResponse:
    body = json.dumps({"Type": "User", "message": message}).encode()
    return HttpResponse(
        status,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", error_type),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ],
        body,
    )
