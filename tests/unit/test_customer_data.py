"""Customer data protection, piece by piece: master keys from configuration, the payload
codec, customers' data keys in a real SQLite key store, erasure, rotation, and masks."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from customer_data import KeyRing, ProtectionError, protect
from customer_data.codec import ENCODING, KEY_ID, EncryptionCodec, PayloadKeyError
from customer_data.config import protection_from_env
from customer_data.key_store import open_key_store
from customer_data.keys import KeyConfigError, new_key_line
from customer_data.vault import CustomerErased, Vault
from models.order import DeliveredOrder, Order
from models.sealed import ERASED, Sealed, mask_email, mask_name, mask_phone
from tests import builders

K1 = new_key_line("k1")
K2 = new_key_line("k2")
ANA = builders.order()
BRUNO = builders.order(
    order_id="PED-2",
    customer={
        "id": "C-2",
        "name": "Bruno Lima",
        "email": "bruno@example.com",
        "phone": "+5521912345678",
    },
)


def vault(tmp_path: Path, keys: str = K1) -> Vault:
    return protect(KeyRing.parse(keys, "test"), str(tmp_path / "keys.db")).vault


def as_order(data: dict[str, object]) -> Order:
    return DeliveredOrder.model_validate(data)


# --- master keys from configuration ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no payload key"),
        ("k1", "expected 'id:base64-key'"),
        ("k1:not-base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "the key is 5 bytes; AES-256 needs 32"),
        (f"{K1},{K1}", "listed twice"),
        ("bad id:" + K1.split(":")[1], "key id 'bad id'"),
    ],
)
def test_a_malformed_key_is_refused_with_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(KeyConfigError, match=says):
        KeyRing.parse(text, "JOURNEY_PAYLOAD_KEYS")


def test_a_key_file_lists_keys_one_a_line_with_comments(tmp_path: Path) -> None:
    path = tmp_path / "payload-keys"
    path.write_text(f"# new key first\n{K2}\n{K1}  # until rewrapped\n", encoding="utf-8")
    assert KeyRing.from_file(path).ids == ["k2", "k1"]


def test_no_key_at_all_says_how_to_make_one(tmp_path: Path) -> None:
    env = {"JOURNEY_KEY_STORE": str(tmp_path / "keys.db")}
    with pytest.raises(ProtectionError, match="keys new"):
        protection_from_env(env)


def test_a_key_store_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    env = {"JOURNEY_PAYLOAD_KEYS": K1, "JOURNEY_KEY_STORE": str(tmp_path / "no" / "such" / "k.db")}
    with pytest.raises(ProtectionError, match="JOURNEY_KEY_STORE"):
        protection_from_env(env)


def test_a_key_store_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    path.write_bytes(b"this is not a database" * 100)
    env = {"JOURNEY_PAYLOAD_KEYS": K1, "JOURNEY_KEY_STORE": str(path)}
    with pytest.raises(ProtectionError, match="JOURNEY_KEY_STORE"):
        protection_from_env(env)


def test_encryption_off_needs_no_key() -> None:
    assert protection_from_env({"JOURNEY_ENCRYPTION": "off"}) is None


def test_a_different_key_under_a_known_id_is_refused_at_start(tmp_path: Path) -> None:
    vault(tmp_path, K1)
    impostor = "k1:" + K2.split(":")[1]
    with pytest.raises(ProtectionError, match="'k1' is not the key of that id"):
        vault(tmp_path, impostor)


def test_dropping_a_key_that_still_wraps_data_keys_is_refused_at_start(tmp_path: Path) -> None:
    asyncio.run(vault(tmp_path, K1).seal_order(as_order(ANA), "j-1"))
    with pytest.raises(ProtectionError, match="wrapped by payload key 'k1', which is not"):
        vault(tmp_path, K2)


# --- the payload codec -------------------------------------------------------------------


async def test_a_payload_is_encrypted_whole_and_names_its_key() -> None:
    codec = EncryptionCodec(KeyRing.parse(K1, "test"))
    converter = DataConverter(payload_codec=codec)
    [payload] = await converter.encode([ANA])
    assert payload.metadata["encoding"] == ENCODING
    assert payload.metadata[KEY_ID] == b"k1"
    assert b"Ana" not in payload.SerializeToString()
    assert b"json/plain" not in payload.SerializeToString()
    [back] = await converter.decode([payload], [dict])
    assert back == ANA


async def test_each_encryption_is_fresh() -> None:
    codec = EncryptionCodec(KeyRing.parse(K1, "test"))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"same"')
    assert codec.encrypt(plain).data != codec.encrypt(plain).data


async def test_a_payload_under_an_unconfigured_key_names_it() -> None:
    encrypted = EncryptionCodec(KeyRing.parse(K2, "test")).encrypt(Payload(data=b"x"))
    with pytest.raises(PayloadKeyError, match="key 'k2', which is not configured"):
        await EncryptionCodec(KeyRing.parse(K1, "test")).decode([encrypted])


async def test_a_tampered_payload_is_refused() -> None:
    codec = EncryptionCodec(KeyRing.parse(K1, "test"))
    encrypted = codec.encrypt(Payload(data=b"x"))
    encrypted.data = encrypted.data[:-1] + bytes([encrypted.data[-1] ^ 1])
    with pytest.raises(PayloadKeyError, match="does not decrypt"):
        codec.decrypt(encrypted)


async def test_a_cut_off_payload_is_refused_not_crashed_on() -> None:
    codec = EncryptionCodec(KeyRing.parse(K1, "test"))
    encrypted = codec.encrypt(Payload(data=b"x"))
    encrypted.data = encrypted.data[:5]
    with pytest.raises(PayloadKeyError, match="too short"):
        codec.decrypt(encrypted)


async def test_payloads_written_before_encryption_still_decode() -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')
    [back] = await EncryptionCodec(KeyRing.parse(K1, "test")).decode([plain])
    assert back == plain


async def test_a_new_key_encrypts_and_the_old_one_still_decrypts() -> None:
    old = EncryptionCodec(KeyRing.parse(K1, "test")).encrypt(Payload(data=b"before"))
    rotated = EncryptionCodec(KeyRing.parse(f"{K2},{K1}", "test"))
    assert rotated.decrypt(old).data == b"before"
    assert rotated.encrypt(Payload(data=b"after")).metadata[KEY_ID] == b"k2"


# --- sealing, erasure, rotation -----------------------------------------------------------


async def test_an_order_is_sealed_masked_and_unsealed(tmp_path: Path) -> None:
    v = vault(tmp_path)
    sealed = await v.seal_order(as_order(ANA), "j-1")
    customer = sealed.customer
    assert isinstance(customer.name, Sealed) and isinstance(customer.phone, Sealed)
    text = sealed.model_dump_json()
    for plain in ("Ana", "ana@example.com", "+5511987654321", "987654321"):
        assert plain not in text
    assert customer.masks() == {
        "name": "A*** S***",
        "email": "a***@example.com",
        "phone": "+55 11 9****-4321",
    }
    opened = await v.unseal_order(sealed)
    assert opened.customer.plain("name") == "Ana Souza"
    assert opened.customer.plain("phone") == "+5511987654321"


async def test_a_sealed_order_survives_the_trip_through_json(tmp_path: Path) -> None:
    sealed = await vault(tmp_path).seal_order(as_order(ANA), "j-1")
    again = DeliveredOrder.model_validate_json(sealed.model_dump_json())
    assert again == sealed


async def test_forgetting_a_customer_erases_theirs_and_no_one_else(tmp_path: Path) -> None:
    v = vault(tmp_path)
    ana = await v.seal_order(as_order(ANA), "j-ana")
    bruno = await v.seal_order(as_order(BRUNO), "j-bruno")
    comment = await v.seal_comment("j-ana", "chegou amassado")

    erasure = await v.forget("loja-1", email="ANA@example.com")

    assert (erasure.subjects, erasure.keys_deleted, erasure.journey_ids) == (1, 1, ["j-ana"])
    with pytest.raises(CustomerErased):
        await v.unseal_order(ana)
    assert await v.unseal_text(comment) == ERASED
    history = json.loads(ana.model_dump_json())
    assert (await v.reveal(history))["customer"]["name"] == ERASED
    assert (await v.unseal_order(bruno)).customer.plain("name") == "Bruno Lima"


async def test_a_customer_is_found_by_id_email_or_phone(tmp_path: Path) -> None:
    v = vault(tmp_path)
    await v.seal_order(as_order(BRUNO), "j-bruno")
    await v.seal_order(as_order(dict(BRUNO, order_id="PED-3")), "j-bruno-2")
    by_phone = await v.forget("loja-1", phone="+5521912345678")
    assert sorted(by_phone.journey_ids) == ["j-bruno", "j-bruno-2"]
    assert by_phone.keys_deleted == 1  # one customer, one key, both orders
    again = await v.forget("loja-1", customer_id="C-2")
    assert again.keys_deleted == 0


async def test_another_store_with_the_same_email_is_not_touched(tmp_path: Path) -> None:
    v = vault(tmp_path)
    other = await v.seal_order(as_order(dict(ANA, store_id="loja-2")), "j-other")
    await v.seal_order(as_order(ANA), "j-ana")
    await v.forget("loja-1", email="ana@example.com")
    assert (await v.unseal_order(other)).customer.plain("email") == "ana@example.com"


async def test_data_sealed_under_key_1_opens_under_key_2_after_rewrap(tmp_path: Path) -> None:
    sealed = await vault(tmp_path, K1).seal_order(as_order(ANA), "j-1")
    rotated = vault(tmp_path, f"{K2},{K1}")
    assert rotated.rewrap() == 2  # Ana's data key and the contact hash key
    only_new = vault(tmp_path, K2)
    assert (await only_new.unseal_order(sealed)).customer.plain("name") == "Ana Souza"
    assert (await only_new.forget("loja-1", email="ana@example.com")).keys_deleted == 1


def test_the_key_store_keeps_no_contact_in_plaintext(tmp_path: Path) -> None:
    v = vault(tmp_path)
    asyncio.run(v.seal_order(as_order(BRUNO), "j-bruno"))
    v.store.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("keys.db*"))
    for plain in ("Bruno", "bruno@example.com", "+5521912345678", "5521912345678"):
        assert plain.encode() not in stored


def test_the_key_store_opens_by_location(tmp_path: Path) -> None:
    store = open_key_store(str(tmp_path / "k.db"))
    assert "k.db" in store.description


# --- what operators see ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mask", "value", "shown"),
    [
        (mask_email, "maria.silva@example.com", "m***@example.com"),
        (mask_phone, "+5511987654321", "+55 11 9****-4321"),
        (mask_phone, "+551132654321", "+55 11 3***-4321"),
        (mask_phone, "+447700900123", "+44 ******0123"),
        (mask_name, "Maria da Silva", "M*** d*** S***"),
    ],
)
def test_masks_keep_only_what_tells_customers_apart(
    mask: Callable[[str], str], value: str, shown: str
) -> None:
    assert mask(value) == shown


async def test_an_order_whose_customer_changed_is_found_by_either(tmp_path: Path) -> None:
    """The store corrected the order's customer between two events: the journey is
    linked to both, and what it seals next is under the newer one's key."""
    v = vault(tmp_path)
    await v.seal_order(as_order(ANA), "j-1")
    await v.seal_order(as_order(dict(BRUNO, order_id=ANA["order_id"])), "j-1")
    comment = await v.seal_comment("j-1", "ótimo")
    assert comment.subject == "customer:loja-1:C-2"
    assert (await v.forget("loja-1", email="ana@example.com")).journey_ids == ["j-1"]
    assert (await v.forget("loja-1", customer_id="C-2")).journey_ids == ["j-1"]
