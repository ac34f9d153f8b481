"""The payload codec: every payload the client, the worker and the web service hand to
Temporal is encrypted with AES-256-GCM under the current master key.

A payload becomes `binary/encrypted` with the key id in its metadata; its data is the
nonce and the ciphertext of the whole original payload (metadata included), so the
server, its database and its archive see neither values nor types. Payloads without
that encoding pass through: histories recorded before encryption still decode.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from customer_data.keys import KeyRing

if TYPE_CHECKING:
    from customer_data.vault import Vault

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
TAG_BYTES = 16  # GCM's authentication tag, at the end of the ciphertext
# Binds the ciphertext to its purpose: a payload cannot pass for a sealed field.
_AAD = b"journey-payload/v1:"


class PayloadKeyError(Exception):
    """An encrypted payload cannot be decrypted with the configured keys."""


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads. `vault`: the customers' data keys, for the
    edge's sealing and the activities' unsealing (see `vault_of`)."""

    def __init__(self, ring: KeyRing, vault: Vault | None = None) -> None:
        self.ring = ring
        self.vault = vault
        self._ciphers = {key.id: AESGCM(key.secret) for key in ring.keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.ring.current.id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(
            nonce, payload.SerializeToString(), _AAD + key_id.encode()
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadKeyError(
                f"payload encrypted with key {key_id!r}, which is not configured "
                f"(configured: {', '.join(self.ring.ids)})"
            )
        if len(payload.data) < NONCE_BYTES + TAG_BYTES:
            raise PayloadKeyError("an encrypted payload is too short to be one: it was cut off")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, _AAD + key_id.encode())
        except InvalidTag as err:
            raise PayloadKeyError(
                f"payload key {key_id!r} does not decrypt this payload: the configured "
                "key with that id is not the one that encrypted it"
            ) from err
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded
