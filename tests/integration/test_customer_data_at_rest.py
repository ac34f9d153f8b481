"""Customer data on a real deployment (tests/harness.py): the dev server on a SQLite
file, the worker as a process, the command line as an operator runs it. What the
server stores holds no customer's contact data, and forgetting a customer makes theirs
unreadable in their histories, stops their journeys, and leaves everyone else's."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client

from customer_data.codec import ENCODING
from journey import stops
from models import JourneyStatus
from models.sealed import ERASED
from starter import JourneyStarted, start_journey
from tests import builders
from tests.command_line import run
from tests.harness import Harness
from tests.processes import wait_until
from tests.protection import protection
from tests.web_process import stored_input

# Accents and a plus sign, so every encoding of them differs from plain ASCII.
QUITERIA = {
    "id": "C-quiteria",
    "name": "Quitéria Conceição",
    "email": "quiteria.conceicao@exemplo.com.br",
    "phone": "+5571998765432",
}
ROBERTO = {
    "id": "C-roberto",
    "name": "Roberto Araújo",
    "email": "roberto.araujo@exemplo.com.br",
    "phone": "+5531991234567",
}
# Long waits between messages: the journeys are still running when the test acts.
SLOW_PLAN = {
    "steps": [
        {"id": "thanks", "template": "thanks"},
        {"id": "questions", "template": "delivery_questions", "wait": "P2D"},
        {"id": "coupon", "template": "come_back_coupon", "wait": "P2D"},
    ]
}
A_DAY_IN_8_SECONDS = 86_400 // 8


def encodings(text: str) -> dict[str, bytes]:
    """Every form of `text` a store of payloads could hold it in."""
    forms = {
        "utf-8": text.encode(),
        "json-escaped": json.dumps(text)[1:-1].encode(),
        "utf-16-le": text.encode("utf-16-le"),
    }
    # base64 of JSON that contains the text: its encoding depends on where the text
    # starts modulo 3, so try all three alignments, and skip the edges it shares with
    # what surrounds it.
    for shift in range(3):
        for name, plain in (("utf-8", text.encode()), ("json", json.dumps(text).encode())):
            encoded = base64.b64encode(b"x" * shift + plain)
            forms[f"base64 {name} +{shift}"] = encoded[4:-4]
    return forms


async def start(harness: Harness, order_id: str, customer: dict[str, Any]) -> JourneyStarted:
    """An order delivered an hour ago; a journey day passes in 8 s, so the first message
    leaves within about 15 s, and each later one 16 s after the one before."""
    delivered = datetime.now(UTC) - timedelta(hours=1)
    return await start_journey(
        harness.client,
        builders.order(delivered, order_id=order_id, customer=customer),
        builders.settings(),
        SLOW_PLAN,
        speedup=A_DAY_IN_8_SECONDS,
        task_queue=harness.task_queue,
    )


async def input_of(client: Client, journey_id: str) -> dict[str, Any]:
    """The journey's start input as the codec decodes it: JSON, sealed values intact."""
    raw = await stored_input(client, journey_id)
    assert raw.metadata["encoding"] == ENCODING, "the stored input is encrypted"
    [plain] = await protection().codec.decode([raw])
    document: dict[str, Any] = json.loads(plain.data)
    return document


async def test_the_servers_database_holds_no_contact_data(harness: Harness) -> None:
    harness.worker()
    journey = await start(harness, "PED-AT-REST", QUITERIA)
    # The first message went out, so activity inputs and results are in the history.
    await wait_until(lambda: harness.delivered_at_least(1), 60, "the first message")
    await journey.handle.cancel()
    await asyncio.to_thread(harness.server.stop)

    stored = b"".join(path.read_bytes() for path in sorted(harness.workdir.glob("temporal.db*")))
    # The scan reads the journey's own records: its id is stored as is.
    assert journey.journey_id.encode() in stored
    for field, value in QUITERIA.items():
        if field == "id":
            continue  # the store's customer id is a pseudonym, not contact data
        words = [value] + (value.split() if field == "name" else [value.removeprefix("+")])
        for word in words:
            found = [form for form, data in encodings(word).items() if data in stored]
            assert found == [], f"{field} {word!r} is in the database as {found}"


async def test_forgetting_a_customer_erases_theirs_and_stops_their_journey(
    harness: Harness,
) -> None:
    harness.worker()
    quiteria = await start(harness, "PED-FORGET-1", QUITERIA)
    roberto = await start(harness, "PED-FORGET-2", ROBERTO)
    await wait_until(lambda: harness.delivered_at_least(2), 60, "both first messages")
    before = await input_of(harness.client, quiteria.journey_id)
    assert (await protection().vault.reveal(before))["order"]["customer"]["name"] == QUITERIA[
        "name"
    ]

    forgotten = await asyncio.to_thread(
        run,
        ["starter.py", "forget", "--store", "loja-1", "--email", QUITERIA["email"]],
        {"TEMPORAL_ADDRESS": harness.server.target},
    )

    assert forgotten.returncode == 0, forgotten.stderr
    assert "erased: 1 data key(s) of 1 customer(s) deleted" in forgotten.stdout
    assert f"stopped: {quiteria.journey_id}" in forgotten.stdout
    async with asyncio.timeout(30):
        stopped = await quiteria.handle.result()
    assert stopped.status is JourneyStatus.STOPPED
    assert stopped.stop_reason == stops.ERASED
    assert [s.step_id for s in stopped.steps if s.status == "sent"] == ["thanks"]
    # Her history, decoded as an operator decodes it, shows the placeholder.
    revealed = await protection().vault.reveal(await input_of(harness.client, quiteria.journey_id))
    assert {revealed["order"]["customer"][f] for f in ("name", "email", "phone")} == {ERASED}
    # Roberto's journey goes on, and his data still opens.
    async with asyncio.timeout(90):
        finished = await roberto.handle.result()
    assert finished.status is JourneyStatus.COMPLETED
    assert [s.status for s in finished.steps] == ["sent"] * 3
    his = await protection().vault.reveal(await input_of(harness.client, roberto.journey_id))
    assert his["order"]["customer"]["name"] == ROBERTO["name"]
    # Nothing more reached the provider for Quitéria after her first message.
    sent_to_her = [
        d
        for d in (await harness.sink.records()).deliveries
        if d.key.startswith(quiteria.journey_id)
    ]
    assert len(sent_to_her) == 1


async def test_forgetting_twice_is_harmless(harness: Harness) -> None:
    harness.worker()
    journey = await start(harness, "PED-FORGET-3", dict(QUITERIA, id="C-twice"))
    await wait_until(lambda: harness.delivered_at_least(1), 60, "the first message")
    env = {"TEMPORAL_ADDRESS": harness.server.target}
    args = ["starter.py", "forget", "--store", "loja-1", "--customer", "C-twice"]
    first = await asyncio.to_thread(run, args, env)
    again = await asyncio.to_thread(run, args, env)
    assert first.returncode == again.returncode == 0, (first.stderr, again.stderr)
    assert "erased: 1 data key(s)" in first.stdout
    assert "erased: 0 data key(s) of 1 customer(s) deleted" in again.stdout
    assert f"had ended: {journey.journey_id}" in again.stdout
