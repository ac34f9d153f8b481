"""The pure parts of the WhatsApp webhook: the signature, the callback data sends carry,
what each error code means, opt-out keywords and the phone's keyed hash."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from models.conversation import FallbackScope
from whatsapp import callback
from whatsapp.failures import classify
from whatsapp.keywords import DEFAULT_OPT_OUT_KEYWORDS, normalize, opt_out_keyword
from whatsapp.phones import canonical_phone, phone_hash
from whatsapp.signature import sign, verify

SECRET = b"meta-app-secret"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def test_the_signature_is_sha256_and_the_hmac_of_the_raw_body() -> None:
    expected = "sha256=" + hmac.new(SECRET, BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY) == expected
    assert verify(SECRET, BODY, expected)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=" + "0" * 64,
        hmac.new(SECRET, BODY, hashlib.sha256).hexdigest(),  # without `sha256=`
        "sha1=" + hmac.new(SECRET, BODY, hashlib.sha1).hexdigest(),
        sign(b"another app", BODY),
        sign(SECRET, BODY + b" "),  # one byte more than what was signed
        "sha256=é" + "0" * 63,  # not ASCII: refused, never an error
    ],
)
def test_any_other_signature_is_refused(header: str | None) -> None:
    assert not verify(SECRET, BODY, header)


def test_callback_data_names_the_journey_step_and_template_and_reads_back() -> None:
    data = callback.encode("post-purchase:loja-1:PED-1", "feedback_request", "feedback_request")
    assert data == "pj1|post-purchase:loja-1:PED-1|feedback_request|feedback_request"
    found = callback.decode(data)
    assert found == callback.Correlation(
        "post-purchase:loja-1:PED-1", "feedback_request", "feedback_request"
    )
    longest = callback.encode(f"post-purchase:{'a' * 64}:{'b' * 64}", "s" * 40, "t" * 60)
    assert len(longest) <= callback.MAX_LENGTH


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "campanha-black-friday",
        "pj2|post-purchase:loja-1:PED-1|thanks|thanks",
        "pj1|other:loja-1:PED-1|thanks|thanks",
        "pj1|post-purchase:loja-1:PED-1|Thanks|thanks",
        "pj1|post-purchase:loja-1:PED-1|thanks",
        "pj1|post-purchase:loja 1:PED-1|thanks|thanks",
        "pj1|post-purchase:loja-1:PED-1|thanks|thanks|extra",
    ],
)
def test_callback_data_that_is_not_ours_reads_as_none(data: str | None) -> None:
    assert callback.decode(data) is None


def test_callback_data_refuses_what_it_cannot_carry() -> None:
    with pytest.raises(ValueError):
        callback.encode("journey-1", "thanks", "thanks")


@pytest.mark.parametrize(
    ("code", "error_type", "scope"),
    [
        (131026, "RecipientUnreachable", FallbackScope.CHANNEL),
        (131021, "RecipientUnreachable", FallbackScope.CHANNEL),
        (131030, "RecipientUnreachable", FallbackScope.CHANNEL),
        (131047, "TemplateRequired", FallbackScope.MESSAGE),
        (131049, "MarketingCapReached", FallbackScope.MESSAGE),
        (131050, "MarketingStopped", FallbackScope.MESSAGE),
        (130472, "MarketingExperiment", FallbackScope.MESSAGE),
        (131056, "MessageFailed", FallbackScope.NONE),  # the business's rate, not the customer
        (368, "MessageFailed", FallbackScope.NONE),
        (131000, "MessageFailed", FallbackScope.NONE),
        (None, "MessageFailed", FallbackScope.NONE),
    ],
)
def test_each_error_code_says_whether_the_next_channel_takes_over(
    code: int | None, error_type: str, scope: FallbackScope
) -> None:
    failure = classify(code)
    assert (failure.error_type, failure.fallback) == (error_type, scope)


@pytest.mark.parametrize(
    "text",
    [
        "PARAR",
        "parar",
        "Parar",
        " PARAR ",
        "P A R A R",
        "parár",
        "Parar!",
        "parar 🛑",
        "SAIR",
        "Cancelar.",
        "stop",
        "Descadastrar",
        "unsubscribe",
        "ＳＴＯＰ",
    ],
)
def test_every_default_keyword_matches_whatever_the_case_accents_or_spacing(text: str) -> None:
    assert opt_out_keyword(text, DEFAULT_OPT_OUT_KEYWORDS) is not None


@pytest.mark.parametrize(
    "text",
    [
        "não quero parar de receber",
        "parar?? por quê",
        "pare",
        "",
        "🛑",
        "parar" * 200,
        "sair daqui",
    ],
)
def test_a_message_that_only_mentions_a_keyword_is_no_opt_out(text: str) -> None:
    assert opt_out_keyword(text, DEFAULT_OPT_OUT_KEYWORDS) is None


def test_a_store_lists_its_own_keywords_and_the_match_names_the_one_it_wrote() -> None:
    keywords = ["Não quero mais", "BASTA"]
    assert opt_out_keyword("nao quero mais", keywords) == "Não quero mais"
    assert opt_out_keyword("basta", keywords) == "BASTA"
    assert opt_out_keyword("PARAR", keywords) is None
    assert normalize("  Não   Quero-Mais! ") == "naoqueromais"


def test_the_phone_hash_is_keyed_and_never_the_number() -> None:
    hashed = phone_hash("+5511987654321", b"phone-secret-0123456789")
    assert hashed is not None and len(hashed) == 64 and "987654321" not in hashed
    assert hashed == phone_hash("5511987654321", b"phone-secret-0123456789")  # wa_id form
    assert hashed != phone_hash("+5511987654321", b"another-secret-0123456789")


def test_a_brazilian_mobile_without_its_ninth_digit_hashes_as_with_it() -> None:
    secret = b"phone-secret-0123456789"
    assert canonical_phone("551187654321") == "+5511987654321"
    assert phone_hash("551187654321", secret) == phone_hash("+5511987654321", secret)
    # A landline (first digit 2 to 5) has eight digits and keeps them.
    assert canonical_phone("551133334444") == "+551133334444"
    assert canonical_phone("+14155550123") == "+14155550123"


@pytest.mark.parametrize(
    "number", ["", "+", "abc", "+55 11 98765-4321", "١٢٣٤٥٦٧٨٩", "1234567", "1" * 16]
)
def test_what_is_not_a_number_has_no_hash(number: str) -> None:
    assert canonical_phone(number) is None
    assert phone_hash(number, b"phone-secret-0123456789") is None
