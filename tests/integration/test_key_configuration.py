"""Bad keys and a missing key store stop every process at start, with exit code 2 and
one line naming what to fix, before anything reaches Temporal (nothing listens at the
address these processes are given)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from customer_data.keys import new_key_line
from tests.conftest import FEEDBACK_SECRET
from tests.processes import ROOT
from tests.web_service import STORES

NOWHERE = "127.0.0.1:9"  # the discard port: a process that got this far would hang or fail
PROCESSES = {
    "worker": ["worker.py"],
    "web service": ["-m", "web"],
    "command line": ["starter.py", "status", "loja-1", "PED-1"],
}


def start(args: list[str], keys: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "TEMPORAL_ADDRESS": NOWHERE,
        "JOURNEY_FEEDBACK_SECRET": FEEDBACK_SECRET,
        "JOURNEY_STORES_DIR": str(STORES),
        **keys,
    }
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def bad_configurations(tmp_path: Path) -> dict[str, tuple[dict[str, str], str]]:
    store = str(tmp_path / "keys.db")
    not_sqlite = tmp_path / "not-a-database"
    not_sqlite.write_bytes(b"plain text, not SQLite " * 64)
    return {
        "no key": ({"JOURNEY_KEY_STORE": store}, "no key is configured"),
        "a short key": (
            {"JOURNEY_PAYLOAD_KEYS": "k1:c2hvcnQ=", "JOURNEY_KEY_STORE": store},
            "AES-256 needs 32",
        ),
        "a missing key file": (
            {"JOURNEY_PAYLOAD_KEYS_FILE": str(tmp_path / "nope"), "JOURNEY_KEY_STORE": store},
            "cannot read the key file",
        ),
        "a key store in a missing folder": (
            {
                "JOURNEY_PAYLOAD_KEYS": new_key_line("k1"),
                "JOURNEY_KEY_STORE": str(tmp_path / "gone" / "k.db"),
            },
            "does not exist",
        ),
        "a key store that is not one": (
            {"JOURNEY_PAYLOAD_KEYS": new_key_line("k1"), "JOURNEY_KEY_STORE": str(not_sqlite)},
            "cannot be opened",
        ),
    }


@pytest.mark.parametrize("process", PROCESSES)
def test_bad_keys_stop_each_process_at_start_with_one_line(process: str, tmp_path: Path) -> None:
    for case, (keys, says) in bad_configurations(tmp_path).items():
        result = start(PROCESSES[process], keys)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (case, result.stderr)
        assert len(lines) == 1 and says in lines[0], (case, result.stderr)
        assert "Traceback" not in result.stderr


def test_a_key_that_is_not_the_one_the_store_knows_is_refused(tmp_path: Path) -> None:
    store = str(tmp_path / "keys.db")
    first = start(
        ["starter.py", "keys", "check"],
        {"JOURNEY_PAYLOAD_KEYS": new_key_line("k1"), "JOURNEY_KEY_STORE": store},
    )
    assert first.returncode == 0, first.stderr
    assert "keys ok" in first.stdout
    other = start(
        ["worker.py"], {"JOURNEY_PAYLOAD_KEYS": new_key_line("k1"), "JOURNEY_KEY_STORE": store}
    )
    assert other.returncode == 2
    assert "payload key 'k1' is not the key of that id" in other.stderr
