"""Customer data protection from the environment, checked before anything runs.

    JOURNEY_ENCRYPTION          on (default) or off
    JOURNEY_PAYLOAD_KEYS        id:base64 pairs, the encrypting key first
    JOURNEY_PAYLOAD_KEYS_FILE   or a file of them, one a line (default
                                .journey/payload-keys in the checkout, if it exists)
    JOURNEY_KEY_STORE           a SQLite file (default .journey/keys.db in the
                                checkout) or a postgresql:// URL

Every process that touches journeys (worker, web service, CLI, Python client API)
reads the same variables, so they all encrypt and decrypt alike.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from customer_data.codec import EncryptionCodec
from customer_data.key_store import KeyStoreError, open_key_store
from customer_data.keys import KeyConfigError, KeyRing
from customer_data.vault import DataKeyLocked, Vault

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KEY_STORE = ROOT / ".journey" / "keys.db"
# The local development keys `dev.py run` makes; read when neither keys nor a key store
# are configured, so the command line finds the demo's keys. Production configures its own.
DEV_KEYS_FILE = ROOT / ".journey" / "payload-keys"
ENCRYPTION_ENV = "JOURNEY_ENCRYPTION"
KEYS_ENV = "JOURNEY_PAYLOAD_KEYS"
KEYS_FILE_ENV = "JOURNEY_PAYLOAD_KEYS_FILE"
KEY_STORE_ENV = "JOURNEY_KEY_STORE"


class ProtectionError(Exception):
    """Customer data protection is misconfigured; one line says what to fix."""


@dataclass(frozen=True)
class Protection:
    codec: EncryptionCodec
    vault: Vault


def protection_from_env(env: Mapping[str, str] | None = None) -> Protection | None:
    """The codec and vault the environment configures, checked against the key store;
    None when encryption is off. Raises `ProtectionError`."""
    env = os.environ if env is None else env
    if not encryption_on(env):
        return None
    configured_store = env.get(KEY_STORE_ENV, "").strip()
    # The development keys go with the development key store, never with another one.
    ring = _ring(env, dev_keys=not configured_store)
    location = configured_store or str(DEFAULT_KEY_STORE)
    if location == str(DEFAULT_KEY_STORE):
        DEFAULT_KEY_STORE.parent.mkdir(exist_ok=True)
    return protect(ring, location)


def encryption_on(env: Mapping[str, str] | None = None) -> bool:
    """JOURNEY_ENCRYPTION: on unless set off. Raises `ProtectionError` for other values."""
    switch = (os.environ if env is None else env).get(ENCRYPTION_ENV, "on").strip().lower()
    if switch not in {"on", "1", "true", "yes", "", "off", "0", "false", "no"}:
        raise ProtectionError(f"{ENCRYPTION_ENV}={switch!r}: expected on or off")
    return switch not in {"off", "0", "false", "no"}


def protect(ring: KeyRing, key_store: str) -> Protection:
    """The codec and vault for `ring` and the key store at `key_store`, checked."""
    try:
        vault = Vault(ring, open_key_store(key_store))
        vault.check()
    except (KeyStoreError, KeyConfigError, DataKeyLocked) as err:
        raise ProtectionError(f"{KEY_STORE_ENV}: {err}") from err
    return Protection(EncryptionCodec(ring, vault), vault)


def _ring(env: Mapping[str, str], *, dev_keys: bool) -> KeyRing:
    inline, path = env.get(KEYS_ENV, "").strip(), env.get(KEYS_FILE_ENV, "").strip()
    try:
        if inline and path:
            raise KeyConfigError(f"set {KEYS_ENV} or {KEYS_FILE_ENV}, not both")
        if inline:
            return KeyRing.parse(inline, KEYS_ENV)
        if path:
            return KeyRing.from_file(Path(path))
        if dev_keys and DEV_KEYS_FILE.is_file():
            return KeyRing.from_file(DEV_KEYS_FILE)
    except KeyConfigError as err:
        raise ProtectionError(str(err)) from err
    raise ProtectionError(
        f"customer data is encrypted, and no key is configured: set {KEYS_ENV} or "
        f"{KEYS_FILE_ENV} (make a key with `python starter.py keys new`), or "
        f"{ENCRYPTION_ENV}=off"
    )
