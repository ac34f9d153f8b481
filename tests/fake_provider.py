"""A real HTTP server on loopback, the base of the fake providers.

Subclasses answer each POST from the request alone, the way the real provider
would, including its refusals of malformed requests. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]  # lower-case names
    raw_body: bytes
    status: int  # what the fake answered

    @property
    def json(self) -> Any:
        return json.loads(self.raw_body)


class FakeProvider(ABC):
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake.lock:
                    reply = fake.answer(self.path, headers, body)
                    fake.requests.append(Request(self.path, headers, body, reply.status))
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @abstractmethod
    def answer(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """The provider's reply to one request, as its documentation describes it."""

    @contextmanager
    def running(self) -> Iterator[Self]:
        thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
