"""Customer data protection as the tests run it: encrypted, like production.

One key ring and one SQLite key store for the whole test session, so the tests' clients,
their in-process workers and the worker and web service processes they start all seal,
unseal and decrypt alike. The payload keys are fixed: the encrypted histories under
tests/histories/ were recorded under them and replay with them. Test keys only, never
used anywhere else.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from temporalio.converter import DataConverter

from customer_data import KeyRing, Protection, protect
from models.sealed import Sealed
from runtime.connection import data_converter

KEYS = (
    "test-1:g2n479cL9+M+brMmXggkweeaAsQNnHSGP+aQBCY6rNg=",
    "test-2:ffjFUxoq4rQZOB8C1rTefrwfbAsIsFD7K8q2PbOtXTY=",
)
# test-1 encrypts; test-2 is there for the rotation test to put first.
PAYLOAD_KEYS = KEYS[0]


@functools.cache
def _key_store_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="journey-test-keys-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def key_store_path() -> Path:
    return _key_store_dir() / "keys.db"


@functools.cache
def protection() -> Protection:
    return protect(KeyRing.parse(PAYLOAD_KEYS, "tests"), str(key_store_path()))


def converter() -> DataConverter:
    """The data converter of every test client, worker and replayer."""
    return data_converter(protection())


def protection_env() -> dict[str, str]:
    """The environment a worker or web service process needs to share the session's
    keys and key store."""
    return {"JOURNEY_PAYLOAD_KEYS": PAYLOAD_KEYS, "JOURNEY_KEY_STORE": str(key_store_path())}


async def revealed(value: str | Sealed | None) -> str | None:
    """A sealed value as its text: what the journey holds, opened with the session's
    key store, as an operator's decoded view shows it."""
    return await protection().vault.unseal_text(value)
