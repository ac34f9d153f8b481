"""Customers' data keys: sealing contact data at the edge, unsealing it at send time,
and erasure by deleting a customer's key (crypto-shredding).

Envelope encryption: each subject (a customer of a store) has a random AES-256 data
key; the key store keeps it wrapped by the current master key. Every sealed value
names its subject and key, so a history holds only ciphertext that the key store can
open, until the key is deleted, after which nothing can.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from customer_data.key_store import KeyStore, StoredKey
from customer_data.keys import KEY_BYTES, KeyConfigError, KeyRing
from models.order import CONTACT_FIELDS, Order
from models.sealed import ERASED, MASKS, SEALED_MARK, MaskKind, Sealed

T = TypeVar("T")
P = ParamSpec("P")
NONCE_BYTES = 12
CONTACT_HASH_KEY = "contact-hash-key"
_KEY_CHECK = b"journey key check"


class CustomerErased(Exception):
    """The customer's data key is gone: their data was erased."""


class DataKeyLocked(Exception):
    """A data key is wrapped by a master key that is not configured."""


@dataclass(frozen=True)
class Erasure:
    """What one erasure did."""

    subjects: int  # customers found by the identifiers given
    keys_deleted: int
    journey_ids: list[str]  # every journey of theirs, running or not


def customer_subject(store_id: str, customer_id: str) -> str:
    return f"customer:{store_id}:{customer_id}"


class Vault:
    def __init__(self, ring: KeyRing, store: KeyStore) -> None:
        self.ring, self.store = ring, store
        self._contact_key: bytes | None = None

    # --- sealing at the edge ------------------------------------------------------------

    async def seal_order(self, order: Order, journey_id: str) -> Order:
        """The order with its customer's name, email and phone sealed under the
        customer's data key (made on first use), and the journey linked to them."""
        customer = order.customer
        if customer.sealed:
            return order
        return await _in_thread(self._seal_order, order, journey_id)

    def _seal_order(self, order: Order, journey_id: str) -> Order:
        customer = order.customer
        contacts = [
            self._contact_hash(order.store_id, text)
            for text in (customer.email, customer.phone)
            if isinstance(text, str)
        ]
        subject = self._subject(order, contacts)
        key = self._data_key(subject, create=True)
        assert key is not None
        self.store.link(subject, journey_id, contacts)
        sealed: dict[str, Any] = {
            field: _seal(key, subject, field, value)
            for field in CONTACT_FIELDS
            if isinstance(value := getattr(customer, field), str)
        }
        return order.model_copy(update={"customer": customer.model_copy(update=sealed)})

    async def seal_comment(self, journey_id: str, comment: str) -> Sealed:
        """A customer's free text (a feedback comment), sealed under the key of the
        journey's customer."""
        return await _in_thread(self._seal_comment, journey_id, comment)

    def _seal_comment(self, journey_id: str, comment: str) -> Sealed:
        subject = self.store.subject_of(journey_id)
        if subject is None:  # a journey started before its data was sealed
            subject = f"journey:{journey_id}"
            self.store.link(subject, journey_id, [])
        key = self._data_key(subject, create=True)
        assert key is not None
        return _seal(key, subject, "comment", comment)

    def _subject(self, order: Order, contacts: list[str]) -> str:
        """Whose key: the store's customer id, else their email's or phone's keyed hash
        (erasure by either finds them), else the order's own."""
        if order.customer.id is not None:
            return customer_subject(order.store_id, order.customer.id)
        if contacts:
            return f"contact:{order.store_id}:{contacts[0][:32]}"
        return f"order:{order.store_id}:{order.order_id}"

    # --- unsealing where the text is needed ---------------------------------------------

    async def unseal_order(self, order: Order) -> Order:
        """The order with its contact data as text. Raises `CustomerErased` when the
        customer's key is gone."""
        if not order.customer.sealed:
            return order
        return await _in_thread(self._unseal_order, order)

    def _unseal_order(self, order: Order) -> Order:
        customer = order.customer
        plain: dict[str, str] = {}
        for field in CONTACT_FIELDS:
            value = getattr(customer, field)
            if isinstance(value, Sealed):
                text = self._open(value)
                if text is None:
                    raise CustomerErased(f"the data of {value.subject} was erased")
                plain[field] = text
        return order.model_copy(update={"customer": customer.model_copy(update=plain)})

    async def unseal_text(self, value: str | Sealed | None) -> str | None:
        """A sealed free text as text; `[erased]` once its customer was erased."""
        if value is None or isinstance(value, str):
            return value
        text = await _in_thread(self._open, value)
        return ERASED if text is None else text

    def _open(self, value: Sealed) -> str | None:
        key = self._data_key(value.subject, create=False)
        if key is None or key[0] != value.key_id:
            return None
        return _open_box(key, value)

    async def reveal(self, document: Any) -> Any:
        """`document` (decoded JSON) with every sealed value replaced by its text, or by
        `[erased]`: what an operator's decoded view shows."""
        return await _in_thread(self._reveal, document, {})

    def _reveal(self, node: Any, keys: dict[str, tuple[str, bytes] | None]) -> Any:
        if isinstance(node, list):
            return [self._reveal(item, keys) for item in node]
        if not isinstance(node, Mapping):
            return node
        if node.get("sealed") == SEALED_MARK:
            try:
                value = Sealed.model_validate(node)
            except ValueError:
                return node
            if value.subject not in keys:
                keys[value.subject] = self._data_key(value.subject, create=False)
            key = keys[value.subject]
            if key is None or key[0] != value.key_id:
                return ERASED
            return _open_box(key, value) or ERASED
        return {name: self._reveal(item, keys) for name, item in node.items()}

    # --- erasure --------------------------------------------------------------------------

    async def forget(
        self,
        store_id: str,
        *,
        customer_id: str | None = None,
        email: str | None = None,
        phone: str | None = None,
    ) -> Erasure:
        """Delete the data keys of the store's customer known by any of the identifiers
        given. Their journeys are returned for the caller to stop."""
        return await _in_thread(self._forget, store_id, customer_id, email, phone)

    def _forget(
        self, store_id: str, customer_id: str | None, email: str | None, phone: str | None
    ) -> Erasure:
        subjects: list[str] = []
        if customer_id is not None:
            subjects.append(customer_subject(store_id, customer_id))
        for contact in (email, phone):
            if contact is not None:
                found = self.store.subjects_with_contact(self._contact_hash(store_id, contact))
                subjects += [s for s in found if s.split(":")[1] == store_id]
        subjects = sorted(set(subjects))
        journeys = self.store.journeys_of(subjects)
        deleted = self.store.delete_data_keys(subjects)
        now = datetime.now(UTC).isoformat()
        for subject in subjects:
            self.store.record_erasure(self._hash(subject), now)
        return Erasure(subjects=len(subjects), keys_deleted=deleted, journey_ids=journeys)

    # --- keys -----------------------------------------------------------------------------

    def check(self) -> None:
        """At start-up: every configured master key is the one the store knows by its
        id, and every data key is wrapped by a configured one. Raises `KeyConfigError`."""
        for master in self.ring.keys:
            cipher = AESGCM(master.secret)
            aad = _KEY_CHECK + master.id.encode()
            known = self.store.key_check(master.id)
            if known is None:
                nonce = os.urandom(NONCE_BYTES)
                self.store.add_key_check(master.id, nonce + cipher.encrypt(nonce, aad, aad))
                continue
            try:
                cipher.decrypt(known[:NONCE_BYTES], known[NONCE_BYTES:], aad)
            except InvalidTag as err:
                raise KeyConfigError(
                    f"payload key {master.id!r} is not the key of that id this key store "
                    f"({self.store.description}) was used with"
                ) from err
        wrapping = {k.master_key_id for k in self.store.all_data_keys()}
        secret = self.store.secret(CONTACT_HASH_KEY)
        if secret is not None:
            wrapping.add(secret[0])
        missing = sorted(wrapping - set(self.ring.ids))
        if missing:
            raise KeyConfigError(
                f"data keys in {self.store.description} are wrapped by payload key "
                f"{missing[0]!r}, which is not configured: list it until `keys rewrap` ran"
            )

    def rewrap(self) -> int:
        """Wrap every data key, and the contact-hash key, under the current master key;
        the count rewrapped."""
        current, count = self.ring.current, 0
        for stored in self.store.all_data_keys():
            if stored.master_key_id == current.id:
                continue
            secret = self._unwrap(stored)
            self.store.replace_wrapping(
                _wrap(current.id, current.secret, stored.subject, stored.key_id, secret)
            )
            count += 1
        hash_key = self.store.secret(CONTACT_HASH_KEY)
        if hash_key is not None and hash_key[0] != current.id:
            plain = self._unwrap(StoredKey(CONTACT_HASH_KEY, "secret", *hash_key))
            fresh = _wrap(current.id, current.secret, CONTACT_HASH_KEY, "secret", plain)
            self.store.replace_secret(CONTACT_HASH_KEY, current.id, fresh.wrapped)
            count += 1
        return count

    def _data_key(self, subject: str, *, create: bool) -> tuple[str, bytes] | None:
        """(key id, key) of the subject, made when `create`; None when it has none."""
        stored = self.store.data_key(subject)
        if stored is None and create:
            current = self.ring.current
            fresh = _wrap(
                current.id,
                current.secret,
                subject,
                secrets.token_hex(8),
                secrets.token_bytes(KEY_BYTES),
            )
            stored = self.store.add_data_key(fresh, datetime.now(UTC).isoformat())
        if stored is None:
            return None
        return stored.key_id, self._unwrap(stored)

    def _unwrap(self, stored: StoredKey) -> bytes:
        master = self.ring.get(stored.master_key_id)
        if master is None:
            raise DataKeyLocked(
                f"the data key of {stored.subject} is wrapped by payload key "
                f"{stored.master_key_id!r}, which is not configured"
            )
        nonce, wrapped = stored.wrapped[:NONCE_BYTES], stored.wrapped[NONCE_BYTES:]
        try:
            return AESGCM(master.secret).decrypt(nonce, wrapped, _wrap_aad(stored))
        except InvalidTag as err:
            raise DataKeyLocked(
                f"payload key {master.id!r} does not unwrap the data key of {stored.subject}"
            ) from err

    def _contact_hash(self, store_id: str, contact: str) -> str:
        """A keyed hash of an email (case-folded) or an E.164 phone, per store."""
        normalized = contact.strip().casefold()
        return self._hash(f"{store_id}\x00{normalized}")

    def _hash(self, text: str) -> str:
        return hmac.new(self._hash_key(), text.encode(), hashlib.sha256).hexdigest()

    def _hash_key(self) -> bytes:
        if self._contact_key is None:
            stored = self.store.secret(CONTACT_HASH_KEY)
            if stored is None:
                current = self.ring.current
                fresh = _wrap(
                    current.id,
                    current.secret,
                    CONTACT_HASH_KEY,
                    "secret",
                    secrets.token_bytes(KEY_BYTES),
                )
                stored = self.store.add_secret(CONTACT_HASH_KEY, current.id, fresh.wrapped)
            master_id, wrapped = stored
            self._contact_key = self._unwrap(
                StoredKey(CONTACT_HASH_KEY, "secret", master_id, wrapped)
            )
        return self._contact_key


def _wrap(master_id: str, master: bytes, subject: str, key_id: str, secret: bytes) -> StoredKey:
    nonce = os.urandom(NONCE_BYTES)
    stored = StoredKey(subject, key_id, master_id, b"")
    wrapped = AESGCM(master).encrypt(nonce, secret, _wrap_aad(stored))
    return StoredKey(subject, key_id, master_id, nonce + wrapped)


def _wrap_aad(stored: StoredKey) -> bytes:
    # Binds a wrapped key to its subject: a key moved to another row does not open.
    return f"journey-data-key/v1:{stored.subject}:{stored.key_id}".encode()


def _field_aad(subject: str, key_id: str, field: str) -> bytes:
    return f"journey-sealed/v1:{subject}:{key_id}:{field}".encode()


def _seal(key: tuple[str, bytes], subject: str, field: MaskKind, text: str) -> Sealed:
    key_id, secret = key
    nonce = os.urandom(NONCE_BYTES)
    box = nonce + AESGCM(secret).encrypt(nonce, text.encode(), _field_aad(subject, key_id, field))
    return Sealed(
        subject=subject,
        key_id=key_id,
        field=field,
        masked=MASKS[field](text),
        box=base64.b64encode(box).decode(),
    )


def _open_box(key: tuple[str, bytes], value: Sealed) -> str | None:
    key_id, secret = key
    box = base64.b64decode(value.box)
    try:
        plain = AESGCM(secret).decrypt(
            box[:NONCE_BYTES], box[NONCE_BYTES:], _field_aad(value.subject, key_id, value.field)
        )
    except InvalidTag:
        return None
    return plain.decode()


async def _in_thread(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    # Key store calls block (SQLite, psycopg): off the event loop.
    return await asyncio.to_thread(function, *args, **kwargs)
