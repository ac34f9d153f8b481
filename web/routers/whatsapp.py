"""The WhatsApp Cloud API's webhook, `/v1/whatsapp/webhook`: Meta's check of the
callback URL (GET), and the statuses and customer messages it POSTs.

Every POST is verified before anything is read: `X-Hub-Signature-256` over the raw
body under the app secret, in constant time; a bad one gets 401 and nothing is applied.
Then each status goes to the journey its `biz_opaque_callback_data` names, and each
customer message to the running journeys of that store for that phone, found by the
phone's keyed hash. Both are signals: the answer comes in milliseconds, whether or not
a worker runs. Meta retries what it got no 200 for, so everything is applied once by
the journeys (by message and status id); when Temporal cannot be reached the answer is
503, for Meta to deliver it again, never a 200 that would lose it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, Field
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from customer_data import vault_of
from intake import InvalidJourney, parse_json
from journey.conversation import rating_digit
from models.conversation import CustomerReply, ReplyKind
from models.search import CUSTOMER_PHONE_HASH, STORE_ID
from web.dependencies import Settings, Stores, TemporalClient, bounded_body
from web.problems import Problem
from web.settings import ServiceSettings
from web.stores import Store
from whatsapp import notifications
from whatsapp.keywords import opt_out_keyword
from whatsapp.notifications import InboundMessage, Malformed, Reading, StatusNotice
from whatsapp.phones import phone_hash
from whatsapp.signature import SIGNATURE_HEADER, verify
from workflows import OrderJourney

router = APIRouter(prefix="/v1/whatsapp", tags=["WhatsApp"])
log = logging.getLogger("journey.web")

# Meta's largest webhook payload (it batches many statuses into one at volume).
MAX_BODY_BYTES = 3 * 1024 * 1024
# A phone's running journeys in one store that a message reaches; more is not a customer.
MAX_JOURNEYS_PER_PHONE = 20
# Meta waits for the answer, and delivers again what got none: each call to Temporal,
# and the whole request, are bounded, and one over its time is answered 503.
RPC_TIMEOUT = timedelta(seconds=3)
REQUEST_SECONDS = 10
# Statuses of different journeys are handed over side by side; one journey's in order.
CONCURRENT_JOURNEYS = 16
_CHALLENGE = re.compile(r"[A-Za-z0-9._-]{1,128}")


class WhatsAppMetrics:
    """What the webhook did with what Meta sent, on the service's `/metrics`. Labels
    name templates and outcomes, never a phone or a text."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.statuses = Counter(
            "journey_whatsapp_statuses",
            "WhatsApp statuses of this product's messages by template and status",
            ["template", "status"],
            registry=registry,
        )
        self.messages = Counter(
            "journey_whatsapp_messages",
            "customers' WhatsApp messages by what became of them",
            ["outcome"],
            registry=registry,
        )
        self.skipped = Counter(
            "journey_whatsapp_skipped",
            "webhook items left alone, by why",
            ["reason"],
            registry=registry,
        )


class WebhookAnswer(BaseModel):
    statuses: int = Field(description="Statuses that reached their journey (or its end).")
    messages: int = Field(description="Customer messages that reached a journey.")


@dataclass(frozen=True)
class WhatsAppConfig:
    app_secret: bytes
    verify_token: bytes
    phone_secret: bytes


def configured(settings: ServiceSettings) -> WhatsAppConfig:
    secret, token = settings.whatsapp_app_secret, settings.whatsapp_verify_token
    phone = settings.phone_hash_secret
    if secret is None or token is None or phone is None:
        raise Problem(
            404,
            "whatsapp-not-configured",
            "this service has no WhatsApp webhook: set JOURNEY_WHATSAPP_APP_SECRET, "
            "JOURNEY_WHATSAPP_VERIFY_TOKEN and JOURNEY_PHONE_HASH_SECRET",
        )
    return WhatsAppConfig(
        secret.get_secret_value().encode(),
        token.get_secret_value().encode(),
        phone.get_secret_value().encode(),
    )


@router.get(
    "/webhook",
    response_class=PlainTextResponse,
    summary="Meta checks the callback URL: answer hub.challenge for the right verify token",
)
async def verify_callback(request: Request, settings: Settings) -> PlainTextResponse:
    config = configured(settings)
    query = request.query_params
    mode, token = query.get("hub.mode"), query.get("hub.verify_token")
    challenge = query.get("hub.challenge", "")
    if mode != "subscribe" or token is None or not _CHALLENGE.fullmatch(challenge):
        raise Problem(
            400,
            "invalid-input",
            "expected hub.mode=subscribe, hub.verify_token and hub.challenge (up to 128 "
            "letters, digits, '.', '_' or '-')",
        )
    if not hmac.compare_digest(token.encode(), config.verify_token):
        raise Problem(403, "bad-verify-token", "hub.verify_token is not this service's")
    return PlainTextResponse(challenge)


@router.post(
    "/webhook",
    response_model=WebhookAnswer,
    summary="Statuses of the journeys' messages and customers' messages, from Meta",
)
async def receive(
    request: Request, settings: Settings, client: TemporalClient, stores: Stores
) -> WebhookAnswer:
    config = configured(settings)
    body = await bounded_body(request, MAX_BODY_BYTES)
    if not verify(config.app_secret, body, request.headers.get(SIGNATURE_HEADER)):
        raise Problem(
            401,
            "bad-signature",
            f"{SIGNATURE_HEADER} must be sha256=HMAC-SHA256(app secret, body)",
        )
    try:
        reading = notifications.read(parse_json(body, "body", max_bytes=MAX_BODY_BYTES))
    except InvalidJourney as err:
        raise Problem(400, "malformed-payload", "; ".join(err.problems)) from None
    except Malformed as err:
        raise Problem(400, "malformed-payload", str(err)) from None
    metrics: WhatsAppMetrics = request.app.state.whatsapp_metrics
    for reason, count in reading.skipped.items():
        metrics.skipped.labels(reason).inc(count)
    try:
        async with asyncio.timeout(REQUEST_SECONDS):
            statuses = await _deliver_statuses(client, reading.statuses, metrics)
            messages = await _deliver_messages(client, reading, stores, config, metrics)
    except (RPCError, TimeoutError) as err:
        log.warning("WhatsApp webhook not applied, Temporal failed: %r", err)
        raise Problem(
            503, "temporal-unavailable", "Temporal does not answer; deliver this again later"
        ) from None
    log.info(
        "WhatsApp webhook: %d statuses, %d messages applied; %d items left alone",
        statuses,
        messages,
        sum(reading.skipped.values()),
    )
    return WebhookAnswer(statuses=statuses, messages=messages)


async def _deliver_statuses(
    client: Client, notices: Iterable[StatusNotice], metrics: WhatsAppMetrics
) -> int:
    """Signal each status to its journey; how many reached a running one."""
    by_journey: dict[str, list[StatusNotice]] = {}
    for notice in notices:
        by_journey.setdefault(notice.journey_id, []).append(notice)
    gate = asyncio.Semaphore(CONCURRENT_JOURNEYS)
    delivered = 0

    async def hand_over(journey_id: str, mine: list[StatusNotice]) -> None:
        nonlocal delivered
        handle = client.get_workflow_handle_for(OrderJourney.run, journey_id)
        async with gate:
            for notice in mine:
                update = notice.update
                signal = handle.signal(
                    OrderJourney.whatsapp_status, update, rpc_timeout=RPC_TIMEOUT
                )
                if await _signalled(signal):
                    delivered += 1
                else:
                    metrics.skipped.labels("journey_ended").inc()
                metrics.statuses.labels(update.template, str(update.status)).inc()

    try:
        async with asyncio.TaskGroup() as group:
            for journey_id, mine in by_journey.items():
                group.create_task(hand_over(journey_id, mine))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return delivered


async def _deliver_messages(
    client: Client,
    reading: Reading,
    stores: dict[str, Store],
    config: WhatsAppConfig,
    metrics: WhatsAppMetrics,
) -> int:
    by_number = {s.whatsapp.phone_number_id: s for s in stores.values() if s.whatsapp}
    delivered = 0
    for message in reading.messages:
        store = by_number.get(message.phone_number_id)
        if store is None or store.whatsapp is None:
            metrics.messages.labels("unknown_business_number").inc()
            continue
        hashed = phone_hash(message.sender or "", config.phone_secret)
        journeys = await _journeys_of(client, store.store_id, hashed) if hashed else []
        if not journeys:
            metrics.messages.labels("unknown_sender").inc()  # acknowledged and dropped
            continue
        reply = message.reply
        keyword = (
            opt_out_keyword(reply.text, store.whatsapp.opt_out_keywords)
            if (reply.kind is ReplyKind.TEXT and isinstance(reply.text, str) and reply.text)
            else None
        )
        if keyword is not None:
            reply = reply.model_copy(update={"kind": ReplyKind.OPT_OUT, "keyword": keyword})
        reached = await _hand_over(client, journeys, message, reply.kind, keyword)
        delivered += reached > 0
        outcome = "opt_out" if keyword else "reply"
        metrics.messages.labels(outcome if reached else "unknown_sender").inc()
    return delivered


async def _hand_over(
    client: Client,
    journeys: list[str],
    message: InboundMessage,
    kind: ReplyKind,
    keyword: str | None,
) -> int:
    """Give the message to the phone's journeys, newest first: an opt-out to each (the
    newest confirms it), a message quoting one of ours to each (the one that sent it
    takes it), and any other to the newest alone. How many journeys got it."""
    reached = 0
    for index, journey_id in enumerate(journeys):
        taker = index == 0
        if not taker and kind is not ReplyKind.OPT_OUT and message.reply.in_reply_to is None:
            break
        reply = message.reply.model_copy(update={"taker": taker, "kind": kind, "keyword": keyword})
        reply = await _sealed(client, journey_id, reply)
        handle = client.get_workflow_handle_for(OrderJourney.run, journey_id)
        reached += await _signalled(
            handle.signal(OrderJourney.customer_reply, reply, rpc_timeout=RPC_TIMEOUT)
        )
    return reached


async def _sealed(client: Client, journey_id: str, reply: CustomerReply) -> CustomerReply:
    """The reply with the customer's words sealed under the journey's customer's key,
    so that forgetting them forgets what they wrote. A lone rating digit stays plain:
    the journey reads it, and it says nothing about anyone."""
    vault, text = vault_of(client), reply.text
    if vault is None or not isinstance(text, str) or rating_digit(text) is not None:
        return reply
    return reply.model_copy(update={"text": await vault.seal_comment(journey_id, text)})


async def _journeys_of(client: Client, store_id: str, hashed: str) -> list[str]:
    """The store's running journeys for the phone with this hash, newest first."""
    query = (
        f'WorkflowType="OrderJourney" AND ExecutionStatus="Running" '
        f'AND {STORE_ID.name}="{store_id}" AND {CUSTOMER_PHONE_HASH.name}="{hashed}"'
    )
    found = [
        (execution.start_time, execution.id)
        async for execution in client.list_workflows(
            query, limit=MAX_JOURNEYS_PER_PHONE, rpc_timeout=RPC_TIMEOUT
        )
    ]
    found.sort(
        key=lambda pair: (pair[0] or datetime.min.replace(tzinfo=UTC), pair[1]), reverse=True
    )
    return [journey_id for _, journey_id in found]


async def _signalled(signalling: Awaitable[None]) -> bool:
    """The signal reached its journey; False when the journey has ended (or never was).
    Any other failure of Temporal goes up: the webhook answers 503."""
    try:
        await signalling
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
