"""The store API over real HTTP: uvicorn on loopback, a real Temporal server behind it.
Signed requests start and steer journeys; every bad request gets its status and a
problem naming what is wrong, and starts nothing."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities
from messages.signatures import SIGNATURE_HEADER
from models import JourneyProgress
from tests import builders
from tests.clock import advance_to
from tests.journeys import running_worker
from tests.processes import wait_until
from tests.web_service import (
    ROOT,
    STORE_ID,
    STORE_SECRET,
    post_signed,
    running_service,
    signed_headers,
)

JOURNEY = f"post-purchase:{STORE_ID}:PED-1"


def order(order_id: str = "PED-1") -> dict[str, Any]:
    return builders.placed_order(store_id=STORE_ID, order_id=order_id)


def event(kind: str, at: datetime, event_id: str | None = None) -> dict[str, Any]:
    return builders.event(kind, at, event_id)


@pytest.fixture
async def service(
    time_skipping_env: WorkflowEnvironment, outbox_activities: JourneyActivities
) -> AsyncIterator[tuple[WorkflowEnvironment, str, datetime]]:
    """The service, a worker, and the moment the test starts: a Tuesday at 10:00. The
    API checks dates against the machine's clock, so events are stamped with it."""
    env = time_skipping_env
    await advance_to(env, "10:00")
    async with (
        running_worker(env.client, outbox_activities, task_queue="api") as task_queue,
        running_service(env.client, task_queue=task_queue) as url,
    ):
        yield env, url, datetime.now().astimezone()


async def exists(env: WorkflowEnvironment, workflow_id: str) -> bool:
    try:
        await env.client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def progress_of(env: WorkflowEnvironment, workflow_id: str) -> JourneyProgress:
    handle = env.client.get_workflow_handle(workflow_id)
    result: JourneyProgress = await handle.query("progress", result_type=JourneyProgress)
    return result


async def test_an_event_starts_the_journey_and_a_repeat_starts_nothing_more(service) -> None:
    env, url, now = service
    payload = {"order": order(), "event": event("placed", now)}
    async with httpx.AsyncClient() as http:
        first = await post_signed(http, f"{url}/v1/stores/{STORE_ID}/events", payload)
        again = await post_signed(http, f"{url}/v1/stores/{STORE_ID}/events", payload)
    assert first.status_code == 202, first.text
    assert first.json() == {"journey_id": JOURNEY, "started": True, "event": "placed:placed-1"}
    assert again.status_code == 202 and again.json()["started"] is False
    progress = await progress_of(env, JOURNEY)
    assert progress.events == ["placed:placed-1"]
    assert progress.ignored_events == ["placed:placed-1 (repeat)"]


async def test_feedback_and_opt_out_reach_the_journey(service) -> None:
    env, url, now = service
    events = f"{url}/v1/stores/{STORE_ID}/events"
    async with httpx.AsyncClient() as http:
        await post_signed(http, events, {"order": order(), "event": event("delivered", now)})
        rated = await post_signed(
            http, f"{url}/v1/stores/{STORE_ID}/orders/PED-1/feedback", {"rating": 4}
        )
        again = await post_signed(
            http, f"{url}/v1/stores/{STORE_ID}/orders/PED-1/feedback", {"rating": 5}
        )
        out = await post_signed(
            http, f"{url}/v1/stores/{STORE_ID}/orders/PED-1/opt-out", {"reason": "by phone"}
        )
    assert rated.status_code == 200 and rated.json()["answer"] == "feedback received"
    assert again.status_code == 409
    assert again.json()["detail"] == "feedback was already received"
    assert out.status_code == 200 and out.json()["answer"] == "opted out"
    progress = await progress_of(env, JOURNEY)
    assert progress.facts.feedback is not None and progress.facts.feedback.rating == 4
    assert progress.opted_out


async def test_an_event_for_an_ended_journey_is_a_conflict(service) -> None:
    env, url, now = service
    events = f"{url}/v1/stores/{STORE_ID}/events"
    async with httpx.AsyncClient() as http:
        await post_signed(http, events, {"order": order(), "event": event("cancelled", now)})
        await env.client.get_workflow_handle(JOURNEY).result()  # cancelled: it ends at once
        late = await post_signed(http, events, {"order": order(), "event": event("placed", now)})
    assert late.status_code == 409
    assert late.headers["content-type"] == "application/problem+json"
    assert late.json()["type"] == "/problems/journey-ended"


EVENTS = f"/v1/stores/{STORE_ID}/events"
FEEDBACK = f"/v1/stores/{STORE_ID}/orders/PED-1/feedback"
OPT_OUT = f"/v1/stores/{STORE_ID}/orders/PED-1/opt-out"


def event_body(now: datetime, **changes: Any) -> bytes:
    """A valid event for PED-1, with order and event fields (or extra keys) changed."""
    the_order, the_event = order(), event("placed", now)
    body: dict[str, Any] = {"order": the_order, "event": the_event}
    for key, value in changes.items():
        target = the_event if key in the_event else the_order if key in the_order else body
        target[key] = value
    return json.dumps(body).encode()


# (what, path, body given the moment, how the request is signed, status, field named)
BAD_REQUESTS: list[tuple[str, str, Any, dict[str, Any], int, str | None]] = [
    ("forged signature", EVENTS, event_body, {"signature": "sha256=" + "0" * 64}, 401, None),
    ("stale timestamp", EVENTS, event_body, {"at": -301}, 401, None),
    ("timestamp ahead", EVENTS, event_body, {"at": 400}, 401, None),
    ("no signature", EVENTS, event_body, {"unsigned": True}, 401, None),
    ("another store's secret", EVENTS, event_body, {"secret": b"x" * 40}, 401, None),
    ("unknown store", "/v1/stores/loja-nenhuma/events", event_body, {}, 404, None),
    (
        "items of the wrong type",
        EVENTS,
        lambda n: event_body(n, items="caneca"),
        {},
        422,
        "order.items",
    ),
    (
        "a naive date",
        EVENTS,
        lambda n: event_body(n, occurred_at="2026-03-10T14:30:00"),
        {},
        422,
        "event.occurred_at",
    ),
    (
        "a date at the end of the calendar",
        EVENTS,
        lambda n: event_body(n, occurred_at="9999-01-01T00:00:00Z"),
        {},
        422,
        "event.occurred_at",
    ),
    (
        "another store's order",
        EVENTS,
        lambda n: event_body(n, store_id="loja-outra"),
        {},
        422,
        "order.store_id",
    ),
    ("an unknown field", EVENTS, lambda n: event_body(n, surprise=1), {}, 422, "surprise"),
    ("invalid JSON", EVENTS, lambda n: b'{"order": ', {}, 422, "body"),
    ("not an object", EVENTS, lambda n: b"[1, 2]", {}, 422, "body"),
    ("a body over 64 KiB", EVENTS, lambda n: b" " * (64 * 1024 + 1), {}, 413, None),
    ("a rating of 0", FEEDBACK, lambda n: b'{"rating": 0}', {}, 422, "feedback.rating"),
    ("a rating of 6", FEEDBACK, lambda n: b'{"rating": 6}', {}, 422, "feedback.rating"),
    ("a rating in words", FEEDBACK, lambda n: b'{"rating": "five"}', {}, 422, "feedback.rating"),
    ("feedback without a rating", FEEDBACK, lambda n: b'{"comment": "bom"}', {}, 422, "rating"),
    ("feedback for no journey", FEEDBACK, lambda n: b'{"rating": 4}', {}, 404, None),
    (
        "a reason with a control character",
        OPT_OUT,
        lambda n: b'{"reason": "a\\u0000b"}',
        {},
        422,
        "reason",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "signing", "status", "field"),
    [pytest.param(p, b, g, s, f, id=what) for what, p, b, g, s, f in BAD_REQUESTS],
)
async def test_a_bad_request_gets_its_status_a_problem_naming_it_and_starts_nothing(
    service, path: str, body: Any, signing: dict[str, Any], status: int, field: str | None
) -> None:
    env, url, now = service
    content: bytes = body(now)
    at = datetime.now().timestamp() + signing.get("at", 0)
    headers = signed_headers(content, signing.get("secret", STORE_SECRET), at)
    if "signature" in signing:
        headers[SIGNATURE_HEADER] = signing["signature"]
    if signing.get("unsigned"):
        headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{url}{path}", content=content, headers=headers)

    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]], problem
    assert not await exists(env, JOURNEY)


async def test_two_hundred_posts_for_fifty_orders_start_fifty_journeys_each_event_once(
    service,
) -> None:
    env, url, now = service
    kinds = ["placed", "shipped", "delivered", "placed"]  # the last: a resend of the first
    posts = [(order_id, kind) for order_id in (f"PED-{n}" for n in range(50)) for kind in kinds]
    random.Random(7).shuffle(posts)
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        answers = await asyncio.gather(
            *(
                post_signed(
                    http,
                    f"{url}/v1/stores/{STORE_ID}/events",
                    {"order": order(order_id), "event": event(kind, now, f"{order_id}-{kind}")},
                )
                for order_id, kind in posts
            )
        )
    assert len(answers) == 200 and {a.status_code for a in answers} == {202}
    started = [a.json()["journey_id"] for a in answers if a.json()["started"]]
    assert sorted(started) == sorted(f"post-purchase:{STORE_ID}:PED-{n}" for n in range(50))
    for n in range(50):
        journey_id = f"post-purchase:{STORE_ID}:PED-{n}"
        progress = await progress_of(env, journey_id)
        applied = sorted(progress.events)
        assert applied == sorted(f"{k}:PED-{n}-{k}" for k in ("placed", "shipped", "delivered"))
        assert len(progress.ignored_events) == 1  # the resent `placed`
        handle = env.client.get_workflow_handle(journey_id)
        history = await handle.fetch_history()
        assert history.events[0].workflow_execution_started_event_attributes.attempt == 1


async def test_the_documented_shell_example_signs_and_posts_an_event(service) -> None:
    """examples/post_event.sh, as docs/store-integration.md shows it: jq, openssl, curl."""
    env, url, _ = service
    script = ROOT / "examples" / "post_event.sh"
    result = await asyncio.to_thread(
        subprocess.run,
        [str(script), "placed"],
        env={**os.environ, "JOURNEY_URL": url},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer == {
        "journey_id": "post-purchase:loja-exemplo:PED-1001",
        "started": True,
        "event": "placed:evt-1001-placed",
    }
    assert await exists(env, answer["journey_id"])


async def test_an_erasure_forgets_the_customer_and_stops_their_journey(service) -> None:
    env, url, now = service
    customer = {"id": "C-erase", "email": "erase.me@example.com", "phone": "+5511955554444"}
    started = {"order": dict(order(), customer={**order()["customer"], **customer})}
    erasures = f"{url}/v1/stores/{STORE_ID}/erasures"
    async with httpx.AsyncClient() as http:
        await post_signed(
            http, f"{url}/v1/stores/{STORE_ID}/events", {**started, "event": event("placed", now)}
        )
        nobody = await post_signed(http, erasures, {})
        forged = await http.post(
            erasures,
            content=json.dumps({"customer_id": "C-erase"}).encode(),
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: "t=1,v1=00"},
        )
        still_running = await progress_of(env, JOURNEY)
        erased = await post_signed(http, erasures, {"email": "Erase.Me@example.com"})
        handle = env.client.get_workflow_handle(JOURNEY, result_type=JourneyProgress)
        # A stopped journey stays a day to hear WhatsApp's statuses of its last message;
        # then the worker takes a moment to close it.
        await env.sleep(timedelta(days=2))

        async def completed() -> bool:
            return (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED

        await wait_until(completed, 30, "the erased journey to complete")
        result = await handle.result()
        again = await post_signed(http, erasures, {"customer_id": "C-erase"})

    assert nobody.status_code == 422
    assert nobody.headers["content-type"] == "application/problem+json"
    assert "name the customer" in nobody.text
    assert forged.status_code == 401
    assert not still_running.opted_out, "a refused request applies nothing"
    assert erased.status_code == 200, erased.text
    assert erased.json() == {
        "customers": 1,
        "keys_deleted": 1,
        "stopped": [JOURNEY],
        "ended": [],
        "unreached": [],
    }
    assert (again.json()["keys_deleted"], again.json()["ended"]) == (0, [JOURNEY])
    assert result.stop_reason == "customer data erased"
    assert result.customer["email"] == "e***@example.com"
