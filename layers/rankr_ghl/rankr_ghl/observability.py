"""Powertools Logger, Tracer and Metrics shared by every handler, plus PII redaction helpers.

One instance of each per container. Tracer never captures responses (tokens live there).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

SERVICE = "rankr-ghl"


class _NoTraceSegment(BaseSegment):
    """What the handler decorator annotates when tracing is off: nothing is recorded."""

    def close(self, end_time: int | None = None) -> None:
        return None

    def add_subsegment(self, subsegment: Any) -> None:
        return None

    def remove_subsegment(self, subsegment: Any) -> None:
        return None

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        return None


class _NoTraceProvider(BaseProvider):
    """Tracer provider for when tracing is disabled: spares importing the X-Ray SDK (~30 ms of
    cold start) that Powertools would load only to record into its disabled recorder."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[BaseSegment]:
        yield _NoTraceSegment()

    @asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncIterator[BaseSegment]:
        yield _NoTraceSegment()

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def patch(self, modules: Sequence[str]) -> None:
        return None

    def patch_all(self) -> None:
        return None


# What the connector calls out through: AWS (botocore) and the GHL / Rankr APIs (httpx). Powertools'
# default patches every module X-Ray supports, importing each that is installed (requests, sqlite3, ...)
# on every cold start with tracing on, for clients the connector never uses. botocore is patched when
# the tracer is built (every handler calls AWS); httpx only when the first GHL or Rankr client is built
# (`trace_http_clients`), so a path that never calls out over HTTP does not import it.
TRACED_MODULES = ("botocore", "httpx")
_TRACED_AT_START = ("botocore",)
_TRACED_WITH_HTTP_CLIENTS = ("httpx",)


def _build_tracer() -> Tracer:
    # Powertools' own rule (POWERTOOLS_TRACE_DISABLED, or not in Lambda / in SAM local); in Lambda with
    # tracing on, the X-Ray provider is built as usual and patches botocore only.
    disabled = bool(Tracer._is_tracer_disabled())
    return Tracer(
        service=SERVICE,
        provider=_NoTraceProvider() if disabled else None,
        patch_modules=_TRACED_AT_START,
    )


logger = Logger(service=SERVICE)
tracer = _build_tracer()
metrics = Metrics(namespace="RankrGhl", service=SERVICE)


def trace_http_clients() -> None:
    """Trace httpx calls (GHL, Rankr) from now on: call before building an HTTP client. A no-op with
    tracing off; X-Ray patches a module once however often this is called."""
    tracer.patch(modules=_TRACED_WITH_HTTP_CLIENTS)


# Keys whose values must never reach logs or traces.
SENSITIVE_KEYS = frozenset(
    {
        "access_token",
        "accesstoken",
        "refresh_token",
        "refreshtoken",
        "client_secret",
        "clientsecret",
        "authorization",
        "token",
        "code",
        "email",
        "phone",
        "password",
        "api_key",
        "apikey",
        "rankr_api_key",
        "state_signing_key",
        "x-ghl-signature",
        "x-wh-signature",
    }
)

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE_RE = re.compile(r"\+?\d[\d\s().-]{7,}\d")
_BEARER_RE = re.compile(r"(?i)bearer\s+[\w.~+/=-]+")

REDACTED = "***"


def redact_text(text: str) -> str:
    """Mask e-mails, phone numbers and bearer tokens inside free text (error messages)."""
    text = _BEARER_RE.sub("Bearer " + REDACTED, text)
    text = _EMAIL_RE.sub(REDACTED, text)
    return _PHONE_RE.sub(REDACTED, text)


def redact(value: Any) -> Any:
    """Return a copy of a JSON-like value with sensitive keys masked and free text scrubbed."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if str(k).lower() in SENSITIVE_KEYS else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def fingerprint(secret: str) -> str:
    """Short non-reversible tag for correlating a secret in logs without revealing it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:10]


class PowertoolsCounter:
    """The flows' `Counter` port on EMF: plain counters go through the shared `metrics` (flushed by the
    handler's `log_metrics`); a count with a `reason` is emitted as a single metric with that dimension,
    so the shared metrics keep one dimension set."""

    def count(self, name: str, reason: str | None = None) -> None:
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        if reason is None:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
            return
        with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
            metric.add_dimension(name="reason", value=reason)
