"""Customer data under LGPD: every payload encrypted, contact data sealed per customer,
and erasure by deleting a customer's key. See docs/customer-data.md."""

from __future__ import annotations

from temporalio.client import Client

from customer_data.codec import EncryptionCodec, PayloadKeyError
from customer_data.config import Protection, ProtectionError, protect, protection_from_env
from customer_data.key_store import KeyStoreError, open_key_store
from customer_data.keys import KeyConfigError, KeyRing, new_key_line
from customer_data.vault import CustomerErased, DataKeyLocked, Erasure, Vault


def vault_of(client: Client) -> Vault | None:
    """The vault of the client's data converter; None when encryption is off."""
    codec = client.data_converter.payload_codec
    return codec.vault if isinstance(codec, EncryptionCodec) else None


__all__ = [
    "CustomerErased",
    "DataKeyLocked",
    "EncryptionCodec",
    "Erasure",
    "KeyConfigError",
    "KeyRing",
    "KeyStoreError",
    "PayloadKeyError",
    "Protection",
    "ProtectionError",
    "Vault",
    "new_key_line",
    "open_key_store",
    "protect",
    "protection_from_env",
    "vault_of",
]
