"""A real HTTP server on loopback standing in for a messaging provider.

It records every request (headers and JSON body) and answers from a script of
responses, 200 once the script runs out. Tests read what arrived; nothing in the
client is patched.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering, as a slow provider


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    raw_body: bytes
    answered: int

    @property
    def json(self) -> Any:
        return json.loads(self.raw_body)

    @property
    def idempotency_key(self) -> str:
        return self.headers["idempotency-key"]


class ProviderSink:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.arrivals = 0  # requests that arrived, answered or not yet
        self._script: list[Answer] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink._lock:
                    sink.arrivals += 1
                    answer = sink._script.pop(0) if sink._script else None
                    if answer is None:
                        answer = Answer(200, {"id": f"msg-{sink.arrivals}"})
                time.sleep(answer.delay)
                with sink._lock:
                    sink.received.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            answer.status,
                        )
                    )
                payload = json.dumps(answer.body or {}).encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/messages"

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def delivered(self) -> list[Received]:
        """Requests the sink accepted (2xx), in arrival order."""
        return [r for r in self.received if 200 <= r.answered < 300]

    @contextmanager
    def running(self) -> Iterator[ProviderSink]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
