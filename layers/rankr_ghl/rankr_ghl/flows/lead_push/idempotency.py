"""Powertools Idempotency for lead push: one persistence layer and config per container."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

IdempotentRunner = Callable[[Callable[[dict[str, Any]], dict[str, Any]]], Callable[..., dict[str, Any]]]
"""Wraps the per-lead function (keyword `lead_payload`) with Powertools' idempotent_function."""

IDEMPOTENCY_EXPIRES_AFTER_S = 24 * 3600


@dataclass(frozen=True)
class LeadIdempotency:
    """`runner` wraps the per-lead function; the handler registers the Lambda context on `config`
    so that an invocation that dies mid-lead frees its INPROGRESS record when Lambda would have
    timed out."""

    runner: IdempotentRunner
    config: Any  # aws_lambda_powertools IdempotencyConfig
    in_progress_errors: tuple[type[BaseException], ...]


def powertools_idempotency(
    persistence_store: Any, expires_after_seconds: int = IDEMPOTENCY_EXPIRES_AFTER_S
) -> LeadIdempotency:
    """Key: location + leadId + payload hash + applied sequence (`service.LeadPushService`): a push
    equal to the last payload applied replays its stored result; any other payload, an older one
    included, gets a new key and runs (and takes the mapping path). Payload validation on the lead body
    guards the key against hash collisions. Only successes are stored: failures raise, and
    Powertools deletes the INPROGRESS record, so a retry really retries."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    config = IdempotencyConfig(
        event_key_jmespath="[locationId, leadId, payloadHash, appliedSeq]",
        payload_validation_jmespath="lead",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=expires_after_seconds,
    )

    def runner(function: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        wrapped: Callable[..., dict[str, Any]] = idempotent_function(
            function,
            data_keyword_argument="lead_payload",
            persistence_store=persistence_store,
            config=config,
            key_prefix="lead-push",
        )
        return wrapped

    return LeadIdempotency(
        runner=runner, config=config, in_progress_errors=(IdempotencyAlreadyInProgressError,)
    )


def dynamodb_idempotency(table_name: str, client: Any = None) -> LeadIdempotency:
    """`client`: a boto3 DynamoDB client to share; without one Powertools builds its own on a new boto3
    Session, which re-reads botocore's data files (~80 ms of cold start)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return powertools_idempotency(DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client))
