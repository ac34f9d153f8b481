"""Bulk backfill from a JSON Lines file: what starts, what is skipped, what is reported,
and how first sends are spread."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities
from intake import validate_store
from intake.backfill import backfill, count_lines, jitter_offset, read_lines
from models import JourneyProgress, JourneyStatus
from models.journey import OrderJourneyInput
from starter import start_journey
from tests import builders
from tests.clock import advance_to
from tests.journeys import running_worker
from tests.protection import converter

ROOT = Path(__file__).resolve().parents[2]
SIX_HOURS = timedelta(hours=6)


def jsonl(*orders: dict[str, Any] | str) -> list[str]:
    return [o if isinstance(o, str) else json.dumps(o) for o in orders]


async def exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def started_input(client: Client, workflow_id: str) -> OrderJourneyInput:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    first = history.events[0]
    assert first.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    payloads = first.workflow_execution_started_event_attributes.input.payloads
    [journey] = await converter().decode(payloads, [OrderJourneyInput])
    assert isinstance(journey, OrderJourneyInput)
    return journey


def mixed_file(now: datetime) -> list[str]:
    delivered = now - timedelta(hours=3)
    return jsonl(
        builders.order(delivered, order_id="PED-1"),
        builders.order(delivered, order_id="PED-2"),
        builders.order(delivered, order_id="PED-3", customer={"phone": "123"}),
        "",
        builders.order(delivered, order_id="PED-1"),  # reported twice
        '{"store_id": "loja-1",',
        builders.order(delivered, order_id="PED-4"),  # started before the backfill
        builders.order(delivered, order_id="PED-5", customer={"locale": "es"}),
        builders.order(delivered, order_id="PED-6"),
    )


async def test_valid_new_orders_start_and_the_rest_is_counted_and_reported(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    client = time_skipping_env.client
    now = await advance_to(time_skipping_env, "12:00")
    lines = mixed_file(now)
    earlier = await start_journey(client, json.loads(lines[6]), builders.settings(), now=now)
    settings, plan = validate_store(builders.settings())

    summary = await backfill(client, lines, settings, plan, concurrency=3, now=now)

    assert (summary.started, summary.already_started, summary.invalid) == (3, 2, 3)
    assert summary.problems == [
        "line 3: order.customer.phone: '123' is not an E.164 number such as +5511987654321",
        "line 6: order: not valid JSON (column 23: Expecting property name enclosed in double "
        "quotes)",
        "line 8: order.customer.locale: Input should be 'pt-BR' or 'en'",
    ]
    for order_id in ("PED-1", "PED-2", "PED-6"):
        assert await exists(client, f"post-purchase:loja-1:{order_id}")
    for order_id in ("PED-3", "PED-5"):
        assert not await exists(client, f"post-purchase:loja-1:{order_id}")
    # The journey that existed before was left as it was, not started again.
    description = await earlier.handle.describe()
    assert description.run_id == earlier.handle.result_run_id


async def test_a_file_of_malformed_lines_reports_each_and_starts_the_rest(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    client = time_skipping_env.client
    now = await advance_to(time_skipping_env, "12:00")
    delivered = now - timedelta(hours=3)

    def line(order_id: str, **customer: Any) -> bytes:
        order = builders.order(delivered, order_id=order_id, customer=customer)
        return json.dumps(order).encode()

    orders = tmp_path / "orders.jsonl"
    orders.write_bytes(
        b"\n".join(
            [
                line("OK-1"),
                '{"store_id": "Jo\u00e3o"}'.encode("latin-1"),  # line 2: not UTF-8
                b'{"order_id": "' + b"x" * 70_000 + b'"}',  # line 3: over 64 KiB
                b"[" * 50 + b"]" * 50,  # line 4: nested too deep
                b'{"quantity": ' + b"9" * 5000 + b"}",  # line 5: a number of 5000 digits
                line("BAD-6", name="   "),  # line 6: a blank name
                line("BAD-7", timezone="America"),  # line 7: a folder of the tz database
                line("BAD-8", phone="+5511987654321\n"),  # line 8: a phone with a newline
                b"[1, 2]",  # line 9: not an object
                line("OK-2"),
            ]
        )
        + b"\n"
    )
    settings, plan = validate_store(builders.settings())

    summary = await backfill(client, read_lines(orders), settings, plan, now=now)

    assert (summary.started, summary.invalid) == (2, 8)
    assert [problem.split(":")[0:2] for problem in summary.problems] == [
        ["line 2", " order"],
        ["line 3", " order"],
        ["line 4", " order"],
        ["line 5", " order"],
        ["line 6", " order.customer.name"],
        ["line 7", " order.customer.timezone"],
        ["line 8", " order.customer.phone"],
        ["line 9", " order"],
    ]
    assert "not UTF-8" in summary.problems[0] and "larger than 64 KiB" in summary.problems[1]
    for order_id in ("OK-1", "OK-2"):
        assert await exists(client, f"post-purchase:loja-1:{order_id}")
    assert count_lines(orders) == 10


async def test_running_the_same_file_again_starts_nothing_new(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    client = time_skipping_env.client
    now = await advance_to(time_skipping_env, "12:00")
    lines = mixed_file(now)
    settings, plan = validate_store(builders.settings())
    first = await backfill(client, lines, settings, plan, concurrency=4, now=now)
    runs = {
        order_id: (
            await client.get_workflow_handle(f"post-purchase:loja-1:{order_id}").describe()
        ).run_id
        for order_id in ("PED-1", "PED-2", "PED-4", "PED-6")
    }

    again = await backfill(client, lines, settings, plan, concurrency=4, now=now)

    assert (first.started, first.already_started, first.invalid) == (4, 1, 3)
    assert (again.started, again.already_started, again.invalid) == (0, 5, 3)
    for order_id, run_id in runs.items():
        handle = client.get_workflow_handle(f"post-purchase:loja-1:{order_id}")
        assert (await handle.describe()).run_id == run_id


async def test_first_sends_are_spread_within_the_jitter_window(
    time_skipping_env: WorkflowEnvironment, outbox_activities: JourneyActivities
) -> None:
    env = time_skipping_env
    now = await advance_to(env, "12:00")
    # A window open all day, so the first send is exactly its due time plus the jitter.
    store = builders.settings(send_window={"start": "00:00", "end": "23:59:59.999999"})
    settings, plan = validate_store(store)
    recent = [builders.order(now - timedelta(hours=2), order_id=f"NEW-{n}") for n in range(15)]
    # Delivered a week ago: their first send was due days ago.
    old = [builders.order(now - timedelta(days=7), order_id=f"OLD-{n}") for n in range(15)]

    async with running_worker(env.client, outbox_activities) as task_queue:
        summary = await backfill(
            env.client,
            jsonl(*recent, *old),
            settings,
            plan,
            jitter_window=SIX_HOURS,
            task_queue=task_queue,
            now=now,
        )
        assert summary.started == 30
        next_sends: dict[str, datetime] = {}
        for order in recent + old:
            workflow_id = f"post-purchase:loja-1:{order['order_id']}"
            handle = env.client.get_workflow_handle(workflow_id)
            progress: JourneyProgress = await handle.query("progress", result_type=JourneyProgress)
            assert progress.status is JourneyStatus.WAITING
            assert progress.next_at is not None
            next_sends[workflow_id] = progress.next_at
            offset = jitter_offset(workflow_id, SIX_HOURS)
            assert timedelta(0) <= offset < SIX_HOURS
            journey = await started_input(env.client, workflow_id)
            due = datetime.fromisoformat(order["delivered_at"]) + timedelta(days=1)
            # Recent orders: the offset after their due time. Old ones: after now, as
            # the journey never sends in the past.
            expected = max(due, now) + offset
            assert journey.first_send_delay == offset
            if due >= now:
                assert progress.next_at == expected
            else:  # counted from when the journey started, a moment after `now`
                assert expected <= progress.next_at < expected + timedelta(minutes=1)

    offsets = [jitter_offset(workflow_id, SIX_HOURS) for workflow_id in next_sends]
    assert len(set(offsets)) == len(offsets)  # spread, not bunched on one second
    assert max(offsets) - min(offsets) > timedelta(hours=3)


async def test_the_command_line_reports_lines_and_a_summary(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    env = time_skipping_env
    # The command line checks dates against the machine's clock. No worker runs here,
    # so what the journeys would do at this hour is not what the test is about.
    now = datetime.now(UTC)
    orders = tmp_path / "orders.jsonl"
    orders.write_text("\n".join(mixed_file(now)) + "\n", encoding="utf-8")
    store = tmp_path / "store.json"
    store.write_text(json.dumps(builders.settings()), encoding="utf-8")
    command = [sys.executable, "starter.py", "backfill", str(orders), "--settings", str(store)]
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
    }

    result = await asyncio.to_thread(
        subprocess.run,
        [*command, "--concurrency", "2", "--jitter-window", "PT2H"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 5, result.stderr  # some lines were refused, the rest started
    assert result.stdout.startswith("started 4, already started 1, invalid 3 (8 orders")
    problems = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert [p.split(":")[0:2] for p in problems] == [
        ["line 3", " order.customer.phone"],
        ["line 6", " order"],
        ["line 8", " order.customer.locale"],
    ]


@pytest.mark.parametrize(
    ("flag", "value"), [("--concurrency", "0"), ("--jitter-window", "6 hours")]
)
def test_bad_flags_are_refused(tmp_path: Path, flag: str, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "starter.py", "backfill", "x.jsonl", "--settings", "s.json", flag, value],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert flag in result.stderr
