"""A lean HTTP/1.1 client for load: keep-alive connections, bodies built beforehand.

A store's backend runs on its own machine; here it shares two cores with the service
and the dev server. httpx spends 4–9 ms of CPU a request, more than the service does,
so it would measure itself. This client writes prepared bytes and reads the answer's
status line, headers and Content-Length body: all the service's answers have one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        head = f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)


@asynccontextmanager
async def connections(host: str, port: int, count: int) -> AsyncIterator[asyncio.Queue[Connection]]:
    """`count` open connections in a queue: take one, use it, put it back."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    opened = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection(host, port)
        opened.append(writer)
        pool.put_nowait(Connection(reader, writer))
    try:
        yield pool
    finally:
        for writer in opened:
            writer.close()
