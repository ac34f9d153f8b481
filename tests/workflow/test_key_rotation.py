"""Rotating the payload key: a journey started under the old key finishes under the new
one, once the worker lists the new key first and keeps the old one to decrypt."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities
from customer_data import KeyRing, protect
from customer_data.codec import KEY_ID
from models import JourneyProgress, JourneyStatus, StepStatus
from runtime.connection import data_converter
from starter import start_journey
from tests import builders
from tests.clock import advance_to
from tests.fake_whatsapp import FakeWhatsApp
from tests.journeys import running_worker
from tests.protection import KEYS, key_store_path
from tests.providers import WHATSAPP_TEMPLATES

OLD_KEY, NEW_KEY = "test-1", "test-2"


@pytest.fixture
def activities(provider_activities: JourneyActivities) -> JourneyActivities:
    return provider_activities


def rotated_client(env: WorkflowEnvironment) -> Client:
    """The same server, seen by a worker configured `test-2,test-1`."""
    ring = KeyRing.parse(f"{KEYS[1]},{KEYS[0]}", "rotated")
    converter = data_converter(protect(ring, str(key_store_path())))
    config = env.client.config()
    config["data_converter"] = converter
    return Client(**config)


async def test_a_journey_started_under_key_1_finishes_under_key_2(
    time_skipping_env: WorkflowEnvironment,
    activities: JourneyActivities,
    whatsapp: FakeWhatsApp,
) -> None:
    env = time_skipping_env
    # Delivered at 10:00 in São Paulo, reported at noon, under the old key alone.
    reported = await advance_to(env, "12:00")
    order = builders.order(reported - timedelta(hours=2))
    store = builders.settings(whatsapp_templates=WHATSAPP_TEMPLATES, feedback_reminder_after=None)
    worker_client = rotated_client(env)
    async with running_worker(worker_client, activities) as task_queue:
        started = await start_journey(env.client, order, store, task_queue=task_queue, now=reported)
        await env.sleep(timedelta(days=40))  # the default plan ends within a month
        # Read by the rotated side: the result is encrypted under the new key.
        handle = worker_client.get_workflow_handle(started.journey_id, result_type=JourneyProgress)
        progress = await handle.result()

    assert progress.status is JourneyStatus.COMPLETED
    assert [s.status for s in progress.steps] == [StepStatus.SENT] * 5
    # The worker opened the customer's data sealed at the start.
    assert {m.to for m in whatsapp.sent} == {"5511987654321"}
    assert whatsapp.sent[0].parameters[0] == "Ana"
    history = await worker_client.get_workflow_handle(started.journey_id).fetch_history()
    keys: dict[str, set[str]] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            payloads = event.workflow_execution_started_event_attributes.input.payloads
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            payloads = event.activity_task_scheduled_event_attributes.input.payloads
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            payloads = event.workflow_execution_completed_event_attributes.result.payloads
        else:
            continue
        name = EventType.Name(event.event_type)
        keys.setdefault(name, set()).update(p.metadata[KEY_ID].decode() for p in payloads)
    assert keys == {
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED": {OLD_KEY},
        "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED": {NEW_KEY},
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED": {NEW_KEY},
    }
