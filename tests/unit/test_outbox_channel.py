"""The outbox channel writes each message once, even when asked twice."""

import asyncio
import contextlib
import fcntl
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from activities.channels import OutboxAdapter
from activities.channels.base import ABSENT
from models import Channel, Receipt
from tests.messages import lines, message


async def test_each_message_becomes_one_json_line(tmp_path: Path) -> None:
    outbox = tmp_path / "nested" / "outbox.jsonl"
    receipt = await OutboxAdapter(outbox).deliver(message())
    [line] = lines(outbox)
    assert line["idempotency_key"] == receipt.idempotency_key
    assert line["id"] == receipt.message_id
    assert line["text"] == "Oi, Ana!" and line["to"] == "+5511987654321"
    assert not receipt.duplicate


async def test_a_repeated_key_is_acknowledged_without_a_second_line(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    first = await OutboxAdapter(outbox).deliver(message())
    # Another process (a restarted worker) that has never seen the key.
    again = await OutboxAdapter(outbox).deliver(message())
    other = await OutboxAdapter(outbox).deliver(message("post-purchase:loja-1:PED-1:coupon"))
    assert again.duplicate and again.message_id == first.message_id
    assert not other.duplicate
    assert [line["step_id"] for line in lines(outbox)] == ["thanks", "coupon"]


async def test_concurrent_writers_never_duplicate_a_key(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    adapters = [OutboxAdapter(outbox) for _ in range(4)]
    keys = [f"post-purchase:loja-1:PED-1:step{n}" for n in range(10)]
    await asyncio.gather(*(a.deliver(message(k)) for a in adapters for k in keys))
    assert sorted(str(line["idempotency_key"]) for line in lines(outbox)) == sorted(keys)


async def test_a_line_cut_off_by_a_killed_writer_is_dropped_and_resent(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    await OutboxAdapter(outbox).deliver(message())
    with outbox.open("a", encoding="utf-8") as f:
        f.write('{"idempotency_key": "post-purchase:loja-1:PED-1:coupon", "mess')
    await OutboxAdapter(outbox).deliver(message("post-purchase:loja-1:PED-1:coupon"))
    assert [line["step_id"] for line in lines(outbox)] == ["thanks", "coupon"]


@contextlib.asynccontextmanager
async def waiting_on_another_process(
    outbox: Path, adapter: OutboxAdapter
) -> AsyncIterator[tuple[IO[str], asyncio.Task[Receipt]]]:
    """A second send, started while another open file (as another process would)
    holds the outbox's lock; it yields that file, still locked, and the send."""
    await adapter.deliver(message())
    with outbox.open("a", encoding="utf-8") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        sending = asyncio.create_task(adapter.deliver(message("post-purchase:loja-1:PED-1:coupon")))
        await asyncio.sleep(0.1)
        yield other, sending


async def test_a_write_waits_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    adapter = OutboxAdapter(outbox)
    async with waiting_on_another_process(outbox, adapter) as (other, sending):
        assert not sending.done()
        other.write(json.dumps({"idempotency_key": "from-another-worker", "id": "outbox-x"}) + "\n")
        other.flush()
        fcntl.flock(other, fcntl.LOCK_UN)
        receipt = await asyncio.wait_for(sending, timeout=5)
    assert not receipt.duplicate
    steps = [line.get("step_id") for line in lines(outbox)]
    assert steps == ["thanks", None, "coupon"]
    await adapter.aclose()


async def test_a_removed_outbox_is_created_again(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    adapter = OutboxAdapter(outbox)
    await adapter.deliver(message())
    outbox.unlink()
    receipt = await adapter.deliver(message("post-purchase:loja-1:PED-1:coupon"))
    repeat = await adapter.deliver(message())
    assert [line["step_id"] for line in lines(outbox)] == ["coupon"]
    assert not receipt.duplicate
    assert repeat.duplicate, "a key answered before the file was removed is still answered"
    await adapter.aclose()


async def test_a_send_cancelled_while_waiting_for_the_lock_leaves_it_free(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    adapter = OutboxAdapter(outbox)
    async with waiting_on_another_process(outbox, adapter) as (other, sending):
        sending.cancel()
        await asyncio.sleep(0.1)
        fcntl.flock(other, fcntl.LOCK_UN)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(sending, timeout=5)
        # Nobody holds the lock now: another process takes it at once.
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(other, fcntl.LOCK_UN)
    later = await adapter.deliver(message("post-purchase:loja-1:PED-1:photo"))
    assert not later.duplicate
    await adapter.aclose()


async def test_a_lookup_finds_what_another_process_wrote_and_writes_nothing(
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "outbox.jsonl"
    written = await OutboxAdapter(outbox).deliver(message())
    reader = OutboxAdapter(outbox)  # another worker, which never saw the key
    found = await reader.look_up(message().idempotency_key, Channel.WHATSAPP)
    missing = await reader.look_up("post-purchase:loja-1:PED-1:coupon", Channel.WHATSAPP)
    assert found.receipt is not None and found.receipt.looked_up
    assert found.receipt.message_id == written.message_id
    assert missing == ABSENT
    assert len(lines(outbox)) == 1
    await reader.aclose()
