"""A real HTTP server on loopback standing in for a messaging provider.

It behaves like a provider that honours idempotency keys: the first accepted request
of a key is a *delivery*; a later request with the same key is answered 200 with the
same message id (and `Idempotent-Replayed: true`) and counted as a duplicate
*attempt*, not a second delivery. With `dedupe=False` it delivers every accepted
request, like a provider that ignores the key.

Faults are injected per request, from a script (first matching answer wins) or a
rate (`fail_every`: every n-th request fails transiently, cycling through 500, 429
with `Retry-After` and a reset connection). A 2xx answer accepts the message as the
request arrives, so a delayed 2xx is a provider that took the message and is slow to
say so.

It answers lookups as the webhook contract describes (activities/channels/webhook.py):
`GET` on the messages URL with an `Idempotency-Key` header gets 200 `{"id": ...}` for
an accepted key and 404 `{"reason": "unknown_idempotency_key"}` for any other. With
`lookups=False` it is a receiver without lookups: 405.

Two ways to run it:
- in a thread of the test (`with ProviderSink().running() as sink`), read directly;
- as its own process, `python -m tests.provider_sink --port-file PATH`, so it
  outlives the workers a test kills; a small control API on the same port
  (`GET /_sink/state`, `POST /_sink/script`, `POST /_sink/config`) lets the test read
  records and set faults (see `tests.processes.SinkProcess`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CONTROL_PREFIX = "/_sink/"
# What a reset connection looks like in `answered`: no HTTP status at all.
RESET = 0


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering, as a slow provider
    reset: bool = False  # drop the connection with a TCP reset instead of answering
    key_suffix: str | None = None  # only for a request whose idempotency key ends so

    def matches(self, key: str) -> bool:
        return self.key_suffix is None or key.endswith(self.key_suffix)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        return cls(**data)


@dataclass(frozen=True)
class Received:
    """A request that got its answer (or its reset), in the order answers went out."""

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


@dataclass(frozen=True)
class Attempt:
    """A request as it arrived: what the sink decided before any delay."""

    key: str
    status: int  # RESET for a reset connection
    duplicate: bool  # a repeated key of an accepted message, answered without delivering


@dataclass(frozen=True)
class Delivery:
    key: str
    message_id: str


@dataclass
class SinkRecords:
    """What the provider saw; the same shape in a thread and over the control API."""

    attempts: list[Attempt] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)  # keys asked about, answered or not

    def deliveries_per_key(self) -> Counter[str]:
        return Counter(d.key for d in self.deliveries)

    def attempts_per_key(self) -> Counter[str]:
        return Counter(a.key for a in self.attempts)

    def to_json(self) -> dict[str, Any]:
        return {
            "attempts": [asdict(a) for a in self.attempts],
            "deliveries": [asdict(d) for d in self.deliveries],
            "lookups": self.lookups,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SinkRecords:
        return cls(
            attempts=[Attempt(**a) for a in data["attempts"]],
            deliveries=[Delivery(**d) for d in data["deliveries"]],
            lookups=data["lookups"],
        )


# The transient faults `fail_every` cycles through.
TRANSIENT_KINDS = ("500", "429", "reset")


class ProviderSink:
    def __init__(
        self,
        *,
        dedupe: bool = True,
        fail_every: int = 0,
        retry_after: float = 1.0,
        lookups: bool = True,
        port: int = 0,
    ) -> None:
        self.received: list[Received] = []
        self.arrivals = 0  # requests that arrived, answered or not yet
        self.records = SinkRecords()
        self.dedupe = dedupe
        self.fail_every = fail_every
        self.retry_after = retry_after
        self.lookups = lookups
        self._script: list[Answer] = []
        self._accepted: dict[str, str] = {}  # idempotency key -> message id
        self._faults_injected = 0
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == CONTROL_PREFIX + "state":
                    with sink._lock:
                        state = sink.records.to_json()
                    self._reply(200, state)
                elif self.path.startswith(CONTROL_PREFIX):
                    self._reply(404, {"error": "not found"})
                else:
                    self._reply(*sink._look_up(self.headers.get("Idempotency-Key", "")))

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.startswith(CONTROL_PREFIX):
                    self._control(self.path.removeprefix(CONTROL_PREFIX), json.loads(body))
                    return
                key = self.headers.get("Idempotency-Key", "")
                answer = sink._decide(key)
                time.sleep(answer.delay)
                with sink._lock:
                    sink.received.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            RESET if answer.reset else answer.status,
                        )
                    )
                if answer.reset:
                    self._reset()
                else:
                    self._reply(answer.status, answer.body or {}, answer.headers)

            def _control(self, command: str, payload: dict[str, Any]) -> None:
                if command == "script":
                    sink.script(*(Answer.from_json(a) for a in payload["answers"]))
                elif command == "config":
                    with sink._lock:
                        sink.dedupe = payload.get("dedupe", sink.dedupe)
                        sink.fail_every = payload.get("fail_every", sink.fail_every)
                        sink.retry_after = payload.get("retry_after", sink.retry_after)
                        sink.lookups = payload.get("lookups", sink.lookups)
                else:
                    self._reply(404, {"error": f"unknown command {command!r}"})
                    return
                self._reply(200, {})

            def _reply(
                self, status: int, payload: Any, headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timed out, or its process was killed)

            def _reset(self) -> None:
                # SO_LINGER 0: close() sends RST instead of an orderly FIN.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.url = f"{base}/messages"
        self.control_url = base + CONTROL_PREFIX.rstrip("/")

    def _decide(self, key: str) -> Answer:
        """Pick the answer of one arriving request and record the attempt."""
        with self._lock:
            self.arrivals += 1
            answer = self._scripted(key) or self._injected() or Answer()
            duplicate = False
            if 200 <= answer.status < 300 and not answer.reset:
                if self.dedupe and key in self._accepted:
                    duplicate = True
                    answer = Answer(
                        200,
                        {"id": self._accepted[key]},
                        {"Idempotent-Replayed": "true"},
                        delay=answer.delay,
                    )
                else:
                    message_id = str(
                        (answer.body or {}).get("id") or f"msg-{len(self.records.deliveries) + 1}"
                    )
                    answer = replace(answer, body={**(answer.body or {}), "id": message_id})
                    self._accepted.setdefault(key, message_id)
                    self.records.deliveries.append(Delivery(key, message_id))
            self.records.attempts.append(
                Attempt(key, RESET if answer.reset else answer.status, duplicate)
            )
            return answer

    def _look_up(self, key: str) -> tuple[int, dict[str, str]]:
        """The status and body of the answer to a lookup of `key`."""
        with self._lock:
            self.records.lookups.append(key)
            if not self.lookups:
                return 405, {"error": "method not allowed"}
            if key in self._accepted:
                return 200, {"id": self._accepted[key]}
            return 404, {"reason": "unknown_idempotency_key"}

    def _scripted(self, key: str) -> Answer | None:
        for index, answer in enumerate(self._script):
            if answer.matches(key):
                return self._script.pop(index)
        return None

    def _injected(self) -> Answer | None:
        if not self.fail_every or self.arrivals % self.fail_every:
            return None
        kind = TRANSIENT_KINDS[self._faults_injected % len(TRANSIENT_KINDS)]
        self._faults_injected += 1
        if kind == "500":
            return Answer(500, {"error": "injected failure"})
        if kind == "429":
            return Answer(429, {"error": "slow down"}, {"Retry-After": f"{self.retry_after:g}"})
        return Answer(reset=True)

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def delivered(self) -> list[Received]:
        """Requests the sink accepted (2xx), in the order they were answered."""
        return [r for r in self.received if 200 <= r.answered < 300]

    def snapshot(self) -> SinkRecords:
        with self._lock:
            records = self.records
            return SinkRecords(
                list(records.attempts), list(records.deliveries), list(records.lookups)
            )

    @contextmanager
    def running(self) -> Iterator[ProviderSink]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()

    def serve_forever(self) -> None:
        self._server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A provider sink on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--port-file", type=Path, required=True, help="where the URLs are written once serving"
    )
    parser.add_argument("--no-dedupe", action="store_true", help="ignore idempotency keys")
    parser.add_argument("--fail-every", type=int, default=0, help="every n-th request fails")
    parser.add_argument("--retry-after", type=float, default=1.0, help="seconds, on a 429")
    args = parser.parse_args(argv)
    sink = ProviderSink(
        dedupe=not args.no_dedupe,
        fail_every=args.fail_every,
        retry_after=args.retry_after,
        port=args.port,
    )
    # Written whole, then renamed: a reader never sees half a file.
    partial = args.port_file.with_suffix(".partial")
    partial.write_text(json.dumps({"url": sink.url, "control_url": sink.control_url}))
    os.replace(partial, args.port_file)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    sink.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
