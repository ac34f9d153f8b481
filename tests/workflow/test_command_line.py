"""The starter and worker command lines, as a store backend's script or an operator
would run them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import WorkflowEnvironment

from models import TASK_QUEUE
from tests import builders
from tests.command_line import ROOT, run, write
from tests.conftest import FEEDBACK_SECRET


async def test_start_prints_the_workflow_id_and_its_web_ui_link(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    env = time_skipping_env
    # The command line checks dates against the machine's clock. No worker runs here,
    # so what the journey would do at this hour is not what the test is about.
    now = datetime.now(UTC)
    order = write(tmp_path / "order.json", builders.order(now - timedelta(hours=3)))
    store = write(tmp_path / "store.json", builders.settings())
    target = {"TEMPORAL_ADDRESS": env.client.service_client.config.target_host}

    result = await asyncio.to_thread(
        run, ["starter.py", "start", str(order), "--settings", str(store)], target
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "started: post-purchase:loja-1:PED-1",
        "Web UI: http://localhost:8233/namespaces/default/workflows/post-purchase%3Aloja-1%3APED-1",
    ]
    description = await env.client.get_workflow_handle("post-purchase:loja-1:PED-1").describe()
    assert description.task_queue == TASK_QUEUE

    again = await asyncio.to_thread(
        run, ["starter.py", "start", str(order), "--settings", str(store)], target
    )
    assert again.returncode == 0
    assert again.stdout.splitlines()[0] == "already exists: post-purchase:loja-1:PED-1"


def test_bad_input_exits_2_with_one_line_per_field(tmp_path: Path) -> None:
    order = builders.order(delivered_at="2026-03-10T14:30:00", customer={"phone": "123"})
    order_file = write(tmp_path / "order.json", order)
    store = write(tmp_path / "store.json", builders.settings(wait_after_delivery="P3D"))
    # No server is reachable here: validation must answer before any connection.
    result = run(
        ["starter.py", "start", str(order_file), "--settings", str(store)],
        {"TEMPORAL_ADDRESS": "127.0.0.1:9"},
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "order.customer.phone",
        "order.delivered_at",
        "settings.wait_after_delivery",
    ]
    assert result.stdout == ""


def test_unreadable_json_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "order.json"
    broken.write_text('{"store_id": "loja-1",', encoding="utf-8")
    store = write(tmp_path / "store.json", builders.settings())
    result = run(["starter.py", "start", str(broken), "--settings", str(store)])
    assert result.returncode == 2
    assert result.stderr == (
        f"order: {broken}: not valid JSON (column 23: Expecting property name enclosed in "
        "double quotes)\n"
    )


def test_the_example_files_are_valid(tmp_path: Path) -> None:
    from intake import load_json, validate_journey

    examples = ROOT / "examples"
    checked = validate_journey(
        load_json(examples / "order.json", "order"),
        load_json(examples / "store.json", "settings"),
        load_json(examples / "plan.json", "plan"),
        # The morning after the example order was delivered.
        now=datetime.fromisoformat("2026-03-11T10:00:00-03:00"),
    )
    assert checked.journey.order.customer.locale == "pt-BR"


def test_worker_refuses_to_start_with_incomplete_configuration() -> None:
    result = run(
        ["worker.py"],
        {"JOURNEY_ADAPTER": "webhook", "JOURNEY_FEEDBACK_SECRET": FEEDBACK_SECRET},
    )
    assert result.returncode == 2
    assert "JOURNEY_ADAPTER=webhook needs JOURNEY_WEBHOOK_URL and JOURNEY_WEBHOOK_SECRET" in (
        result.stderr
    )


def test_worker_needs_a_feedback_secret() -> None:
    env = {k: v for k, v in os.environ.items() if k != "JOURNEY_FEEDBACK_SECRET"}
    result = subprocess.run(
        [sys.executable, "worker.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.startswith("JOURNEY_FEEDBACK_SECRET: Field required")


@pytest.fixture(autouse=True)
def _no_stray_journey_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNEY_UI_URL", raising=False)


def test_worker_names_the_settings_a_chosen_provider_lacks() -> None:
    result = run(
        ["worker.py"],
        {
            "JOURNEY_FEEDBACK_SECRET": FEEDBACK_SECRET,
            "JOURNEY_WHATSAPP_ADAPTER": "cloud_api",
            "JOURNEY_WHATSAPP_PHONE_NUMBER_ID": "109876543210",
        },
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "JOURNEY_WHATSAPP_ADAPTER=cloud_api needs JOURNEY_WHATSAPP_TOKEN"
    ]


async def test_events_and_feedback_from_the_command_line(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    env = time_skipping_env
    # The command line checks dates against the machine's clock. No worker runs here,
    # so what the journey would do at this hour is not what the test is about.
    now = datetime.now(UTC)
    target = {"TEMPORAL_ADDRESS": env.client.service_client.config.target_host}
    order = write(tmp_path / "order.json", builders.order(now))
    store = write(tmp_path / "store.json", builders.settings())
    placed = write(tmp_path / "placed.json", builders.event("placed", now))
    delivered = write(tmp_path / "delivered.json", builders.event("delivered", now))

    def event(path: Path) -> subprocess.CompletedProcess[str]:
        return run(
            ["starter.py", "event", str(order), "--event", str(path), "--settings", str(store)],
            target,
        )

    first = await asyncio.to_thread(event, placed)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == "started: post-purchase:loja-1:PED-1 (placed:placed-1)"
    second = await asyncio.to_thread(event, delivered)
    assert second.stdout.splitlines()[0] == (
        "sent to: post-purchase:loja-1:PED-1 (delivered:delivered-1)"
    )

    # No worker runs here, so the journey cannot answer an update; a bad rating and an
    # unknown order are refused before that.
    unknown = await asyncio.to_thread(
        run, ["starter.py", "feedback", "loja-1", "PED-404", "--rating", "5"], target
    )
    assert unknown.returncode == 4  # no such journey
    assert unknown.stderr.strip() == "no journey for order PED-404 of store loja-1"

    bad = write(tmp_path / "bad.json", {**builders.event("shipped", now), "shipment": None})
    invalid = await asyncio.to_thread(event, bad)
    assert invalid.returncode == 2
    assert invalid.stderr.splitlines() == [
        "event: a shipped event needs its shipment (carrier, tracking code, URL)"
    ]


BAD_FILES: dict[str, bytes] = {
    "latin1.json": '{"store_id": "João"}'.encode("latin-1"),
    "deep.json": b"[" * 5000 + b"]" * 5000,
    "number.json": b'{"n": ' + b"7" * 4400 + b"}",
    "array.json": b"[]",
    "blank-name.json": json.dumps(builders.order(customer={"name": "  "})).encode(),
    "far-future.json": json.dumps(builders.order(delivered_at="9999-12-31T00:00:00Z")).encode(),
    "event-9999.json": json.dumps(
        builders.event("delivered", builders.VALIDATED_AT) | {"occurred_at": "9999-01-01T00:00:00Z"}
    ).encode(),
    "window-offset.json": json.dumps(
        builders.settings(send_window={"start": "09:00Z", "end": "20:00"})
    ).encode(),
}


@pytest.mark.parametrize(
    ("args", "first_field"),
    [
        (["start", "@latin1.json", "--settings", "@store.json"], "order"),
        (["start", "@deep.json", "--settings", "@store.json"], "order"),
        (["start", "@number.json", "--settings", "@store.json"], "order"),
        (["start", "@array.json", "--settings", "@store.json"], "order"),
        (["start", "@blank-name.json", "--settings", "@store.json"], "order.customer.name"),
        (["start", "@far-future.json", "--settings", "@store.json"], "order.delivered_at"),
        (["start", "@tmp", "--settings", "@store.json"], "order"),  # a directory
        (["start", "@missing.json", "--settings", "@store.json"], "order"),
        (["start", "@order.json", "--settings", "@store.json", "--speedup", "0"], "speedup"),
        (
            ["event", "@order.json", "--event", "@event-9999.json", "--settings", "@store.json"],
            "event.occurred_at",
        ),
        (
            ["event", "@order.json", "--event", "@array.json", "--settings", "@store.json"],
            "event",
        ),
        (
            ["preview", "@order.json", "--settings", "@window-offset.json"],
            "settings.send_window.start",
        ),
        (["backfill", "@order.json", "--settings", "@deep.json"], "settings"),
        (["feedback", "loja-1", "PED-1", "--rating", "0"], "feedback.rating"),
        (["feedback", "loja 1", "PED-1", "--rating", "4"], "store_id"),
        (
            ["feedback", "loja-1", "PED-1", "--rating", "4", "--comment", "a\x1b[2J"],
            "feedback.comment",
        ),
        (["status", "loja:1:PED-1"], "journey"),
        (["opt-out", "loja-1", "PED/1"], "order_id"),
    ],
)
def test_malformed_input_through_every_command_exits_2_with_lines_never_a_trace(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    first_field: str,
) -> None:
    from cli.main import main

    for name, content in BAD_FILES.items():
        (tmp_path / name).write_bytes(content)
    write(tmp_path / "order.json", builders.order(datetime.now(UTC) - timedelta(hours=3)))
    write(tmp_path / "store.json", builders.settings())
    files = {name: str(tmp_path / name) for name in [*BAD_FILES, "order.json", "store.json"]}
    files |= {"tmp": str(tmp_path), "missing.json": str(tmp_path / "missing.json")}
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")  # nothing listens: no start

    code = main([files.get(arg.removeprefix("@"), arg) for arg in args])

    out, err = capsys.readouterr()
    assert code == 2, err
    lines = err.splitlines()
    assert lines and lines[0].split(": ")[0] == first_field, lines
    assert "Traceback" not in out + err


def test_a_file_that_is_not_utf8_is_refused_by_the_process_without_a_trace(
    tmp_path: Path,
) -> None:
    order = tmp_path / "order.json"
    # "João" written in Latin-1, as an old export might: the ã is byte 0xE3.
    order.write_bytes(json.dumps(builders.order()).replace("Ana", "João").encode("latin-1"))
    store = write(tmp_path / "store.json", builders.settings())
    result = run(["starter.py", "start", str(order), "--settings", str(store)])
    assert result.returncode == 2
    position = order.read_bytes().index(b"\xe3") + 1
    assert result.stderr.splitlines() == [f"order: {order}: not UTF-8 text (byte {position})"]


def test_the_example_order_can_be_delivered_now_whatever_its_file_says() -> None:
    """The README's first commands work on any day: `--delivered-at now` stands in for
    the example file's fixed delivery time, which the edge would one day find too old."""
    before = datetime.now(UTC)
    result = run(
        [
            "starter.py",
            "preview",
            "examples/order.json",
            "--settings",
            "examples/store.json",
            "--delivered-at",
            "now",
        ]
    )
    after = datetime.now(UTC)
    assert result.returncode == 0, result.stderr
    days = {f"{m.astimezone(ZoneInfo('America/Sao_Paulo')):%a %d %b}" for m in (before, after)}
    first = result.stdout.splitlines()[0]
    prefix = "Journey of order PED-1001 of store loja-exemplo, delivered "
    assert first.startswith(prefix) and first.removeprefix(prefix)[:10] in days
