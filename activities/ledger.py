"""A JSON-lines file that records each idempotency key at most once.

Several worker processes may share the file: appends happen under an exclusive
`flock`, and a key already in the file is answered with its first record's id
instead of a second line, so a retried write never duplicates.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any


class JsonLinesLedger:
    def __init__(self, path: Path, id_prefix: str) -> None:
        self.path = path
        self._id_prefix = id_prefix
        self._seen: dict[str, str] = {}
        self._offset = 0

    async def append_once(self, key: str, record: dict[str, Any]) -> tuple[str, bool]:
        """(record id, whether the key was already there). Locking blocks, so it runs
        off the event loop."""
        return await asyncio.to_thread(self._append_once, key, record)

    def _append_once(self, key: str, record: dict[str, Any]) -> tuple[str, bool]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._catch_up(handle)
                if key in self._seen:
                    return self._seen[key], True
                record_id = f"{self._id_prefix}-{hashlib.sha256(key.encode()).hexdigest()[:20]}"
                line = {
                    "id": record_id,
                    "idempotency_key": key,
                    "written_at": datetime.now(UTC).isoformat(),
                    **record,
                }
                handle.seek(0, 2)
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
                handle.flush()
                self._offset = handle.tell()
                self._seen[key] = record_id
                return record_id, False
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _catch_up(self, handle: IO[str]) -> None:
        """Read lines other processes appended since we last looked."""
        handle.seek(self._offset)
        while line := handle.readline():
            if not line.endswith("\n"):
                # Writers hold the lock, so a partial last line is a write cut off by a
                # killed process. It was never acknowledged: drop it, the write retries.
                handle.truncate(self._offset)
                break
            entry = json.loads(line)
            self._seen[entry["idempotency_key"]] = entry["id"]
            self._offset = handle.tell()
