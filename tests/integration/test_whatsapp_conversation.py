"""Customers answer on WhatsApp, end to end: the dev server with the search
attributes, the worker and the web service each as their own process, and a fake Meta
on loopback that takes the worker's Cloud API sends and POSTs signed webhooks to the
service. A customer's message finds their journeys by the keyed hash of their phone.

The dev server's clock cannot be moved, so each journey derives its moment from the
one it got: the customer lives in the fixed-offset zone where it is now 12:xx, and the
order was delivered a day ago, so the first message is due at once, in the window.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models import JourneyProgress, StepStatus
from models.conversation import ReplyKind, ReplyUse
from models.sealed import Sealed
from models.search import CUSTOMER_PHONE_HASH
from operators.status import journey_status
from tests import builders, fake_email, fake_whatsapp, web_service
from tests.conftest import FEEDBACK_SECRET
from tests.fake_email import FakeEmail
from tests.fake_meta import APP_SECRET, VERIFY_TOKEN, FakeMeta, message_payload
from tests.processes import ROOT, WorkerProcess, free_port, wait_until
from tests.protection import revealed
from tests.providers import APPROVED, UNSUBSCRIBE_URL, WHATSAPP_TEMPLATES
from tests.web_service import post_signed, running_service
from whatsapp.phones import phone_hash
from workflows import OrderJourney

STORE_ID = "loja-whats"
STORE_SECRET = "store-secret-for-the-whatsapp-tests-0123"
PHONE_SECRET = "phone-hash-secret-0123456789"
CUSTOMER = "+5511987654321"
# The customer's WhatsApp account predates Brazil's ninth digit: Meta reports it so.
WA_ID = "551187654321"


def zone_where_it_is_noon(now: datetime) -> str:
    """A fixed-offset IANA zone whose local hour is 12 at `now` (Etc/GMT signs are
    inverted: Etc/GMT-3 is three hours ahead of UTC)."""
    ahead = 12 - now.hour  # from -11 to 12
    return "Etc/GMT" if ahead == 0 else f"Etc/GMT{-ahead:+d}"


@dataclass
class Deployment:
    env: WorkflowEnvironment
    meta: FakeMeta
    email: FakeEmail
    http: httpx.AsyncClient
    url: str
    alerts: Path
    logs: list[Path]
    now: datetime

    async def start(self, order_id: str) -> WorkflowHandle[OrderJourney, JourneyProgress]:
        """A journey through the store API: delivered a day ago, its thanks due now."""
        order = builders.placed_order(
            store_id=STORE_ID,
            order_id=order_id,
            customer={"timezone": zone_where_it_is_noon(self.now), "phone": CUSTOMER},
        )
        event = builders.event("delivered", self.now - timedelta(days=1, minutes=1))
        answer = await post_signed(
            self.http,
            f"{self.url}/v1/stores/{STORE_ID}/events",
            {"order": order, "event": event},
            STORE_SECRET.encode(),
        )
        assert answer.status_code == 202, answer.text
        handle = self.env.client.get_workflow_handle_for(
            OrderJourney.run, answer.json()["journey_id"]
        )
        hashed = phone_hash(CUSTOMER, PHONE_SECRET.encode())
        query = f'{CUSTOMER_PHONE_HASH.name}="{hashed}" AND WorkflowId="{handle.id}"'

        async def findable() -> bool:  # visibility lags the start by a moment
            return [w.id async for w in self.env.client.list_workflows(query)] == [handle.id]

        await wait_until(findable, 30, "the journey findable by its phone hash", 0.2)
        return handle

    async def says(self, text: str, message_id: str, quoting: str | None = None) -> httpx.Response:
        at = datetime.now(UTC).replace(microsecond=0)
        return await self.meta.customer_says(self.http, WA_ID, text, at, message_id, quoting)

    def store_alerts(self) -> list[dict[str, Any]]:
        if not self.alerts.exists():
            return []
        return [json.loads(line) for line in self.alerts.read_text("utf-8").splitlines()]

    async def metric(self, name: str) -> str:
        text = (await self.http.get(f"{self.url}/metrics")).text
        return "\n".join(line for line in text.splitlines() if line.startswith(name))


def store_file(directory: Path, **settings: Any) -> Path:
    directory.mkdir()
    document = {
        "store_id": STORE_ID,
        "api_secret": STORE_SECRET,
        "settings": builders.settings(
            whatsapp_templates=WHATSAPP_TEMPLATES, fallback_channels=["email"], **settings
        ),
        "plan": {
            "steps": [
                {"id": "thanks", "template": "thanks"},
                # Right after the thanks, so the test can answer it in real time.
                {
                    "id": "feedback_request",
                    "kind": "feedback_request",
                    "purpose": "feedback",
                    "template": "feedback_request",
                    "wait": "PT0S",
                },
                {"id": "delivery_questions", "template": "delivery_questions", "wait": "P5D"},
            ]
        },
        "whatsapp": {"phone_number_id": fake_whatsapp.PHONE_NUMBER_ID},
    }
    (directory / f"{STORE_ID}.json").write_text(json.dumps(document), "utf-8")
    return directory


@pytest.fixture
async def deployment(indexed_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Deployment]:
    target = indexed_env.client.service_client.config.target_host
    task_queue = f"whatsapp-{os.getpid()}-{time.monotonic_ns()}"
    stores = store_file(tmp_path / "stores")
    port = free_port()
    web_log, alerts = tmp_path / "web.log", tmp_path / "alerts.jsonl"
    with (
        FakeMeta(templates=dict(APPROVED)).running() as meta,
        FakeEmail().running() as email,
    ):
        worker = WorkerProcess(
            target,
            task_queue,
            tmp_path / "worker.log",
            whatsapp_adapter="cloud_api",
            whatsapp_api_base=meta.base_url,
            whatsapp_api_version=fake_whatsapp.VERSION,
            whatsapp_phone_number_id=fake_whatsapp.PHONE_NUMBER_ID,
            whatsapp_token=fake_whatsapp.TOKEN,
            email_adapter="resend",
            email_api_base=email.base_url,
            email_api_key=fake_email.API_KEY,
            email_from="Loja Whats <pedidos@loja-whats.example>",
            unsubscribe_url=UNSUBSCRIBE_URL,
            unsubscribe_mailto="sair@loja-whats.example",
            outbox_path=str(tmp_path / "outbox.jsonl"),
            alerts_path=str(alerts),
        ).start()
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": target,
            "JOURNEY_STORES_DIR": str(stores),
            "JOURNEY_FEEDBACK_SECRET": FEEDBACK_SECRET,
            "JOURNEY_WEB_PORT": str(port),
            "JOURNEY_TASK_QUEUE": task_queue,
            "JOURNEY_SEARCH_ATTRIBUTES": "1",
            "JOURNEY_WHATSAPP_APP_SECRET": APP_SECRET,
            "JOURNEY_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "JOURNEY_PHONE_HASH_SECRET": PHONE_SECRET,
            "JOURNEY_LOG_FORMAT": "json",
        }
        with web_log.open("wb") as out:
            web = subprocess.Popen(
                [sys.executable, "-m", "web"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        meta.webhook_base = url
        try:
            async with httpx.AsyncClient(timeout=30) as http:

                async def ready() -> bool:
                    try:
                        return (await http.get(f"{url}/readyz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await wait_until(ready, 30, "the web service ready", 0.1)
                await wait_until(worker.ready, 30, "the worker ready", 0.1)
                yield Deployment(
                    indexed_env, meta, email, http, url, alerts,
                    [web_log, worker.log], datetime.now(UTC),
                )  # fmt: skip
        finally:
            web.terminate()
            await asyncio.to_thread(web.wait, 20)
            worker.stop()


def whatsapp_sent(meta: FakeMeta) -> list[tuple[str, str | None]]:
    return [(m.template or "text", m.reply_to) for m in meta.sent_copy()]


async def test_parar_opts_the_customer_out_with_one_confirmation_and_nothing_more_goes(
    deployment: Deployment,
) -> None:
    """Two orders of one customer, both journeys running: PARAR stops them both, and
    the newest alone confirms it."""
    d = deployment
    older = await d.start("PED-PARAR-1")
    await wait_until(lambda: len(d.meta.sent) == 2, 30, "the first journey's two messages")
    newer = await d.start("PED-PARAR-2")
    await wait_until(lambda: len(d.meta.sent) == 4, 30, "the second journey's two messages")

    answer = await d.says("  Parar ", "wamid.PARAR1")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"statuses": 0, "messages": 1}
    # Both end once opted out; the newer once it has confirmed.
    endings = await asyncio.wait_for(asyncio.gather(older.result(), newer.result()), 30)

    for progress in endings:
        assert progress.opted_out
        assert progress.stop_reason == "opted out: asked on WhatsApp (PARAR)"
        skipped = {s.step_id: s.reason for s in progress.steps if s.status is StepStatus.SKIPPED}
        assert skipped == {
            "feedback_reminder": "customer opted out",
            "delivery_questions": "customer opted out",
        }
        [said] = progress.replies
        assert (said.kind, said.keyword, said.taken_as) == (
            ReplyKind.OPT_OUT,
            "PARAR",
            ReplyUse.OPT_OUT,
        )
    assert whatsapp_sent(d.meta) == [
        ("pos_venda_obrigado", None),
        ("pos_venda_avaliacao", None),
        ("pos_venda_obrigado", None),
        ("pos_venda_avaliacao", None),
        ("text", "wamid.PARAR1"),  # the one confirmation, quoting the customer's message
    ]
    confirmation = d.meta.sent_copy()[-1]
    assert confirmation.to == "5511987654321" and confirmation.text is not None
    assert confirmation.text.startswith("Pronto, Ana.")
    assert confirmation.callback_data == f"pj1|{newer.id}|opt_out_confirmation|opt_out_confirmation"

    # Parar again, the same webhook again: the journeys have ended, nothing more goes.
    assert (await d.says("PARAR", "wamid.PARAR2")).status_code == 200
    again = await d.meta.post(d.http, _last_message_payload(d, "Parar", "wamid.PARAR1"))
    assert again.status_code == 200 and again.json() == {"statuses": 0, "messages": 0}
    assert len(d.meta.sent) == 5 and d.email.sent == []
    assert d.store_alerts() == []
    messages = await d.metric("journey_whatsapp_messages_total")
    assert 'outcome="opt_out"} 1.0' in messages and 'outcome="unknown_sender"} 2.0' in messages


def _last_message_payload(d: Deployment, text: str, message_id: str) -> dict[str, Any]:
    return message_payload(WA_ID, text, d.now, message_id)


async def test_a_free_text_reply_reaches_the_store_and_a_digit_to_the_request_is_the_rating(
    deployment: Deployment,
) -> None:
    d = deployment
    journey = await d.start("PED-RESPOSTA")
    await wait_until(lambda: len(d.meta.sent) == 2, 30, "the thanks and the feedback request")
    thanks, request = d.meta.sent_copy()

    complaint = "Chegou quebrado: a tampa da caneca veio rachada"
    answer = await d.says(complaint, "wamid.IN1", quoting=thanks.id)
    assert answer.status_code == 200 and answer.json() == {"statuses": 0, "messages": 1}
    # Meta delivers the same webhook again: still one alert.
    again = await d.meta.post(d.http, _quoting_payload(d, complaint, "wamid.IN1", thanks.id))
    assert again.status_code == 200
    await wait_until(lambda: len(d.store_alerts()) == 1, 30, "the reply at the store")
    [alert] = d.store_alerts()
    assert (alert["kind"], alert["order_id"]) == ("customer_reply", "PED-RESPOSTA")
    assert alert["reply"]["text"] == complaint and alert["reply"]["answers"] == "thanks"
    assert complaint in alert["text"] and 'resposta à mensagem "thanks"' in alert["text"]
    # The journey keeps the customer's words sealed under their key; operators read its
    # length, and the codec server reveals it to them.
    [kept] = (await journey.query(OrderJourney.progress)).replies
    assert isinstance(kept.text, Sealed) and complaint not in kept.model_dump_json()
    assert await revealed(kept.text) == complaint

    # "2", answering the feedback request: the rating, a low one.
    assert (await d.says("2", "wamid.IN2", quoting=request.id)).status_code == 200

    async def rated() -> bool:
        progress = await journey.query(OrderJourney.progress)
        return progress.facts.feedback is not None

    await wait_until(rated, 30, "the rating in the journey")
    await wait_until(lambda: len(d.store_alerts()) == 2, 30, "the low-rating alert")
    progress = await journey.query(OrderJourney.progress)
    assert progress.facts.feedback is not None and progress.facts.feedback.rating == 2
    assert [(r.answers, r.taken_as) for r in progress.replies] == [
        ("thanks", ReplyUse.ANSWER),
        ("feedback_request", ReplyUse.RATING),
    ]
    answered = {s.step_id: s.answered_at for s in progress.steps if s.answered_at}
    assert set(answered) == {"thanks", "feedback_request"}
    assert [a["kind"] for a in d.store_alerts()] == ["customer_reply", "low_rating"]
    status = await journey_status(d.env.client, journey.id)
    assert "Replies" in status and "to thanks" in status and complaint not in status

    # A number without a journey, and a message to a number no store has: dropped, counted.
    stranger = await d.meta.customer_says(d.http, "5521999990000", "oi", d.now, "wamid.IN3")
    assert stranger.status_code == 200 and stranger.json()["messages"] == 0
    elsewhere = message_payload(WA_ID, "oi", d.now, "wamid.IN4", phone_number_id="999")
    assert (await d.meta.post(d.http, elsewhere)).json()["messages"] == 0
    messages = await d.metric("journey_whatsapp_messages_total")
    # The webhook counts what Meta delivers: the complaint twice (the journey took it once).
    assert 'outcome="reply"} 3.0' in messages
    assert 'outcome="unknown_sender"} 1.0' in messages
    assert 'outcome="unknown_business_number"} 1.0' in messages
    # Neither the phone nor what the customer wrote is in a log line or a metric label.
    for log in d.logs:
        text = log.read_text(errors="replace")
        for secret in ("5511987654321", WA_ID, "tampa da caneca"):
            assert secret not in text, (log.name, secret)
    await journey.cancel()


def _quoting_payload(d: Deployment, text: str, message_id: str, quoting: str) -> dict[str, Any]:
    return message_payload(WA_ID, text, d.now, message_id, quoting)


async def test_the_store_api_indexes_the_phone_by_the_services_own_secret(
    indexed_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service in-process, its phone secret given in its settings and nowhere in the
    environment: a journey the store API starts is indexed by the keyed hash of the
    phone, never the number, and a message from the customer's older wa_id form finds it.
    No worker runs: the webhook's signal is accepted by Temporal all the same."""
    monkeypatch.delenv("JOURNEY_PHONE_HASH_SECRET", raising=False)
    client = indexed_env.client
    secrets = {
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "phone_hash_secret": PHONE_SECRET,
    }
    # Placed an hour before the dev server's now, whose clock cannot be moved.
    placed = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    order = builders.placed_order(store_id=web_service.STORE_ID, order_id="PED-INDICE")
    async with (
        running_service(client, search_attributes=True, **secrets) as url,
        httpx.AsyncClient(timeout=30) as http,
    ):
        answer = await post_signed(
            http,
            f"{url}/v1/stores/{web_service.STORE_ID}/events",
            {"order": order, "event": builders.event("placed", placed)},
        )
        assert answer.status_code == 202, answer.text
        journey = client.get_workflow_handle(answer.json()["journey_id"])
        attributes = (await journey.describe()).typed_search_attributes
        hashed = phone_hash(CUSTOMER, PHONE_SECRET.encode())
        assert attributes.get(CUSTOMER_PHONE_HASH) == hashed and hashed is not None
        assert all("987654321" not in str(pair.value) for pair in attributes)

        query = f'{CUSTOMER_PHONE_HASH.name}="{hashed}" AND WorkflowId="{journey.id}"'

        async def findable() -> bool:  # visibility lags the start by a moment
            return [w.id async for w in client.list_workflows(query)] == [journey.id]

        await wait_until(findable, 30, "the journey findable by its phone hash", 0.2)
        meta = FakeMeta(webhook_base=url)
        said = message_payload(WA_ID, "Oi, chegou?", placed + timedelta(minutes=30), "wamid.IDX1")
        reached = await meta.post(http, said)
        assert reached.status_code == 200 and reached.json() == {"statuses": 0, "messages": 1}
        await journey.terminate("test over")
