"""The key store on PostgreSQL, as a real deployment runs it: a real server on loopback,
the same contract as the embedded SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from customer_data import KeyRing, ProtectionError, protect
from customer_data.keys import new_key_line
from customer_data.vault import CustomerErased
from models.order import DeliveredOrder
from tests import builders
from tests.postgres import postgres_server

K1 = new_key_line("k1")
K2 = new_key_line("k2")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def order(order_id: str, **customer: str) -> DeliveredOrder:
    return DeliveredOrder.model_validate(builders.order(order_id=order_id, customer=customer))


async def test_sealing_and_erasure_work_on_postgres(postgres_url: str) -> None:
    vault = protect(KeyRing.parse(K1, "test"), postgres_url).vault
    ana = await vault.seal_order(order("PG-1", id="C-ana"), "j-pg-1")
    bruno = await vault.seal_order(
        order("PG-2", id="C-bruno", name="Bruno Lima", email="bruno@example.com"), "j-pg-2"
    )
    # A second process (the web service, say) opens what the worker sealed.
    other_process = protect(KeyRing.parse(K1, "test"), postgres_url).vault
    assert (await other_process.unseal_order(ana)).customer.plain("name") == "Ana Souza"

    erasure = await other_process.forget("loja-1", customer_id="C-ana")

    assert (erasure.keys_deleted, erasure.journey_ids) == (1, ["j-pg-1"])
    with pytest.raises(CustomerErased):
        await vault.unseal_order(ana)
    assert (await vault.unseal_order(bruno)).customer.plain("name") == "Bruno Lima"


async def test_two_processes_sealing_one_customer_share_one_key(postgres_url: str) -> None:
    first = protect(KeyRing.parse(K1, "test"), postgres_url).vault
    second = protect(KeyRing.parse(K1, "test"), postgres_url).vault
    a, b = await asyncio.gather(
        first.seal_order(order("PG-3", id="C-carla"), "j-pg-3"),
        second.seal_order(order("PG-4", id="C-carla"), "j-pg-4"),
    )
    assert a.customer.name.key_id == b.customer.name.key_id  # type: ignore[union-attr]
    assert (await first.forget("loja-1", customer_id="C-carla")).journey_ids == [
        "j-pg-3",
        "j-pg-4",
    ]


def test_a_wrong_key_for_a_postgres_store_is_refused_at_start(postgres_url: str) -> None:
    protect(KeyRing.parse(K1, "test"), postgres_url)
    with pytest.raises(ProtectionError, match="'k1' is not the key of that id"):
        protect(KeyRing.parse("k1:" + K2.split(":")[1], "test"), postgres_url)


def test_an_unreachable_postgres_is_named_without_its_password() -> None:
    url = "postgresql://journey:s3cret@127.0.0.1:1/keys"
    with pytest.raises(ProtectionError) as refused:
        protect(KeyRing.parse(K1, "test"), url)
    message = str(refused.value)
    assert "JOURNEY_KEY_STORE" in message and "127.0.0.1:1" in message
    assert "s3cret" not in message
