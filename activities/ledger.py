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
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

T = TypeVar("T")


class JsonLinesLedger:
    def __init__(self, path: Path, id_prefix: str) -> None:
        self.path = path
        self._id_prefix = id_prefix
        self._seen: dict[str, str] = {}
        self._offset = 0
        self._handle: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None  # (device, inode) of the open file
        # flock belongs to the open file, which all of this process's appends share:
        # this lock keeps them in turn while one waits for another process.
        self._turn = asyncio.Lock()

    async def append_once(self, key: str, record: dict[str, Any]) -> tuple[str, bool]:
        """(record id, whether the key was already there)."""
        return await self._in_turn(lambda handle: self._append_locked(handle, key, record))

    async def find(self, key: str) -> str | None:
        """The id of the record written under `key`, or None; never writes one."""
        return await self._in_turn(lambda handle: self._find_locked(handle, key))

    async def _in_turn(self, work: Callable[[BinaryIO], T]) -> T:
        """Run `work` on the file under its lock.

        A ledger operation is a few microseconds of local I/O, so it runs on the event
        loop when the lock is free; handing every send to a thread cost more than the
        write. Only when another process holds the lock does the wait move to a thread.
        """
        async with self._turn:
            handle = self._open()
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return await self._when_free(handle, work)
            try:
                return work(handle)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    async def _when_free(self, handle: BinaryIO, work: Callable[[BinaryIO], T]) -> T:
        """Wait for the lock, work and release in a thread, as one piece: a send
        cancelled meanwhile never leaves the lock taken."""

        def wait_and_work() -> T:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                return work(handle)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

        task = asyncio.ensure_future(asyncio.to_thread(wait_and_work))
        try:
            return await asyncio.shield(task)
        finally:
            if not task.done():
                # Cancelled: the thread still finishes; keep this process's turn until
                # it has, so no other operation touches the ledger at the same time.
                await asyncio.wait([task])

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _open(self) -> BinaryIO:
        """The file, kept open between appends; opened again if it was removed or
        replaced since (an operator clearing the outbox)."""
        if self._handle is not None:
            try:
                found = os.stat(self.path)
            except FileNotFoundError:
                found = None
            if found is not None and (found.st_dev, found.st_ino) == self._identity:
                return self._handle
            # Keys already answered stay known: a retry must not write them again.
            self.close()
            self._offset = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+b")
        opened = os.fstat(handle.fileno())
        self._handle, self._identity = handle, (opened.st_dev, opened.st_ino)
        return handle

    def _find_locked(self, handle: BinaryIO, key: str) -> str | None:
        if os.fstat(handle.fileno()).st_size != self._offset:
            self._catch_up(handle)
        return self._seen.get(key)

    def _append_locked(
        self, handle: BinaryIO, key: str, record: dict[str, Any]
    ) -> tuple[str, bool]:
        if self._find_locked(handle, key) is not None:
            return self._seen[key], True
        record_id = f"{self._id_prefix}-{hashlib.sha256(key.encode()).hexdigest()[:20]}"
        line = {
            "id": record_id,
            "idempotency_key": key,
            "written_at": datetime.now(UTC).isoformat(),
            **record,
        }
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
        handle.write(data)  # opened for appending: lands at the end, where we read up to
        handle.flush()
        self._offset += len(data)
        self._seen[key] = record_id
        return record_id, False

    def _catch_up(self, handle: BinaryIO) -> None:
        """Read lines other processes appended since we last looked."""
        handle.seek(self._offset)
        while line := handle.readline():
            if not line.endswith(b"\n"):
                # Writers hold the lock, so a partial last line is a write cut off by a
                # killed process. It was never acknowledged: drop it, the write retries.
                handle.truncate(self._offset)
                break
            entry = json.loads(line)
            self._seen[entry["idempotency_key"]] = entry["id"]
            self._offset += len(line)
