"""Lambda-like execution: each function runs in worker processes of its own.

A worker is a fresh interpreter (multiprocessing *spawn*) that behaves like one Lambda container:
its cwd and first sys.path entry are the function's CodeUri, then the template's layers; its
environment is exactly the function's resolved environment plus what Lambda sets; it imports the
handler module once (init) and then serves invocations one at a time. Module-level state therefore
lives per worker, never shared between functions. A handler exception becomes an error result
({errorMessage, errorType, stackTrace}); a worker that dies or times out is replaced on next use.

This module imports only the standard library: it is also the worker processes' entry point.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

LogSink = Callable[[str, str], None]  # (function logical id, one output line without newline)

FUNCTION_ERROR_UNHANDLED = "Unhandled"


@dataclass
class InvocationResult:
    request_id: str
    payload: bytes  # the JSON response, or the JSON error document when `function_error` is set
    function_error: str | None = None  # "Unhandled" when the handler (or its runtime) failed
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.function_error is None

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None

    @property
    def error_type(self) -> str | None:
        if self.ok:
            return None
        try:
            return str(self.json().get("errorType"))
        except (ValueError, AttributeError):
            return None


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs (plain data: it is pickled into the child)."""

    logical_id: str
    function_name: str
    function_arn: str
    code_dir: str
    layer_dirs: tuple[str, ...]
    handler: str
    env: dict[str, str]
    timeout_s: float
    memory_mb: int
    aws_calls: Any = None  # an aws_calls.RecordingTarget when the parent records AWS calls


class LambdaContext:
    """The attributes and method of Lambda's Python context object."""

    def __init__(
        self,
        spec: WorkerSpec,
        request_id: str,
        deadline_ms: int,
        invoked_arn: str,
        client_context: Any = None,
    ) -> None:
        self.function_name = spec.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = invoked_arn
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.function_name}"
        self.log_stream_name = spec.env.get("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        self.identity = None
        self.client_context = client_context
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def lambda_environment(
    spec_env: Mapping[str, str],
    *,
    function_name: str,
    memory_mb: int,
    timeout_s: float,
    handler: str,
    code_dir: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment a Lambda container for this function would see (locally)."""
    env: dict[str, str] = {}
    for key in ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED", "TMPDIR"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(
        {
            "TZ": "UTC",
            "LAMBDA_TASK_ROOT": code_dir,
            "_HANDLER": handler,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(timeout_s)),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    env.update(spec_env)
    env.update(extra or {})
    return env


# ----------------------------------------------------------------------------------------------
# Child side
# ----------------------------------------------------------------------------------------------
def _error_document(
    exc: BaseException, request_id: str, error_type: str | None = None, skip_frames: int = 0
) -> bytes:
    frames = traceback.extract_tb(exc.__traceback__)[skip_frames:]
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": error_type or type(exc).__name__,
            "requestId": request_id,
            "stackTrace": traceback.format_list(frames),
        }
    ).encode()


def _redirect_output(log_fd: int | None) -> None:
    if log_fd is None:
        return
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), encoding="utf-8", line_buffering=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0), encoding="utf-8", line_buffering=True)


def _lambda_sys_path(spec: WorkerSpec) -> list[str]:
    """CodeUri first, then layers, then the interpreter's own stdlib/site-packages (not the caller's cwd)."""
    keep = [p for p in sys.path if p and ("site-packages" in p or p.startswith(sys.base_prefix))]
    return [spec.code_dir, *spec.layer_dirs, *[p for p in keep if p not in (spec.code_dir, *spec.layer_dirs)]]


def worker_main(spec: WorkerSpec, conn: Any, log_conn: Any) -> None:  # pragma: no cover - child process
    """Entry point of a worker process: init like Lambda, then serve invocations until EOF/None."""
    _redirect_output(os.dup(log_conn.fileno()) if log_conn is not None else None)
    if log_conn is not None:
        log_conn.close()
    os.environ.clear()
    os.environ.update(spec.env)
    sys.path[:] = _lambda_sys_path(spec)
    for name in [m for m in sys.modules if m == "app" or m.startswith("app.")]:
        del sys.modules[name]
    if spec.aws_calls is not None:  # before the handler's imports create any boto3 session
        from rankr_ghl_tools.local.aws_calls import install_recorder

        install_recorder(spec.aws_calls)
    if any(key.startswith("RANKR_GHL_FAULT_") for key in spec.env):
        # Chaos runs: faults go into the composition root (rankr_ghl_tools.faults), never the layer.
        from rankr_ghl_tools import faults

        faults.install_from_environment(spec.env)

    module_name, _, attr = spec.handler.rpartition(".")
    handler: Callable[[Any, Any], Any] | None = None
    init_error: bytes | None = None
    try:
        import importlib

        os.chdir(spec.code_dir)
        module = importlib.import_module(module_name)
        handler = getattr(module, attr)
    except BaseException as exc:  # Lambda reports init failures on every invoke
        if isinstance(exc, (ImportError, FileNotFoundError)):
            kind = "Runtime.ImportModuleError"
        elif isinstance(exc, AttributeError):
            kind = "Runtime.HandlerNotFound"
        else:
            kind = f"Runtime.{type(exc).__name__}"
        init_error = _error_document(exc, "init", kind)
        traceback.print_exc()
    conn.send(("ready", None))

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        request_id, event_bytes, deadline_ms, invoked_arn = message
        if init_error is not None or handler is None:
            conn.send(("error", init_error))
            continue
        try:
            event = json.loads(event_bytes) if event_bytes else None
            context = LambdaContext(spec, request_id, deadline_ms, invoked_arn)
            result = handler(event, context)
        except Exception as exc:
            traceback.print_exc()
            conn.send(("error", _error_document(exc, request_id, skip_frames=1)))  # not our frame
            continue
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as exc:
            conn.send(("error", _error_document(exc, request_id, "Runtime.MarshalError")))
            continue
        conn.send(("ok", payload))


# ----------------------------------------------------------------------------------------------
# Parent side
# ----------------------------------------------------------------------------------------------
_SPAWN_LOCK = threading.Lock()


@contextlib.contextmanager
def spawn_without_main() -> Iterator[None]:
    """Start spawn children without re-running the parent's __main__ (a script, a bench, pytest).

    multiprocessing's spawn re-imports the parent's main module in the child; an unguarded script
    would start a second stack there. Our children need nothing from __main__, so hide it.
    """
    main = sys.modules.get("__main__")
    with _SPAWN_LOCK:
        if main is None:
            yield
            return
        saved: dict[str, Any] = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None
        try:
            yield
        finally:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


class _Worker:
    def __init__(self, spec: WorkerSpec, log_sink: LogSink | None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child_conn = ctx.Pipe(duplex=True)
        log_read, log_write = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=worker_main,
            args=(spec, child_conn, log_write),
            name=f"lambda-{spec.logical_id}",
            daemon=True,
        )
        with spawn_without_main():
            self.process.start()
        child_conn.close()
        log_write.close()
        self._log_thread = threading.Thread(
            target=self._forward_logs, args=(spec.logical_id, log_read, log_sink), daemon=True
        )
        self._log_thread.start()
        self.spec = spec
        self.ready = False

    @staticmethod
    def _forward_logs(logical_id: str, log_read: Any, sink: LogSink | None) -> None:
        fd = log_read.fileno()
        buffer = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if sink is not None:
                    sink(logical_id, line.decode("utf-8", "replace"))
        if buffer and sink is not None:
            sink(logical_id, buffer.decode("utf-8", "replace"))
        log_read.close()

    def wait_ready(self, timeout_s: float) -> bool:
        if self.ready:
            return True
        if not self.conn.poll(timeout_s):
            return False
        try:
            self.conn.recv()
        except (EOFError, OSError):
            return False
        self.ready = True
        return True

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()

    def request_stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)

    def stop(self, grace_s: float = 0.5) -> None:
        """Like Lambda's shutdown phase: a short grace to exit, then SIGKILL."""
        self.request_stop()
        self.process.join(timeout=grace_s)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=3)
        self.conn.close()


INIT_TIMEOUT_S = 60.0  # imports of a cold worker (Lambda's init phase allows 10 s; spawn is slower)


class FunctionPool:
    """Up to `concurrency` worker processes for one function, started lazily, replaced when they die."""

    def __init__(self, spec: WorkerSpec, *, concurrency: int = 2, log_sink: LogSink | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.spec = spec
        self.concurrency = concurrency
        self.log_sink = log_sink
        self._idle: list[_Worker] = []
        self._live = 0
        self._cond = threading.Condition()
        self._closed = False
        self.in_flight = 0
        self.invocations = 0
        self.workers_started = 0

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError(f"{self.spec.logical_id}: pool is stopped")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker
                    self._live -= 1
                    worker.kill()
                if self._live < self.concurrency:
                    self._live += 1
                    break
                self._cond.wait()
        try:
            worker = _Worker(self.spec, self.log_sink)
            self.workers_started += 1
            return worker
        except BaseException:
            with self._cond:
                self._live -= 1
                self._cond.notify()
            raise

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._cond:
            if healthy and not self._closed:
                self._idle.append(worker)
            else:
                self._live -= 1
            self._cond.notify()
        if not healthy or self._closed:
            worker.kill() if not healthy else worker.stop()

    def invoke(
        self,
        event: Any,
        *,
        request_id: str | None = None,
        invoked_arn: str | None = None,
        raw_event: bytes | None = None,
    ) -> InvocationResult:
        """Run the handler once. `raw_event` (JSON bytes) is passed through unchanged when given."""
        request_id = request_id or str(uuid.uuid4())
        event_bytes = raw_event if raw_event is not None else json.dumps(event).encode()
        with self._cond:
            self.in_flight += 1
            self.invocations += 1
        started = time.monotonic()
        try:
            result = self._invoke_on_worker(request_id, event_bytes, invoked_arn or self.spec.function_arn)
        finally:
            with self._cond:
                self.in_flight -= 1
        result.duration_ms = (time.monotonic() - started) * 1000
        return result

    def _invoke_on_worker(self, request_id: str, event_bytes: bytes, invoked_arn: str) -> InvocationResult:
        worker = self._acquire()
        healthy = False
        try:
            if not worker.wait_ready(INIT_TIMEOUT_S):
                return self._runtime_error(request_id, "Runtime.ExitError", "worker failed to start")
            deadline_ms = int(time.time() * 1000 + self.spec.timeout_s * 1000)
            worker.conn.send((request_id, event_bytes, deadline_ms, invoked_arn))
            if not worker.conn.poll(self.spec.timeout_s + 0.5):
                return self._runtime_error(
                    request_id, "Sandbox.Timedout", f"Task timed out after {self.spec.timeout_s:.2f} seconds"
                )
            try:
                status, payload = worker.conn.recv()
            except (EOFError, OSError):
                worker.process.join(timeout=2)
                return self._runtime_error(
                    request_id,
                    "Runtime.ExitError",
                    f"Runtime exited with error: exit status {worker.process.exitcode}",
                )
            healthy = True
            if status == "ok":
                return InvocationResult(request_id, payload)
            return InvocationResult(request_id, payload, FUNCTION_ERROR_UNHANDLED)
        finally:
            self._release(worker, healthy)

    def _runtime_error(self, request_id: str, error_type: str, message: str) -> InvocationResult:
        document = {
            "errorMessage": f"RequestId: {request_id} Error: {message}",
            "errorType": error_type,
            "stackTrace": [],
        }
        return InvocationResult(request_id, json.dumps(document).encode(), FUNCTION_ERROR_UNHANDLED)

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._live -= len(idle)
            self._cond.notify_all()
        for worker in idle:  # ask all first, then wait: stopping takes one exit, not N
            worker.request_stop()
        for worker in idle:
            worker.stop()


@dataclass
class LogFanout:
    """Forwards worker output to the parent's stderr (optional) and a capture file (optional).

    File lines are `<FunctionLogicalId> <raw line>`, so leak checks can scan everything a handler printed.
    """

    echo: bool = True
    path: str | None = None
    stream: TextIO | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _file: TextIO | None = None

    def __post_init__(self) -> None:
        if self.path:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def __call__(self, logical_id: str, line: str) -> None:
        with self._lock:
            if self._file is not None:
                self._file.write(f"{logical_id} {line}\n")
                self._file.flush()
            if self.echo:
                stream = self.stream or sys.stderr
                stream.write(f"[{logical_id}] {line}\n")
                stream.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
