"""The worker as its own OS process, for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import FEEDBACK_SECRET

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """`python worker.py` against a given server, with JOURNEY_* settings."""

    def __init__(self, target: str, task_queue: str, log: Path, **journey_env: str) -> None:
        self.log = log
        self.env = {
            **os.environ,
            "TEMPORAL_ADDRESS": target,
            "TEMPORAL_NAMESPACE": "default",
            "JOURNEY_TASK_QUEUE": task_queue,
            "JOURNEY_FEEDBACK_SECRET": FEEDBACK_SECRET,
            "JOURNEY_LOG_LEVEL": "INFO",
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
