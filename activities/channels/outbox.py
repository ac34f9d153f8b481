"""The embedded default channel: each message becomes one JSON line in a local file.

Several worker processes may share the file: appends happen under an exclusive
`flock`, and a key already in the file is acknowledged without a second line, so a
retried send never writes twice.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from activities.channels.base import OutgoingMessage
from models import Receipt

log = logging.getLogger(__name__)


class OutboxAdapter:
    name = "outbox"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: dict[str, str] = {}
        self._offset = 0

    async def deliver(self, message: OutgoingMessage) -> Receipt:
        # File locking blocks, so it runs off the event loop.
        return await asyncio.to_thread(self._append_once, message)

    async def aclose(self) -> None:
        return None

    def _append_once(self, message: OutgoingMessage) -> Receipt:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._catch_up(handle)
                key = message.idempotency_key
                if key in self._seen:
                    return self._receipt(message, self._seen[key], duplicate=True)
                message_id = "outbox-" + hashlib.sha256(key.encode()).hexdigest()[:20]
                line = {
                    "message_id": message_id,
                    "written_at": datetime.now(UTC).isoformat(),
                    **message.model_dump(mode="json"),
                }
                handle.seek(0, 2)
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
                handle.flush()
                self._offset = handle.tell()
                self._seen[key] = message_id
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        log.info(
            "outbox: %s → %s [%s] %s",
            message.step_id,
            message.to,
            message.channel,
            message.subject,
            extra={"journey_id": message.journey_id, "order_id": message.order_id},
        )
        return self._receipt(message, message_id, duplicate=False)

    def _catch_up(self, handle: IO[str]) -> None:
        """Read lines other processes appended since we last looked."""
        handle.seek(self._offset)
        while line := handle.readline():
            if not line.endswith("\n"):
                # Writers hold the lock, so a partial last line is a write cut off by a
                # killed process. It was never acknowledged: drop it, the send retries.
                handle.truncate(self._offset)
                break
            entry = json.loads(line)
            self._seen[entry["idempotency_key"]] = entry["message_id"]
            self._offset = handle.tell()

    def _receipt(self, message: OutgoingMessage, message_id: str, *, duplicate: bool) -> Receipt:
        return Receipt(
            channel=message.channel,
            adapter=self.name,
            message_id=message_id,
            idempotency_key=message.idempotency_key,
            duplicate=duplicate,
        )
