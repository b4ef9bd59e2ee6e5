"""`LocalStack`: the whole bundle on one machine, no AWS account, no Docker.

    with LocalStack() as stack:                 # template.yaml of the repo
        stack.gateway_url                       # http://127.0.0.1:3000 (or a free port)
        stack.invoke_url                        # Lambda Invoke API for boto3 (endpoint_url=...)
        stack.invoke("LeadPushFunction", {...}) # -> InvocationResult
        stack.drain(timeout=30)                 # queues empty, nothing in flight

Parts: embedded AWS (moto, resources from the template) + GHL sandbox + Rankr sandbox + gateway
(HttpApi routes) + SQS pumps + Lambda Invoke API + schedules. The template's parameters are
overridden so handlers talk to the sandboxes; the app secret holds the sandboxes' credentials.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from rankr_ghl_tools.local.aws import EmbeddedAws
from rankr_ghl_tools.local.gateway import Gateway
from rankr_ghl_tools.local.invoke import InvokeApi, LambdaService, Timers
from rankr_ghl_tools.local.pumps import SqsPump, queue_depth
from rankr_ghl_tools.local.schedules import ScheduleRunner, schedule_event
from rankr_ghl_tools.local.template import (
    LOCAL_API_ID,
    REGION,
    URL_SUFFIX,
    ScheduleSpec,
    Template,
    load_template,
)
from rankr_ghl_tools.local.workers import InvocationResult, LogFanout

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
APP_SECRET = "AppSecret"
LAMBDA_ENDPOINT_ENV = "AWS_ENDPOINT_URL_LAMBDA"


def _ghl_sandbox_factory() -> Callable[[Any], Any]:
    from rankr_ghl_tools.ghl_sandbox import GHLSandbox, SandboxConfig

    return lambda config: GHLSandbox(config or SandboxConfig())


def _rankr_sandbox_factory() -> Callable[[Any], Any]:
    from rankr_ghl_tools.rankr_sandbox import RankrSandbox, RankrSandboxConfig

    return lambda config: RankrSandbox(config or RankrSandboxConfig())


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    requested_port: int | None = None  # the default port, when it was taken and another was used


class LocalStack:
    """Everything together; a context manager (`stop()` is idempotent)."""

    def __init__(
        self,
        template_path: str | Path = DEFAULT_TEMPLATE,
        parameter_overrides: Mapping[str, str] | None = None,
        *,
        concurrency: int | Mapping[str, int] = 2,
        time_scale: float = 1.0,
        gateway_port: int = 3000,
        invoke_port: int = 3001,
        ghl_sandbox: bool | Any = True,
        rankr_sandbox: bool | Any = True,
        ghl_sandbox_config: Any = None,
        rankr_sandbox_config: Any = None,
        schedules: bool = True,
        schedule_speedup: float = 1.0,
        pumps: bool = True,
        log_path: str | Path | None = None,
        echo_logs: bool = True,
        extra_env: Mapping[str, str] | None = None,
        secret_values: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """`ghl_sandbox` / `rankr_sandbox`: True (start one), False (none) or an already started one."""
        self.template_path = Path(template_path)
        self.user_overrides = dict(parameter_overrides or {})
        self.concurrency = concurrency
        self.time_scale = time_scale
        self.gateway_port = gateway_port
        self.invoke_port = invoke_port
        self._want_ghl = ghl_sandbox
        self._want_rankr = rankr_sandbox
        self.ghl_sandbox_config = ghl_sandbox_config
        self.rankr_sandbox_config = rankr_sandbox_config
        self.schedules_enabled = schedules
        self.schedule_speedup = schedule_speedup
        self.pumps_enabled = pumps
        self.log_path = str(log_path) if log_path else None
        self.echo_logs = echo_logs
        self.extra_env = dict(extra_env or {})
        self.user_secret_values = {k: dict(v) for k, v in (secret_values or {}).items()}

        self.ghl: Any = None
        self.rankr: Any = None
        self._owned: list[Any] = []  # sandboxes we started (stopped by us)
        self.aws: EmbeddedAws | None = None
        self.template: Template | None = None
        self.gateway: Gateway | None = None
        self.service: LambdaService | None = None
        self.invoke_api: InvokeApi | None = None
        self.pumps: list[SqsPump] = []
        self.scheduler: ScheduleRunner | None = None
        self.timers: Timers | None = None
        self.logs: LogFanout | None = None
        self.notes: list[str] = []  # things worth telling the user (e.g. a port fallback)
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> LocalStack:
        if self._started:
            return self
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._start_sandboxes()
        self.logs = LogFanout(echo=self.echo_logs, path=self.log_path)
        self.timers = Timers()
        # Bind the gateway first: its URL goes into parameters (OAuth redirect, webhook target).
        self.gateway = Gateway(None, self._gateway_invoke, port=self.gateway_port)
        if self.gateway.server.port_was_taken:
            self.notes.append(f"port {self.gateway_port} was taken: gateway on {self.gateway.port}")
        source = load_template(self.template_path)
        overrides = self._parameter_overrides(source)
        template = load_template(self.template_path, overrides)
        self.aws = EmbeddedAws(template, secret_values=self._secret_values(template)).start()
        self.template = self.aws.template
        self.service = LambdaService(
            self.template,
            aws_environ=self.aws.environ,
            sqs_client=self.aws.client("sqs"),
            concurrency=self.concurrency,
            time_scale=self.time_scale,
            log_sink=self.logs,
            extra_env=self.extra_env,
            timers=self.timers,
        )
        self.invoke_api = InvokeApi(self.service, port=self.invoke_port).start()
        if self.invoke_api.server.port_was_taken:
            self.notes.append(f"port {self.invoke_port} was taken: invoke API on {self.invoke_api.port}")
        # A handler's own Lambda client (the control API's lead-push replay) reaches this Invoke API,
        # not moto's: botocore's service-specific endpoint wins over AWS_ENDPOINT_URL. Set before the
        # gateway starts, so no worker was spawned without it.
        self.service.extra_env.setdefault(LAMBDA_ENDPOINT_ENV, self.invoke_api.url)
        self.gateway.bind_template(self.template)
        self.gateway.start()
        if self.pumps_enabled:
            self._start_pumps()
        if self.schedules_enabled:
            specs = list(self.template.schedules.values())
            self.scheduler = ScheduleRunner(specs, self._fire_async, speedup=self.schedule_speedup).start()
            for name, why in self.scheduler.skipped.items():
                self.notes.append(f"schedule {name} not fired automatically: {why}")
        self._point_ghl_webhooks()

    def _start_sandboxes(self) -> None:
        self.ghl = self._sandbox("GHL", self._want_ghl, _ghl_sandbox_factory, self.ghl_sandbox_config)
        self.rankr = self._sandbox(
            "Rankr", self._want_rankr, _rankr_sandbox_factory, self.rankr_sandbox_config
        )

    def _sandbox(
        self, label: str, wanted: bool | Any, load_factory: Callable[[], Callable[[Any], Any]], config: Any
    ) -> Any:
        """`wanted`: True starts one (ours to stop), False none, else the already started one given."""
        if wanted is not True:
            return wanted if wanted else None
        try:
            factory = load_factory()
        except ImportError as exc:  # a sandbox package that does not import leaves the stack usable
            self.notes.append(f"{label} sandbox unavailable: {exc}")
            return None
        sandbox = factory(config).start()
        self._owned.append(sandbox)
        return sandbox

    def _parameter_overrides(self, source: Template) -> dict[str, str]:
        """Point the template at the sandboxes and this gateway; the caller's overrides win."""
        assert self.gateway is not None
        wanted: dict[str, str] = {}
        if self.ghl is not None:
            wanted["GhlApiBaseUrl"] = self.ghl.url
            wanted["GhlMarketplaceUrl"] = self.ghl.url
            wanted["GhlClientId"] = self.ghl.config.client_id
            wanted["WebhookPublicKeys"] = self.ghl.app.webhooks.signer.public_keys()["ed25519_spki_b64"]
        if self.rankr is not None:
            wanted["RankrApiBaseUrl"] = self.rankr.url
        routes = [r for f in source.functions.values() for r in f.routes]
        callback = [r for r in routes if r.path.endswith("/oauth/callback")]
        if callback:
            wanted["OAuthRedirectUri"] = self.gateway.url + callback[0].path
        declared = source.parameters
        overrides = {k: v for k, v in wanted.items() if k in declared}
        overrides.update(self.user_overrides)
        return overrides

    def _secret_values(self, template: Template) -> dict[str, dict[str, Any]]:
        values: dict[str, dict[str, Any]] = {}
        if APP_SECRET in template.secrets:
            app: dict[str, Any] = {}
            if self.ghl is not None:
                app["client_id"] = self.ghl.config.client_id
                app["client_secret"] = self.ghl.config.client_secret
            if self.rankr is not None:
                app["rankr_api_key"] = self.rankr.api_key
            if app:
                values[APP_SECRET] = app
        for key, extra in self.user_secret_values.items():
            values.setdefault(key, {}).update(extra)
        return values

    def _start_pumps(self) -> None:
        assert self.template is not None and self.service is not None and self.aws is not None
        assert self.timers is not None
        for fn in self.template.functions.values():
            for source in fn.sqs_sources:
                if not source.enabled:
                    continue
                pollers = self.service.concurrency_for(fn.logical_id)
                if source.maximum_concurrency:
                    pollers = min(pollers, int(source.maximum_concurrency))
                pump = SqsPump(
                    fn,
                    source,
                    self.template.queues[source.queue],
                    service=self.service,
                    sqs_client=self.aws.client("sqs"),
                    timers=self.timers,
                    pollers=pollers,
                    time_scale=self.time_scale,
                )
                self.pumps.append(pump.start())

    def _point_ghl_webhooks(self) -> None:
        if self.ghl is None or self.template is None:
            return
        url = self.output_url("WebhookUrl")
        if url:
            self.ghl.admin.webhooks(urls=[url])

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        for pump in self.pumps:
            pump.request_stop()  # all pollers leave their long poll together
        for part in (self.gateway, self.invoke_api, self.scheduler, *self.pumps, self.service):
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:  # keep shutting the rest down
                    print(f"local stack: stopping {type(part).__name__} failed: {exc}", file=sys.stderr)
        self.pumps = []
        if self.timers is not None:
            self.timers.stop()
        if self.aws is not None:
            self.aws.stop()
        for sandbox in reversed(self._owned):
            try:
                sandbox.stop()
            except Exception as exc:
                print(f"local stack: stopping {type(sandbox).__name__} failed: {exc}", file=sys.stderr)
        self._owned = []
        if self.logs is not None:
            self.logs.close()

    # -- urls ----------------------------------------------------------------------------------
    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None, "stack not started"
        return self.gateway.url

    @property
    def invoke_url(self) -> str:
        assert self.invoke_api is not None, "stack not started"
        return self.invoke_api.url

    @property
    def aws_endpoint_url(self) -> str:
        assert self.aws is not None, "stack not started"
        return self.aws.endpoint_url

    @property
    def ghl_url(self) -> str | None:
        return self.ghl.url if self.ghl is not None else None

    @property
    def rankr_url(self) -> str | None:
        return self.rankr.url if self.rankr is not None else None

    def output_url(self, output_name: str) -> str | None:
        """A template Output URL of the HTTP API, rewritten to the local gateway."""
        assert self.template is not None
        value = self.template.outputs.get(output_name)
        if not isinstance(value, str):
            return None
        remote = f"https://{LOCAL_API_ID}.execute-api.{REGION}.{URL_SUFFIX}"
        return self.gateway_url + value[len(remote) :] if value.startswith(remote) else value

    def endpoints(self) -> list[Endpoint]:
        """Where each part runs (for `make run`'s banner)."""
        assert self.gateway is not None and self.invoke_api is not None and self.aws is not None
        parts = [
            Endpoint(
                "gateway (HTTP API)",
                self.gateway.url,
                self.gateway_port if self.gateway.server.port_was_taken else None,
            ),
            Endpoint(
                "Lambda Invoke API",
                self.invoke_api.url,
                self.invoke_port if self.invoke_api.server.port_was_taken else None,
            ),
            Endpoint("embedded AWS (moto)", self.aws.endpoint_url),
        ]
        if self.ghl is not None:
            parts.append(Endpoint("GHL sandbox", self.ghl.url))
        if self.rankr is not None:
            parts.append(Endpoint("Rankr sandbox", self.rankr.url))
        return parts

    def client(self, service: str) -> Any:
        """boto3 client of the embedded AWS; `lambda` goes to the local Invoke API."""
        assert self.aws is not None
        if service == "lambda":
            import boto3

            return boto3.client(
                "lambda",
                endpoint_url=self.invoke_url,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return self.aws.client(service)

    # -- operations ----------------------------------------------------------------------------
    def invoke(
        self, function_logical_id: str, event: Any = None, invocation_type: str = "RequestResponse"
    ) -> InvocationResult | str:
        """RequestResponse -> InvocationResult; Event -> the request id (runs in the background)."""
        assert self.service is not None, "stack not started"
        if invocation_type == "Event":
            return self.service.invoke_async(function_logical_id, event)
        if invocation_type != "RequestResponse":
            raise ValueError(f"invocation_type {invocation_type!r}")
        return self.service.invoke(function_logical_id, event)

    def _gateway_invoke(self, function_logical_id: str, raw_event: bytes) -> InvocationResult:
        assert self.service is not None
        return self.service.invoke(function_logical_id, raw=raw_event)

    def _fire_async(self, spec: ScheduleSpec) -> None:
        assert self.service is not None
        self.service.invoke_async(spec.function, schedule_event(spec))

    def schedule(self, name: str) -> ScheduleSpec:
        """A schedule by Scheduler name, event name or `Function.Event`."""
        assert self.template is not None
        for spec in self.template.schedules.values():
            if name in (spec.name, spec.event_name, f"{spec.function}.{spec.event_name}"):
                return spec
        raise KeyError(f"no schedule {name!r}; have {sorted(self.template.schedules)}")

    def fire_schedule(self, name: str, *, wait: bool = True) -> InvocationResult | str:
        """Fire a schedule now. wait=True runs it synchronously and returns the result."""
        spec = self.schedule(name)
        event = schedule_event(spec)
        return self.invoke(spec.function, event, "RequestResponse" if wait else "Event")

    def busy(self) -> dict[str, int]:
        """What is still moving: per consumed queue depth, pumps, in-flight invocations, async."""
        assert self.service is not None and self.aws is not None and self.template is not None
        sqs = self.aws.client("sqs")
        state: dict[str, int] = {}
        consumed = {p.queue.logical_id for p in self.pumps}
        for logical_id in sorted(consumed):
            depth = queue_depth(sqs, self.template.queues[logical_id])
            if depth:
                state[f"queue:{logical_id}"] = depth
        pumping = sum(p.in_flight for p in self.pumps)
        if pumping:
            state["pump_in_flight"] = pumping
        if self.service.in_flight:
            state["invocations_in_flight"] = self.service.in_flight
        if self.service.async_pending:
            state["async_pending"] = self.service.async_pending
        if self.gateway is not None and self.gateway.server.in_flight:
            state["http_in_flight"] = self.gateway.server.in_flight
        return state

    def drain(self, timeout: float = 30.0, *, settle: float = 0.2) -> None:
        """Wait until every consumed queue is empty and nothing is in flight (twice, `settle` apart)."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        state: dict[str, int] = {}
        while time.monotonic() < deadline:
            state = self.busy()
            if not state:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return
            else:
                quiet_since = None
            time.sleep(0.05)
        raise TimeoutError(f"local stack not drained after {timeout}s: {json.dumps(state)}")
