"""What every benchmark shares: one dev server, the machine, medians and a table."""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from activities import WorkerConfig
from models.search import dev_server_flags
from runtime.connection import PLAIN_CONVERTER

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FEEDBACK_SECRET = "bench-feedback-secret-0123456789"


def outbox_config(directory: Path) -> WorkerConfig:
    """The worker settings every benchmark's sends use: the outbox, in `directory`."""
    return WorkerConfig(
        feedback_secret=FEEDBACK_SECRET, adapter="outbox", outbox_path=directory / "outbox.jsonl"
    )


def binary(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: run through `python3 dev.py bench`")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class DevServer:
    client: Client
    target: str
    pid: int
    metrics_url: str  # Prometheus text, e.g. the server's `action` counter


@asynccontextmanager
async def dev_server(*, precise_timers: bool = False) -> AsyncIterator[DevServer]:
    """`temporal server start-dev` on free ports, quiet, for one benchmark, with the
    journeys' search attributes registered.

    Its state goes to a throwaway SQLite file in WAL mode without fsync (on /dev/shm
    when there is one). The default in-memory database serialises every write and
    caps starts near 230/s on two cores, which would measure SQLite, not the project.

    `precise_timers`: the server fires timers within milliseconds instead of up to a
    second late (history.timerProcessorMaxTimeShift), so a sped-up journey keeps a
    timer for every wait of its plan.
    """
    port, metrics_port = free_port(), free_port()
    target = f"127.0.0.1:{port}"
    shm = Path("/dev/shm")
    state = tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None)
    args = [binary("temporal"), "server", "start-dev", "--headless", "--ip", "127.0.0.1"]
    args += ["--port", str(port), "--http-port", str(free_port())]
    args += ["--metrics-port", str(metrics_port), "--log-level", "error"]
    args += ["--db-filename", str(Path(state.name) / "temporal.db")]
    args += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=off"]
    args += dev_server_flags()
    if precise_timers:
        args += ["--dynamic-config-value", 'history.timerProcessorMaxTimeShift="1ms"']
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client = await Client.connect(target, data_converter=PLAIN_CONVERTER)
                await client.workflow_service.get_system_info(GetSystemInfoRequest())
                break
            except RuntimeError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        yield DevServer(client, target, server.pid, f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        server.terminate()
        server.wait(timeout=30)
        state.cleanup()


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure for the project, the floor, and their ratio."""

    benchmark: str
    project: str
    floor: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def machine() -> list[tuple[str, str]]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    cli = subprocess.run(
        [binary("temporal"), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return [
        ("cores", f"{os.cpu_count()} ({cpu})"),
        ("memory", f"{memory_kib / 1024 / 1024:.1f} GiB"),
        ("os", platform.platform()),
        ("python", platform.python_version()),
        ("temporalio", version("temporalio")),
        ("temporal CLI", cli.removeprefix("temporal version ")),
    ]


def table(rows: Sequence[Row]) -> str:
    """A Markdown table, readable in a terminal and pasteable into docs."""
    header = ("benchmark", "project", "floor", "ratio", "target", "")
    cells = ((r.benchmark, r.project, r.floor, r.ratio, r.target, r.verdict) for r in rows)
    lines = [header, *cells]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def render(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [render(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(render(line) for line in lines[1:])
    return "\n".join(out)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
