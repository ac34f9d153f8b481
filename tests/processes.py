"""The pieces of a deployment as OS processes, for integration tests and the soak.

Each can be killed with SIGKILL or stopped and started again: the Temporal dev server
on a SQLite file, the worker (`worker.py`), and the provider sink.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from tests.conftest import FEEDBACK_SECRET
from tests.protection import converter
from tests.provider_sink import Answer, SinkRecords

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_until(
    condition: Callable[[], bool] | Callable[[], Awaitable[bool]],
    seconds: float,
    what: str,
    interval: float = 0.05,
) -> None:
    """Poll `condition` until it holds; fail naming `what` after `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                result = condition()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"no {what} within {seconds} s") from None


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float) -> int | None:
    """SIGTERM, then SIGKILL if it does not exit within `timeout`."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


class DevServer:
    """`temporal server start-dev` on a SQLite file, restartable on the same file and
    ports, so workers and clients reconnect to the same address."""

    def __init__(self, temporal_cli: str, db: Path, log: Path) -> None:
        self.cli = temporal_cli
        self.db = db
        self.log = log
        self.port = free_port()
        self._extra_ports = (free_port(), free_port())
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> DevServer:
        http_port, metrics_port = self._extra_ports
        args = [
            self.cli, "server", "start-dev", "--headless",
            "--ip", "127.0.0.1", "--port", str(self.port),
            "--http-port", str(http_port), "--metrics-port", str(metrics_port),
            "--db-filename", str(self.db), "--log-level", "warn",
        ]  # fmt: skip
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        return self

    async def connect(self, seconds: float = 60) -> Client:
        """A client once the server answers for the `default` namespace.

        A port picked free can be taken again before the server binds it (by the dev
        server's own internal services, among others): a first start that finds its
        port taken starts again on fresh ones."""
        deadline = time.monotonic() + seconds
        fresh_starts = 3
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                if fresh_starts and self._port_was_taken():
                    fresh_starts -= 1
                    self.port = free_port()
                    self._extra_ports = (free_port(), free_port())
                    self.start()
                    continue
                raise AssertionError(f"dev server exited ({self.proc.returncode}); see {self.log}")
            try:
                client = await Client.connect(self.target, data_converter=converter())
                await client.count_workflows()
                return client
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    def _port_was_taken(self) -> bool:
        return "address already in use" in self.log.read_text(errors="replace")

    async def ready(self, client: Client, seconds: float = 60) -> None:
        """Wait until an existing client is served again, after a restart."""

        async def answers() -> bool:
            try:
                await client.count_workflows()
            except Exception:
                return False
            return True

        await wait_until(answers, seconds, "answer from the restarted dev server", 0.2)

    def stop(self, timeout: float = 30) -> int | None:
        return _stop(self.proc, timeout)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class WorkerProcess:
    """`python worker.py` against a given server, with JOURNEY_* settings."""

    def __init__(self, target: str, task_queue: str, log: Path, **journey_env: str) -> None:
        self.log = log
        self.health_url = f"http://127.0.0.1:{free_port()}/healthz"
        self.env = {
            **os.environ,
            "TEMPORAL_ADDRESS": target,
            "TEMPORAL_NAMESPACE": "default",
            "JOURNEY_TASK_QUEUE": task_queue,
            "JOURNEY_FEEDBACK_SECRET": FEEDBACK_SECRET,
            "JOURNEY_LOG_LEVEL": "INFO",
            "JOURNEY_HEALTH_ADDRESS": self.health_url.removeprefix("http://").split("/")[0],
            **{f"JOURNEY_{k.upper()}": v for k, v in journey_env.items()},
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, no graceful shutdown, as in a crash."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 60) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        return self.proc.returncode

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def health(self) -> tuple[int, str] | None:
        """GET /healthz: the status and body, or None while nothing answers."""
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                answer = await http.get(self.health_url)
        except httpx.TransportError:
            return None
        return answer.status_code, answer.text

    async def ready(self) -> bool:
        return await self.health() == (200, "ready")

    def logged(self, text: str) -> bool:
        return self.log.exists() and text in self.log.read_text(errors="replace")


class SinkProcess:
    """`python -m tests.provider_sink` in its own process, read and steered over its
    control API."""

    def __init__(
        self, workdir: Path, *, dedupe: bool = True, fail_every: int = 0, retry_after: float = 1
    ) -> None:
        self.port_file = workdir / "sink.json"
        self.log = workdir / "sink.log"
        self.options = ["--fail-every", str(fail_every), "--retry-after", str(retry_after)]
        if not dedupe:
            self.options.append("--no-dedupe")
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.control_url = ""

    def start(self, seconds: float = 30) -> SinkProcess:
        self.port_file.unlink(missing_ok=True)
        args = [sys.executable, "-m", "tests.provider_sink", "--port-file", str(self.port_file)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*args, *self.options],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + seconds
        while not self.port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the provider sink did not start; see {self.log}")
            time.sleep(0.05)
        urls = json.loads(self.port_file.read_text())
        self.url, self.control_url = urls["url"], urls["control_url"]
        return self

    async def records(self) -> SinkRecords:
        return SinkRecords.from_json(await self._call("GET", "state"))

    async def script(self, *answers: Answer) -> None:
        await self._call("POST", "script", {"answers": [asdict(a) for a in answers]})

    async def configure(self, **settings: Any) -> None:
        """`dedupe`, `fail_every`, `retry_after`, `lookups`."""
        await self._call("POST", "config", settings)

    async def _call(self, method: str, command: str, payload: Any = None) -> Any:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.request(method, f"{self.control_url}/{command}", json=payload)
            response.raise_for_status()
            return response.json()

    def webhook_env(self) -> dict[str, str]:
        """The worker settings that point its webhook adapter here."""
        return {"adapter": "webhook", "webhook_url": self.url, "webhook_secret": "hook-secret"}

    def stop(self) -> None:
        _stop(self.proc, 10)
