"""Record the workflow histories the replay test checks: `python -m tests.record_histories`.

Run it after a change that is meant to alter what new journeys do, with the next
version as its argument (`python -m tests.record_histories v3`), and commit the new
files next to the old ones: old files prove running journeys still replay, new ones pin
the new behaviour. Never edit or delete a history of a version that may still run.
v1 histories are of PostPurchaseJourney, the workflow type before OrderJourney.
`*-indexed-*` histories come from the dev server with the search attributes registered
(the time-skipping server has none), with journey time sped up instead of skipped; so do
the stops that race a send (from v5), which need real time: a held request, an HTTP
timeout, a retry's backoff. From v8 histories are encrypted, as in production, under the
fixed test keys of tests/protection.py, with contact data sealed.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities, WorkerConfig, build_activities
from journey.conversation import rating_digit
from models import JourneyProgress, search
from models.conversation import (
    CustomerReply,
    DeliveryStatus,
    FallbackScope,
    ReplyKind,
    StatusUpdate,
)
from models.sealed import Sealed
from starter import forget, report_event
from tests import builders
from tests.conftest import FEEDBACK_SECRET
from tests.harness import waiting_to_retry
from tests.journeys import Journey, running_worker
from tests.processes import wait_until
from tests.protection import converter, protection
from tests.provider_sink import Answer, ProviderSink
from workflows import OrderJourney

HISTORIES = Path(__file__).resolve().parent / "histories"
DAY = 86_400  # a speedup: a journey day per second
Scenario = Callable[[Journey], Awaitable[None]]


async def delivered(journey: Journey) -> None:
    await journey.report("delivered")


async def every_stage(journey: Journey) -> None:
    await journey.report("placed")
    await journey.wait(hours=30)
    await journey.report("shipped")
    await journey.wait(days=2)
    await journey.report("delivered")


async def late_delivery(journey: Journey) -> None:
    now = await journey.env.get_current_time()
    journey.order = builders.placed_order(
        promised_delivery_by=(now + timedelta(days=2)).isoformat()
    )
    await journey.report("placed")
    await journey.wait(days=5)
    await journey.report("delivered")


async def opted_out_while_waiting(journey: Journey) -> None:
    await journey.report("delivered")
    await journey.wait(days=2, hours=12)
    await journey.report("opted_out", reason="asked to stop")


async def returned_then_low_rating(journey: Journey) -> None:
    await journey.report("delivered")
    await journey.wait(days=2, hours=12)
    await journey.report("returned")
    await journey.feedback(2, "chegou quebrado")


async def feedback_after_the_request(journey: Journey) -> None:
    await journey.report("delivered")
    await journey.wait(days=5)  # the request went out; its reminder waits
    await journey.feedback(5, "adorei")


async def opted_out_while_a_send_retries(journey: Journey) -> None:
    await journey.report("delivered")
    await journey.wait(days=1, hours=3)
    await journey.report("opted_out", reason="asked to stop")


async def _progress(journey: Journey) -> JourneyProgress:
    assert journey.handle is not None
    return await journey.handle.query(OrderJourney.progress)


async def _status(journey: Journey, step: int, status: DeliveryStatus, **fields: object) -> None:
    """WhatsApp's status of the journey's `step`th message, as the webhook signals it."""
    sent = (await _progress(journey)).steps[step]
    assert journey.handle is not None and sent.message_id is not None, sent
    update = StatusUpdate.model_validate(
        {
            "status_id": f"{sent.message_id}:{status}",
            "message_id": sent.message_id,
            "step_id": sent.step_id,
            "template": sent.template,
            "status": status,
            "at": await journey.env.get_current_time(),
            **fields,
        }
    )
    await journey.handle.signal(OrderJourney.whatsapp_status, update)


async def _says(journey: Journey, message_id: str, text: str, **fields: object) -> None:
    """The customer's WhatsApp message, as the webhook signals it to the newest journey."""
    assert journey.handle is not None
    kept: str | Sealed = text
    if rating_digit(text) is None:  # sealed, as the web service seals it
        kept = await protection().vault.seal_comment(journey.handle.id, text)
    reply = CustomerReply.model_validate(
        {
            "message_id": message_id,
            "received_at": await journey.env.get_current_time(),
            "kind": ReplyKind.TEXT,
            "text": kept,
            "taker": True,
            **fields,
        }
    )
    await journey.handle.signal(OrderJourney.customer_reply, reply)


async def erased(journey: Journey) -> None:
    """The customer is forgotten after the thanks: their key goes, the journey stops."""
    await journey.report("delivered")
    await journey.wait(days=2)
    done = await forget(journey.env.client, "loja-1", email="ana@example.com")
    assert done.stopped == ["post-purchase:loja-1:PED-1"], done


async def whatsapp_statuses(journey: Journey) -> None:
    """Delivered and read; the journey then stays a day after its last message, whose
    own read status comes in that day."""
    await journey.report("delivered")
    await journey.wait(days=2)  # the thanks goes at most two days after delivery
    await _status(journey, 0, DeliveryStatus.DELIVERED)
    await _status(journey, 0, DeliveryStatus.READ)
    while (await _progress(journey)).steps[-1].step_id != "come_back_coupon":
        await journey.wait(hours=12)  # the plan's last message went less than a day ago
    last = len((await _progress(journey)).steps) - 1
    await _status(journey, last, DeliveryStatus.READ)


async def whatsapp_undeliverable(journey: Journey) -> None:
    """Delivered; then a failed status of the feedback request moves it, and every later
    message, to email."""
    journey.settings = builders.settings(fallback_channels=["email"])
    await journey.report("delivered")
    await journey.wait(days=2)
    await _status(journey, 0, DeliveryStatus.DELIVERED)
    await journey.wait(days=3)
    failed = {"error_code": 131026, "error": "131026 Message undeliverable",
              "error_type": "RecipientUnreachable", "fallback": FallbackScope.CHANNEL}  # fmt: skip
    await _status(journey, 1, DeliveryStatus.FAILED, **failed)
    await _status(journey, 1, DeliveryStatus.FAILED, **failed)  # a retry: applied once


async def whatsapp_reply_and_rating(journey: Journey) -> None:
    """A free-text answer to "how was it?", then a digit to the feedback request."""
    await journey.report("delivered")
    await journey.wait(days=2)
    await _says(journey, "wamid.IN1", "chegou quebrado")
    await journey.wait(days=3)
    await _says(journey, "wamid.IN2", "2")


async def whatsapp_opt_out(journey: Journey) -> None:
    """PARAR after the thanks: the journey stops and confirms once."""
    await journey.report("delivered")
    await journey.wait(days=2)
    await _says(journey, "wamid.IN1", "Parar", kind=ReplyKind.OPT_OUT, keyword="PARAR")
    await _says(journey, "wamid.IN2", "PARAR", kind=ReplyKind.OPT_OUT, keyword="PARAR")


async def _record(
    name: str, scenario: Scenario, activities: JourneyActivities, test_server: str
) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter(), test_server_existing_path=test_server
    )
    try:
        async with running_worker(env.client, activities) as task_queue:
            journey = Journey(env, task_queue)
            await scenario(journey)
            await journey.result()
            assert journey.handle is not None
            history = await journey.handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
        print(f"wrote tests/histories/{name}.json")
    finally:
        await env.shutdown()


Drive = Callable[[WorkflowHandle[Any, Any]], Awaitable[None]]


async def nothing(handle: WorkflowHandle[Any, Any]) -> None:
    return None


async def opt_out_now(handle: WorkflowHandle[Any, Any]) -> None:
    await handle.execute_update(OrderJourney.opt_out, "asked to stop")


async def request_held(sink: ProviderSink, handle: WorkflowHandle[Any, Any]) -> None:
    """Until the receiver holds the first message's request."""
    key = f"{handle.id}:thanks"
    await wait_until(lambda: key in sink.snapshot().attempts_per_key(), 30, "request")


async def send_waiting_to_retry(sink: ProviderSink, handle: WorkflowHandle[Any, Any]) -> None:
    """Until the first message's send waits for its second attempt."""
    await wait_until(lambda: waiting_to_retry(handle), 30, "send waiting to retry")


Moment = Callable[[ProviderSink, WorkflowHandle[Any, Any]], Awaitable[None]]


def at(moment: Moment, sink: ProviderSink, stop: Drive) -> Drive:
    """`stop` the journey at `moment` of its first send."""

    async def drive(handle: WorkflowHandle[Any, Any]) -> None:
        await moment(sink, handle)
        await stop(handle)

    return drive


async def cancel_now(handle: WorkflowHandle[Any, Any]) -> None:
    await handle.cancel()


async def _record_live(
    name: str,
    activities: JourneyActivities,
    temporal_cli: str,
    drive: Drive,
    *,
    speedup: int,
    indexed: bool = False,
) -> None:
    """A run on the dev server, in real time sped up by `speedup`, driven by `drive`.
    `indexed`: started with its search attributes, so it upserts JourneyStage and
    NextActionAt."""
    env = await WorkflowEnvironment.start_local(
        data_converter=converter(),
        dev_server_existing_path=temporal_cli,
        search_attributes=search.ALL if indexed else (),
    )
    try:
        async with running_worker(env.client, activities) as task_queue:
            result = await report_event(
                env.client,
                builders.placed_order(customer={"id": "C-1"}),
                builders.event("delivered", datetime.now(UTC)),
                builders.settings(),
                speedup=speedup,
                task_queue=task_queue,
                search_attributes=indexed,
            )
            await drive(result.handle)
            with contextlib.suppress(WorkflowFailureError):  # a cancelled run
                await result.handle.result()
            history = await result.handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
        print(f"wrote tests/histories/{name}.json")
    finally:
        await env.shutdown()


def webhook_activities(sink: ProviderSink, workdir: Path, **config: Any) -> JourneyActivities:
    return build_activities(
        WorkerConfig(
            feedback_secret=FEEDBACK_SECRET,
            adapter="webhook",
            webhook_url=sink.url,
            webhook_secret="hook-secret",
            alerts_path=workdir / "alerts.jsonl",
            **config,
        )
    )


async def main(version: str) -> None:
    test_server = shutil.which("temporal-test-server", path=str(Path(sys.executable).parent))
    assert test_server, "temporal-test-server is missing: run through python3 dev.py test first"
    temporal_cli = shutil.which("temporal", path=str(Path(sys.executable).parent))
    assert temporal_cli, "the temporal CLI is missing: run through python3 dev.py test first"
    HISTORIES.mkdir(exist_ok=True)
    with ProviderSink().running() as sink, tempfile.TemporaryDirectory() as workdir:
        activities = webhook_activities(sink, Path(workdir))
        for name, scenario in [
            ("order-delivered", delivered),
            ("order-every-stage", every_stage),
            ("order-late-delivery", late_delivery),
            ("order-opted-out", opted_out_while_waiting),
            ("order-returned-low-rating", returned_then_low_rating),
            ("order-feedback-after-request", feedback_after_the_request),
            ("order-whatsapp-statuses", whatsapp_statuses),
            ("order-whatsapp-undeliverable", whatsapp_undeliverable),
            ("order-whatsapp-reply-and-rating", whatsapp_reply_and_rating),
            ("order-whatsapp-opt-out", whatsapp_opt_out),
            ("order-erased", erased),
        ]:
            await _record(f"{version}-{name}", scenario, activities, test_server)
        # A day a second leaves time to opt out before the first send; twenty days a
        # second runs the whole plan in about a second.
        await _record_live(
            f"{version}-order-indexed",
            activities,
            temporal_cli,
            nothing,
            speedup=DAY * 20,
            indexed=True,
        )
        await _record_live(
            f"{version}-order-indexed-opted-out",
            activities,
            temporal_cli,
            opt_out_now,
            speedup=DAY,
            indexed=True,
        )
        sink.script(Answer(500), Answer(400, {"error": "rejected"}))
        await _record(f"{version}-order-retried-then-rejected", delivered, activities, test_server)
        sink.script(Answer(422, {"reason": "invalid_recipient"}))
        await _record(f"{version}-order-invalid-recipient", delivered, activities, test_server)
        sink.script(*[Answer(503)] * 50)
        await _record(
            f"{version}-order-opted-out-mid-send",
            opted_out_while_a_send_retries,
            activities,
            test_server,
        )
        await activities.aclose()
        await _record_races(version, temporal_cli, Path(workdir))


async def _record_races(version: str, temporal_cli: str, workdir: Path) -> None:
    """Stops racing a send, in real time, each with a receiver of its own: it holds the
    request 3 s and takes it; or takes it and answers after the worker's 1 s timeout."""
    held = Answer(200, delay=3, key_suffix=":thanks")
    late = Answer(200, delay=2.5, key_suffix=":thanks")
    for name, answer, timeout, moment, stop in [
        ("opted-out-during-a-held-request", held, 10, request_held, opt_out_now),
        ("cancelled-during-a-held-request", held, 10, request_held, cancel_now),
        ("opted-out-while-a-send-waits-to-retry", late, 1, send_waiting_to_retry, opt_out_now),
    ]:
        with ProviderSink().running() as sink:
            sink.script(answer)
            racing = webhook_activities(sink, workdir, http_timeout_seconds=timeout)
            drive = at(moment, sink, stop)
            await _record_live(
                f"{version}-order-{name}", racing, temporal_cli, drive, speedup=DAY * 4
            )
            await racing.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "v2"))
