"""What operators do: find journeys by search attributes, read and steer them from the
command line, and preview a plan without sending anything."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities
from intake import PREVIEW_FEEDBACK_URL
from messages.rendering import Renderer, message_context
from models import DeliveredOrder, JourneySettings, default_plan
from models.journey import JourneyFacts
from models.search import CUSTOMER_ID, JOURNEY_STAGE, NEXT_ACTION_AT
from starter import SEARCH_ATTRIBUTES_ENV, report_event
from tests import builders
from tests.command_line import run, write
from tests.journeys import running_worker
from tests.processes import wait_until

# Delivered Tue 10 Mar 14:30 in São Paulo; wait 1 day; window 09:00–20:00.
EXPECTED_TIMES = {
    "thanks": "Wed 11 Mar 14:30 America/Sao_Paulo",
    "feedback_request": "Sat 14 Mar 14:30 America/Sao_Paulo",
    "photo_invite": "Wed 18 Mar 14:30 America/Sao_Paulo",
    "delivery_questions": "Mon 23 Mar 14:30 America/Sao_Paulo",
    "come_back_coupon": "Mon 30 Mar 14:30 America/Sao_Paulo",
}


def test_preview_shows_every_message_of_the_default_plan_at_its_send_time(
    tmp_path: Path,
) -> None:
    order = write(tmp_path / "order.json", builders.order())
    store = write(tmp_path / "store.json", builders.settings())
    # Nothing listens there: the preview must not contact Temporal.
    result = run(
        ["starter.py", "preview", str(order), "--settings", str(store)],
        {"TEMPORAL_ADDRESS": "127.0.0.1:9"},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout

    parsed = DeliveredOrder.model_validate(builders.order())
    settings = JourneySettings.model_validate(builders.settings())
    renderer = Renderer()
    facts = JourneyFacts(delivered_at=parsed.delivered_at)
    headings = [line for line in out.splitlines() if line[:2] in {f"{n}." for n in range(1, 6)}]
    assert len(headings) == len(default_plan().steps) == 5
    for n, step in enumerate(default_plan().steps, start=1):
        url = PREVIEW_FEEDBACK_URL if step.kind == "feedback_request" else None
        rendered = renderer.render(
            step.template, "pt-BR", message_context(parsed, settings, url, facts)
        )
        heading = headings[n - 1]
        assert heading.startswith(f"{n}. {step.id} · {EXPECTED_TIMES[step.id]} · ")
        assert heading.endswith("· by whatsapp")
        block = out.split(heading, 1)[1].split(f"\n{n + 1}. ", 1)[0]
        assert f"   Subject: {rendered.subject}\n" in block
        for line in rendered.text.splitlines():
            assert f"   | {line}".rstrip() in block
    assert out.count(PREVIEW_FEEDBACK_URL) == 2  # the header and the feedback request


def test_preview_refuses_bad_input_like_start(tmp_path: Path) -> None:
    order = write(tmp_path / "order.json", builders.order(delivered_at="2026-03-10T14:30:00"))
    store = write(tmp_path / "store.json", builders.settings())
    result = run(["starter.py", "preview", str(order), "--settings", str(store)])
    assert result.returncode == 2
    assert result.stderr.startswith("order.delivered_at: ")


async def _ids(client: Client, query: str) -> set[str]:
    return {execution.id async for execution in client.list_workflows(query)}


async def _find(client: Client, query: str, expected: set[str]) -> None:
    """Visibility is eventually consistent: poll until the query returns `expected`."""

    async def found() -> bool:
        return await _ids(client, query) == expected

    try:
        await wait_until(found, 20, f"journeys {sorted(expected)} for {query}", 0.2)
    except AssertionError:
        raise AssertionError(f"{query} gave {sorted(await _ids(client, query))}") from None


async def _cli(env: WorkflowEnvironment, *args: str) -> Any:
    target = {"TEMPORAL_ADDRESS": env.client.service_client.config.target_host}
    return await asyncio.to_thread(run, ["starter.py", *args], target)


async def test_operators_find_read_and_steer_journeys_by_search_attributes(
    indexed_env: WorkflowEnvironment,
    outbox_activities: JourneyActivities,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env, client = indexed_env, indexed_env.client
    now = datetime.now(UTC)
    async with running_worker(client, outbox_activities) as task_queue:

        async def report(
            order: dict[str, Any], kind: str, indexed: bool | None = True, **fields: Any
        ) -> None:
            await report_event(
                client,
                order,
                builders.event(kind, now, **fields),
                builders.settings(),
                task_queue=task_queue,
                search_attributes=indexed,
            )

        waiting = builders.placed_order(store_id="loja-a", order_id="A-1", customer={"id": "C-1"})
        late = builders.placed_order(
            store_id="loja-a",
            order_id="A-2",
            promised_delivery_by=(now - timedelta(days=3)).isoformat(),
        )
        opted = builders.placed_order(store_id="loja-b", order_id="B-1")
        await report(waiting, "delivered")
        await report(late, "placed")
        # Without the argument, the environment decides, as for starter.py.
        monkeypatch.setenv(SEARCH_ATTRIBUTES_ENV, "1")
        await report(opted, "delivered", indexed=None)

        base = 'WorkflowType = "OrderJourney"'
        await _find(
            client,
            f'{base} AND StoreId = "loja-a"',
            {"post-purchase:loja-a:A-1", "post-purchase:loja-a:A-2"},
        )
        await _find(client, f'{base} AND OrderId = "B-1"', {"post-purchase:loja-b:B-1"})
        await _find(client, f'{base} AND CustomerId = "C-1"', {"post-purchase:loja-a:A-1"})
        await _find(
            client, f'{base} AND JourneyStage = "delivery_late"', {"post-purchase:loja-a:A-2"}
        )
        # A-1's first message goes 1 to 2 days after delivery; A-2's next action is
        # the delivery check weeks away once its messages are out.
        soon, later = (now + timedelta(hours=20)).isoformat(), (now + timedelta(days=3)).isoformat()
        await _find(
            client,
            f'{base} AND StoreId = "loja-a" AND NextActionAt BETWEEN "{soon}" AND "{later}"',
            {"post-purchase:loja-a:A-1"},
        )

        handle = client.get_workflow_handle("post-purchase:loja-a:A-1")
        description = await handle.describe()
        progress = await handle.query("progress")
        assert description.typed_search_attributes.get(CUSTOMER_ID) == "C-1"
        assert description.typed_search_attributes.get(JOURNEY_STAGE) == "delivered"
        assert progress["next_step"] == "thanks"
        next_at = description.typed_search_attributes.get(NEXT_ACTION_AT)
        assert next_at == datetime.fromisoformat(progress["next_at"])

        listed = await _cli(env, "list", "--store", "loja-a")
        assert listed.returncode == 0, listed.stderr
        rows = listed.stdout.splitlines()
        assert rows[0].split()[:4] == ["WORKFLOW", "ID", "STATUS", "STAGE"]
        assert any(
            r.split()[:3] == ["post-purchase:loja-a:A-2", "running", "delivery_late"] for r in rows
        )
        assert any(
            r.split()[:3] == ["post-purchase:loja-a:A-1", "running", "delivered"] for r in rows
        )
        assert rows[-1] == "2 journeys"

        status = await _cli(env, "status", "loja-a", "A-1")
        assert status.returncode == 0, status.stderr
        assert "stage delivered" in status.stdout
        assert "Next      thanks at " in status.stdout
        assert "1 day after delivery, in the send window" in status.stdout
        # The customer, masked: contacts in full only through the codec server.
        assert "Customer  A*** S*** · a***@example.com · +55 11 9****-4321" in status.stdout
        assert "ana@example.com" not in status.stdout

        first = await _cli(env, "opt-out", "loja-b", "B-1", "--reason", "asked by phone")
        assert first.stdout.strip() == "opted out: post-purchase:loja-b:B-1", first.stderr
        again = await _cli(env, "opt-out", "loja-b", "B-1")
        assert again.stdout.strip() == "already opted out: post-purchase:loja-b:B-1", again.stderr
        await _find(client, f'{base} AND JourneyStage = "opted_out"', {"post-purchase:loja-b:B-1"})
        ended = await client.get_workflow_handle("post-purchase:loja-b:B-1").describe()
        assert ended.typed_search_attributes.get(NEXT_ACTION_AT) is None
        stopped = await _cli(env, "status", "post-purchase:loja-b:B-1")
        assert "Stopped   opted out: asked by phone" in stopped.stdout
        assert f"  {'thanks':<20} customer opted out" in stopped.stdout

        cancelled = await _cli(env, "cancel", "loja-a", "A-2")
        assert cancelled.returncode == 0, cancelled.stderr
        late_handle = client.get_workflow_handle("post-purchase:loja-a:A-2")

        async def is_cancelled() -> bool:
            return (await late_handle.describe()).status is WorkflowExecutionStatus.CANCELED

        await wait_until(is_cancelled, 30, "cancelled journey", 0.2)
        missing = await _cli(env, "status", "loja-a", "NOPE")
        assert missing.returncode == 4  # no such journey
        assert missing.stderr.strip() == "no journey post-purchase:loja-a:NOPE"


async def test_a_journey_starts_with_its_stage_and_next_action_and_upserts_only_changes(
    indexed_env: WorkflowEnvironment, outbox_activities: JourneyActivities
) -> None:
    """The starter sets JourneyStage and NextActionAt with the run (no upsert action),
    so a journey is found by stage at once; the run upserts when they change."""
    client = indexed_env.client
    delivered = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    async with running_worker(client, outbox_activities) as task_queue:
        result = await report_event(
            client,
            builders.placed_order(order_id="S-1"),
            builders.event("delivered", delivered),
            builders.settings(),
            task_queue=task_queue,
            search_attributes=True,
        )
        query = 'OrderId = "S-1" AND JourneyStage = "delivered" AND NextActionAt IS NOT NULL'
        await _find(client, query, {result.journey_id})

        async def first_task_done() -> bool:
            progress = await result.handle.query("progress")
            return bool(progress["next_step"])

        await wait_until(first_task_done, 20, "the journey's first workflow task", 0.1)
        progress = await result.handle.query("progress")
        description = await result.handle.describe()
        history = await result.handle.fetch_history()

    attributes = description.typed_search_attributes
    assert attributes.get(JOURNEY_STAGE) == "delivered"
    next_at = attributes.get(NEXT_ACTION_AT)
    assert next_at is not None
    assert next_at == datetime.fromisoformat(progress["next_at"])
    upserts = [
        e
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
        and "JourneyStage"
        in e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    ]
    assert upserts == []  # the first workflow task found what the starter had set
