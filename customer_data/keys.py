"""Master keys: the AES-256 keys that encrypt every payload and wrap customers' data keys.

Configured as `id:base64` pairs (`JOURNEY_PAYLOAD_KEYS`) or one pair a line in a key
file (`JOURNEY_PAYLOAD_KEYS_FILE`). The first key encrypts; the others only decrypt,
so a new key goes first and the old one stays listed until nothing needs it.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

KEY_BYTES = 32  # AES-256
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


class KeyConfigError(Exception):
    """The configured keys cannot be used; the message names what is wrong."""


@dataclass(frozen=True)
class MasterKey:
    id: str
    secret: bytes

    def __repr__(self) -> str:  # never print the secret
        return f"MasterKey({self.id!r})"


@dataclass(frozen=True)
class KeyRing:
    """The configured master keys, the encrypting one first."""

    keys: tuple[MasterKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyConfigError("no payload key is configured")
        ids = [key.id for key in self.keys]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise KeyConfigError(f"payload key id {repeated[0]!r} is listed twice")

    @property
    def current(self) -> MasterKey:
        return self.keys[0]

    def get(self, key_id: str) -> MasterKey | None:
        return next((key for key in self.keys if key.id == key_id), None)

    @property
    def ids(self) -> list[str]:
        return [key.id for key in self.keys]

    @classmethod
    def parse(cls, text: str, source: str) -> KeyRing:
        """`id:base64` pairs separated by commas or line breaks; `#` starts a comment.
        `source` names where the text came from, for the error messages."""
        pairs = [
            part.strip()
            for line in text.splitlines()
            for part in line.split("#", 1)[0].split(",")
            if part.strip()
        ]
        return cls(tuple(_parse_pair(pair, source, n) for n, pair in enumerate(pairs, 1)))

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise KeyConfigError(f"cannot read the key file {path}: {err.strerror}") from err
        except UnicodeDecodeError as err:
            raise KeyConfigError(f"the key file {path} is not UTF-8 text") from err
        return cls.parse(text, str(path))

    @classmethod
    def of(cls, keys: Iterable[MasterKey]) -> KeyRing:
        return cls(tuple(keys))


def _parse_pair(pair: str, source: str, n: int) -> MasterKey:
    key_id, colon, encoded = pair.partition(":")
    key_id, encoded = key_id.strip(), encoded.strip()
    where = f"{source}, key {n}"
    if not colon:
        raise KeyConfigError(f"{where}: expected 'id:base64-key', got no ':'")
    if not _KEY_ID.fullmatch(key_id):
        raise KeyConfigError(
            f"{where}: key id {key_id[:40]!r} must be 1-32 letters, digits, '.', '_' or '-'"
        )
    try:
        secret = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as err:
        raise KeyConfigError(f"{where} ({key_id}): the key is not valid base64") from err
    if len(secret) != KEY_BYTES:
        raise KeyConfigError(
            f"{where} ({key_id}): the key is {len(secret)} bytes; AES-256 needs {KEY_BYTES}"
        )
    return MasterKey(key_id, secret)


def new_key_line(key_id: str) -> str:
    """A fresh key as a key-file line: `id:base64`."""
    if not _KEY_ID.fullmatch(key_id):
        raise KeyConfigError(f"key id {key_id!r} must be 1-32 letters, digits, '.', '_' or '-'")
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"
