"""Embedded AWS: a moto server on loopback holding every resource `template.yaml` declares.

    with EmbeddedAws(load_template("template.yaml")) as aws:
        aws.client("dynamodb").list_tables()
        aws.template            # the template rebound to the physical ids moto handed out
        aws.physical["WebhookQueue"]["Ref"]   # the queue URL

By default moto runs in a child process of its own (``isolated=True``): each EmbeddedAws then has
its own state (moto's backends are process-global), and moto's request handling does not compete
with the gateway and pumps for this process's GIL. ``isolated=False`` runs it on a thread here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import secrets as pysecrets
import string
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

from rankr_ghl_tools.local._moto_child import serve_moto
from rankr_ghl_tools.local.template import ACCOUNT_ID, REGION, SecretSpec, Template
from rankr_ghl_tools.local.workers import spawn_without_main

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}

_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


@dataclass(frozen=True)
class LocalSchedule:
    """A template schedule as created in (or, when moto lacks it, recorded beside) the embedded AWS."""

    name: str
    arn: str
    expression: str
    target_arn: str
    input: str | None
    in_moto: bool


def generate_secret_string(generate: Mapping[str, Any], rng: pysecrets.SystemRandom | None = None) -> str:
    """Secrets Manager's GenerateSecretString, done locally (template JSON + generated key)."""
    rng = rng or pysecrets.SystemRandom()
    alphabet = ""
    if not generate.get("ExcludeLowercase"):
        alphabet += string.ascii_lowercase
    if not generate.get("ExcludeUppercase"):
        alphabet += string.ascii_uppercase
    if not generate.get("ExcludeNumbers"):
        alphabet += string.digits
    if not generate.get("ExcludePunctuation"):
        alphabet += _PUNCTUATION
    if generate.get("IncludeSpace"):
        alphabet += " "
    excluded = set(str(generate.get("ExcludeCharacters", "")))
    alphabet = "".join(c for c in alphabet if c not in excluded)
    if not alphabet:
        raise ValueError("GenerateSecretString excludes every character")
    length = int(generate.get("PasswordLength", 32))
    value = "".join(rng.choice(alphabet) for _ in range(length))
    template_text = generate.get("SecretStringTemplate")
    if template_text is None:
        return value
    document = json.loads(template_text)
    key = generate.get("GenerateStringKey")
    if not key:
        raise ValueError("SecretStringTemplate needs GenerateStringKey")
    document[key] = value
    return json.dumps(document)


class EmbeddedAws:
    """Moto server + the template's tables, queues, secrets and schedules. A context manager."""

    def __init__(
        self,
        template: Template,
        *,
        isolated: bool = True,
        secret_values: Mapping[str, Mapping[str, Any]] | None = None,
        set_environ: bool = True,
    ) -> None:
        """`secret_values`: per secret logical id, JSON keys merged over the generated secret."""
        self._source_template = template
        self.template = template
        self.isolated = isolated
        self.secret_values = {k: dict(v) for k, v in (secret_values or {}).items()}
        self.set_environ = set_environ
        self.endpoint_url = ""
        self.physical: dict[str, dict[str, str]] = {}
        self.schedules: dict[str, LocalSchedule] = {}
        self._saved_environ: dict[str, str | None] = {}
        self._process: Any = None
        self._conn: Any = None
        self._thread_server: Any = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> EmbeddedAws:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> EmbeddedAws:
        if self.endpoint_url:
            return self
        port = self._start_server()
        self.endpoint_url = f"http://127.0.0.1:{port}"
        if self.set_environ:
            self._apply_environ()
        try:
            self._create_resources()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send("stop")
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout=5)
            self._conn.close()
            self._conn = None
            self._process = None
        if self._thread_server is not None:
            self._thread_server.stop()
            self._thread_server = None
        self._restore_environ()
        self._clients.clear()
        self.endpoint_url = ""

    def _start_server(self) -> int:
        if not self.isolated:
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            from moto.server import ThreadedMotoServer

            self._thread_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._thread_server.start()
            return int(self._thread_server.get_host_and_port()[1])
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=serve_moto, args=(child,), name="embedded-aws", daemon=True)
        with spawn_without_main():
            self._process.start()
        child.close()
        self._conn = parent
        if not parent.poll(30):
            self._process.kill()
            raise RuntimeError("moto server did not start within 30 s")
        return int(parent.recv())

    # -- environment -----------------------------------------------------------------------------
    @property
    def environ(self) -> dict[str, str]:
        """What a process needs to reach this embedded AWS with boto3."""
        return {"AWS_ENDPOINT_URL": self.endpoint_url, **DUMMY_CREDENTIALS}

    def _apply_environ(self) -> None:
        # A named profile would win over (or break) the dummy keys: hide it while we run.
        for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            if key in os.environ:
                self._saved_environ[key] = os.environ.pop(key)
        for key, value in self.environ.items():
            self._saved_environ.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _restore_environ(self) -> None:
        for key, value in self._saved_environ.items():
            if key in self.environ and os.environ.get(key) != self.environ[key]:
                continue  # someone started after us and owns the variable now: not ours to undo
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environ.clear()

    # -- clients -----------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        """A boto3 client for `service` bound to this endpoint (cached, thread-safe to share)."""
        if not self.endpoint_url:
            raise RuntimeError("EmbeddedAws is not running")
        with self._clients_lock:
            if service not in self._clients:
                # boto3-stubs type client() per literal service name; this one is chosen at run time.
                session: Any = boto3.session.Session()
                self._clients[service] = session.client(
                    service,
                    endpoint_url=self.endpoint_url,
                    region_name=REGION,
                    aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
                    config=Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=50),
                )
            return self._clients[service]

    # -- resources -------------------------------------------------------------------------------
    def _create_resources(self) -> None:
        template = self._source_template
        overrides: dict[str, dict[str, str]] = {}
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="embedded-aws-setup") as pool:
            tables = pool.submit(self._create_tables, template)
            queues = pool.submit(self._create_queues, template)
            secrets = pool.submit(self._create_secrets, template)
            tables.result()
            overrides.update(queues.result())
            overrides.update(secrets.result())
        self.template = template.rebind(overrides)
        self.physical = self.template.physical
        self._create_schedules(self.template)

    def _create_tables(self, template: Template) -> None:
        ddb = self.client("dynamodb")
        for spec in template.tables.values():
            kwargs: dict[str, Any] = {
                "TableName": spec.name,
                "KeySchema": spec.key_schema,
                "AttributeDefinitions": spec.attribute_definitions,
                "BillingMode": spec.billing_mode,
            }
            if spec.billing_mode == "PROVISIONED":
                kwargs["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
            if spec.global_secondary_indexes:
                kwargs["GlobalSecondaryIndexes"] = [
                    {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
                    | (
                        {"ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}
                        if spec.billing_mode == "PROVISIONED"
                        else {}
                    )
                    for gsi in spec.global_secondary_indexes
                ]
            if spec.local_secondary_indexes:
                kwargs["LocalSecondaryIndexes"] = spec.local_secondary_indexes
            if spec.stream_view_type:
                kwargs["StreamSpecification"] = {
                    "StreamEnabled": True,
                    "StreamViewType": spec.stream_view_type,
                }
            ddb.create_table(**kwargs)
            if spec.ttl_attribute:
                ddb.update_time_to_live(
                    TableName=spec.name,
                    TimeToLiveSpecification={"AttributeName": spec.ttl_attribute, "Enabled": True},
                )

    def _create_queues(self, template: Template) -> dict[str, dict[str, str]]:
        sqs = self.client("sqs")
        created: dict[str, dict[str, str]] = {}

        def create(logical_id: str) -> None:
            if logical_id in created:
                return
            spec = template.queues[logical_id]
            dlq_arn = None
            if spec.dead_letter_queue:  # the DLQ must exist before its source's redrive policy
                create(spec.dead_letter_queue)
                dlq_arn = created[spec.dead_letter_queue]["Arn"]
            url = sqs.create_queue(QueueName=spec.name, Attributes=spec.create_attributes(dlq_arn))[
                "QueueUrl"
            ]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            created[logical_id] = {"Ref": url, "QueueUrl": url, "Arn": arn, "QueueName": spec.name}

        for logical_id in template.queues:
            create(logical_id)
        return created

    def secret_string(self, spec: SecretSpec) -> str:
        """The initial value of a template secret, with `secret_values` merged over it."""
        if spec.secret_string is not None:
            value = spec.secret_string
        elif spec.generate is not None:
            value = generate_secret_string(spec.generate)
        else:
            value = generate_secret_string({"PasswordLength": 32})
        extra = self.secret_values.get(spec.logical_id)
        if extra:
            document = json.loads(value)
            document.update(extra)
            value = json.dumps(document)
        return value

    def _create_secrets(self, template: Template) -> dict[str, dict[str, str]]:
        sm = self.client("secretsmanager")
        created: dict[str, dict[str, str]] = {}
        unknown = set(self.secret_values) - set(template.secrets)
        if unknown:
            raise ValueError(f"secret_values for secrets not in the template: {sorted(unknown)}")
        for spec in template.secrets.values():
            kwargs: dict[str, Any] = {"Name": spec.name, "SecretString": self.secret_string(spec)}
            if spec.description:
                kwargs["Description"] = spec.description
            arn = sm.create_secret(**kwargs)["ARN"]
            created[spec.logical_id] = {"Ref": arn, "Id": arn, "Name": spec.name}
        return created

    def _create_schedules(self, template: Template) -> None:
        scheduler = self.client("scheduler")
        for spec in template.schedules.values():
            target_arn = template.functions[spec.function].arn
            target: dict[str, Any] = {
                "Arn": target_arn,
                "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/{spec.name}-scheduler",
            }
            if spec.input is not None:
                target["Input"] = spec.input
            if spec.maximum_retry_attempts is not None or spec.maximum_event_age_s is not None:
                target["RetryPolicy"] = {
                    k: v
                    for k, v in (
                        ("MaximumRetryAttempts", spec.maximum_retry_attempts),
                        ("MaximumEventAgeInSeconds", spec.maximum_event_age_s),
                    )
                    if v is not None
                }
            if spec.dead_letter_queue:
                target["DeadLetterConfig"] = {"Arn": template.queues[spec.dead_letter_queue].arn}
            kwargs: dict[str, Any] = {
                "Name": spec.name,
                "ScheduleExpression": spec.expression,
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "Target": target,
                "State": "ENABLED" if spec.enabled else "DISABLED",
            }
            if spec.timezone:
                kwargs["ScheduleExpressionTimezone"] = spec.timezone
            try:
                arn = scheduler.create_schedule(**kwargs)["ScheduleArn"]
                in_moto = True
            except Exception:  # moto without a scheduler backend: keep the record here only
                arn = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{spec.name}"
                in_moto = False
            self.schedules[spec.name] = LocalSchedule(
                spec.name, arn, spec.expression, target_arn, spec.input, in_moto
            )
