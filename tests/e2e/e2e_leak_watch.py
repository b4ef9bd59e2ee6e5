"""Session-wide secrets-in-logs watch for the e2e suite (wired in tests/e2e/conftest.py).

What is captured while e2e tests run:
- every line any handler printed, from every LocalStack of the session (its `LogFanout` is wrapped,
  whatever `log_path`/`echo_logs` the stack's owner chose);
- the test process's log records (root logger and the Powertools logger) and pytest's captured
  stdout/stderr/log sections of e2e test reports.

What counts as a secret (collected from the sandboxes and the embedded AWS, not hand-listed):
- every access/refresh token and auth code the GHL sandbox issued (its token tables, harvested while
  stacks run and when they stop) plus anything shaped like a sandbox token (`sbx-at-...`);
- the GHL client secret, the Rankr API keys, the OAuth state signing key (app secret), every token
  held in Secrets Manager;
- every e-mail and phone number held by either sandbox, and those the tests registered.

Ids are never flagged: only values of at least 8 characters are searched, phones only as whole
numbers (not inside longer digit runs), e-mails case-insensitively.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOKEN_SHAPE_RE = re.compile(r"sbx-(?:at|rt|code)-[A-Za-z0-9_-]{16,}")
# A whole number (optionally formatted: +1 (555) 010-0199), never part of a longer digit run.
PHONE_SHAPE_RE = re.compile(r"(?<![\d.])\+?\d[\d ().-]{8,22}\d(?![\d])")
MIN_SECRET_LEN = 8


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@dataclass
class Finding:
    kind: str
    source: str
    excerpt: str  # the line with the secret masked, so the report itself leaks nothing


@dataclass
class LeakWatch:
    capture_path: Path
    active: bool = False
    secrets: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)  # digits only, >= 10
    lines_captured: int = 0
    stacks: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _file: Any = None

    # -- capture ---------------------------------------------------------------------------------
    def open(self) -> None:
        self.capture_path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.capture_path.open("a", encoding="utf-8")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def record(self, source: str, line: str) -> None:
        if not self.active:
            return
        with self._lock:
            if self._file is not None:
                self._file.write(f"{source}\t{line.rstrip()}\n")
                self._file.flush()
                self.lines_captured += 1

    def captured_text(self) -> str:
        with self._lock:
            if self._file is not None:
                self._file.flush()
        return self.capture_path.read_text(encoding="utf-8") if self.capture_path.exists() else ""

    # -- known secrets ------------------------------------------------------------------------------
    def add_secret(self, *values: str | None) -> None:
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LEN:
                self.secrets.add(value)

    def add_email(self, *values: str | None) -> None:
        for value in values:
            if isinstance(value, str) and "@" in value and len(value) >= 6:
                self.emails.add(value.lower())

    def add_phone(self, *values: str | None) -> None:
        for value in values:
            if isinstance(value, str):
                digits = _digits(value)
                if len(digits) >= 10:
                    self.phones.add(digits)
                    self.phones.add(digits[-10:])  # national form (no country code)

    def add_record_pii(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.add_email(record.get("email"))
            self.add_phone(record.get("phone"))
            for extra in record.get("additionalEmails") or []:
                self.add_email(extra if isinstance(extra, str) else (extra or {}).get("email"))
            for extra in record.get("additionalPhones") or []:
                self.add_phone(extra if isinstance(extra, str) else (extra or {}).get("phone"))

    def harvest(self, stack: Any) -> None:
        """Collect every secret and PII value a running LocalStack's sandboxes and AWS hold."""
        ghl = getattr(stack, "ghl", None)
        if ghl is not None:
            self.add_secret(ghl.config.client_secret)
            store = ghl.app.store
            with store.lock:
                self.add_secret(*store.access_tokens.keys(), *store.refresh_tokens.keys())
                codes = getattr(store, "auth_codes", None) or getattr(store, "codes", None)
                if isinstance(codes, dict):
                    self.add_secret(*codes.keys())
            try:
                for location in ghl.admin.locations():
                    location_id = location.get("id") or location.get("locationId")
                    if location_id:
                        state = ghl.admin.state(location_id)
                        self.add_record_pii(state.get("contacts", []))
                    self.add_email(location.get("email"))
                    self.add_phone(location.get("phone"))
            except Exception:  # noqa: S110 - a stopped sandbox: its tokens were taken above
                pass
        rankr = getattr(stack, "rankr", None)
        if rankr is not None:
            self.add_secret(*rankr.config.api_keys)
            with contextlib.suppress(Exception):  # a stopped sandbox
                self.add_record_pii(rankr.admin.state().get("contacts", []))
        aws = getattr(stack, "aws", None)
        template = getattr(stack, "template", None)
        if aws is not None and template is not None:
            self._harvest_secrets_manager(aws)

    def _harvest_secrets_manager(self, aws: Any) -> None:
        try:
            sm = aws.client("secretsmanager")
            for page in sm.get_paginator("list_secrets").paginate(IncludePlannedDeletion=True):
                for entry in page["SecretList"]:
                    try:
                        text = sm.get_secret_value(SecretId=entry["ARN"])["SecretString"]
                    except Exception:  # noqa: S112 - deleted meanwhile
                        continue
                    try:
                        doc = json.loads(text)
                    except ValueError:
                        self.add_secret(text)
                        continue
                    if isinstance(doc, dict):
                        for key, value in doc.items():
                            if key in {"client_id", "location_id", "company_id", "user_type"}:
                                continue  # ids, not secrets
                            if isinstance(value, str):
                                self.add_secret(value)
        except Exception:  # noqa: S110 - the embedded AWS is already gone
            pass

    def harvest_all(self) -> None:
        for stack in list(self.stacks):
            if getattr(stack, "_started", False):
                self.harvest(stack)

    # -- scan ---------------------------------------------------------------------------------------
    def scan(self, text: str) -> list[Finding]:
        findings: list[Finding] = []
        lowered = text.lower()
        for line in text.splitlines():
            source, _, body = line.partition("\t")
            for match in TOKEN_SHAPE_RE.finditer(body):
                findings.append(
                    Finding("token-shaped value", source, body.replace(match.group(0), "<TOKEN>"))
                )
        for secret in self.secrets:
            if secret in text:
                findings.extend(self._lines_with(text, secret, "secret/token"))
        for email in self.emails:
            if email in lowered:
                findings.extend(self._lines_with(text, email, "e-mail", ignore_case=True))
        if self.phones:
            for line in text.splitlines():
                source, _, body = line.partition("\t")
                for number in PHONE_SHAPE_RE.finditer(body):
                    if _digits(number.group(0)) in self.phones:
                        findings.append(
                            Finding("phone", source, body.replace(number.group(0), "<PHONE>")[:300])
                        )
        return findings

    @staticmethod
    def _lines_with(text: str, value: str, kind: str, ignore_case: bool = False) -> list[Finding]:
        out = []
        needle = value.lower() if ignore_case else value
        for line in text.splitlines():
            hay = line.lower() if ignore_case else line
            if needle in hay:
                source, _, body = line.partition("\t")
                masked = re.sub(re.escape(value), "<" + kind.upper() + ">", body, flags=re.I)
                out.append(Finding(kind, source, masked[:300]))
        return out


class WatchLogHandler(logging.Handler):
    """Writes the test process's log records (formatted, with `extra`) into the watch."""

    def __init__(self, watch: LeakWatch) -> None:
        super().__init__(logging.DEBUG)
        self.watch = watch

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            extras = {
                k: v
                for k, v in record.__dict__.items()
                if k not in logging.LogRecord("", 0, "", 0, "", (), None).__dict__ and k != "message"
            }
            if extras:
                text += " " + json.dumps(extras, default=str)
            if record.exc_info:
                text += " " + logging.Formatter().formatException(record.exc_info)
            self.watch.record(f"test-log:{record.name}", text)
        except Exception:  # a log handler never raises
            self.handleError(record)
