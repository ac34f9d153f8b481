"""The webhook's settings and the store file's WhatsApp section, checked when the
service starts: one line per problem, naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests import builders
from tests.conftest import FEEDBACK_SECRET
from tests.web_service import STORES
from web.settings import ServiceSettings
from web.stores import InvalidStores, load_stores
from whatsapp.keywords import DEFAULT_OPT_OUT_KEYWORDS


def test_the_app_secret_alone_names_the_settings_it_needs_too(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as exc:
        ServiceSettings(
            stores_dir=tmp_path, feedback_secret=FEEDBACK_SECRET, whatsapp_app_secret="s" * 32
        )
    [error] = exc.value.errors()
    assert error["msg"] == (
        "Value error, the WhatsApp webhook needs JOURNEY_WHATSAPP_VERIFY_TOKEN and "
        "JOURNEY_PHONE_HASH_SECRET too"
    )


def test_the_example_store_has_its_number_and_the_default_keywords() -> None:
    store = load_stores(STORES)["loja-exemplo"]
    assert store.whatsapp is not None
    assert store.whatsapp.phone_number_id == "109876543210"
    assert store.whatsapp.opt_out_keywords == list(DEFAULT_OPT_OUT_KEYWORDS)


def write_store(directory: Path, name: str, whatsapp: Any) -> None:
    document = {
        "store_id": name,
        "api_secret": "x" * 32,
        "settings": builders.settings(),
        "whatsapp": whatsapp,
    }
    (directory / f"{name}.json").write_text(json.dumps(document), "utf-8")


@pytest.mark.parametrize(
    ("whatsapp", "line"),
    [
        (
            {"phone_number_id": "12 34"},
            "loja-a.json: store.whatsapp.phone_number_id: String should match",
        ),
        ({}, "loja-a.json: store.whatsapp.phone_number_id: Field required"),
        (
            {"phone_number_id": "1", "opt_out_keywords": ["PARAR", "!!!"]},
            "loja-a.json: store.whatsapp.opt_out_keywords: '!!!' must hold a letter",
        ),
        (
            {"phone_number_id": "1", "opt_out_keywords": ["Parar", "PARAR"]},
            "loja-a.json: store.whatsapp.opt_out_keywords: 'PARAR' repeats another",
        ),
        ({"phone_number_id": "1", "opt_out_keywords": []}, "store.whatsapp.opt_out_keywords"),
        ({"phone_number_id": "1", "surprise": 1}, "store.whatsapp.surprise: Extra inputs"),
    ],
)
def test_a_bad_whatsapp_section_stops_the_service_naming_the_field(
    tmp_path: Path, whatsapp: Any, line: str
) -> None:
    write_store(tmp_path, "loja-a", whatsapp)
    with pytest.raises(InvalidStores) as exc:
        load_stores(tmp_path)
    [problem] = exc.value.problems
    assert line in problem, problem


def test_two_stores_cannot_share_a_number(tmp_path: Path) -> None:
    write_store(tmp_path, "loja-a", {"phone_number_id": "555"})
    write_store(tmp_path, "loja-b", {"phone_number_id": "555"})
    with pytest.raises(InvalidStores) as exc:
        load_stores(tmp_path)
    assert exc.value.problems == [
        "loja-b.json: whatsapp.phone_number_id: 555 is another store's too"
    ]
