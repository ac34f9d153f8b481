"""The stores the service serves, registered server-side: a directory of store files,
each with the store's journey settings, its plan and the secret its requests are signed
with. A request never supplies or overrides a store's settings. Every file is checked
when the service starts, one line per problem, and a bad one stops it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator

from intake import InvalidJourney, RenderMemo, load_json, validate_store
from intake.problems import field_problems
from models import JourneyPlan, JourneySettings
from models.base import Strict
from models.order import BusinessId
from whatsapp.keywords import DEFAULT_OPT_OUT_KEYWORDS, MAX_KEYWORD_LENGTH, normalize


class StoreWhatsApp(Strict):
    """How the store's WhatsApp number talks back: the number Meta's webhook names, and
    the words that opt a customer out."""

    phone_number_id: str = Field(
        pattern=r"^[0-9]{1,32}$",
        description="The Cloud API's id of the store's number (WhatsApp Manager, API "
        "setup): messages to it are this store's.",
    )
    opt_out_keywords: list[str] = Field(
        default_factory=lambda: list(DEFAULT_OPT_OUT_KEYWORDS),
        min_length=1,
        max_length=50,
        description="A customer who writes one of these, alone, is opted out; matched "
        "without regard to case, accents or spacing.",
    )

    @field_validator("opt_out_keywords")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for keyword in value:
            said = normalize(keyword)
            if not said or len(keyword) > MAX_KEYWORD_LENGTH:
                raise ValueError(
                    f"{keyword[:60]!r} must hold a letter or digit, in {MAX_KEYWORD_LENGTH} "
                    "characters at most"
                )
            if said in seen:
                raise ValueError(f"{keyword!r} repeats another keyword")
            seen.add(said)
        return value


class StoreFile(Strict):
    """One store's file."""

    store_id: BusinessId
    api_secret: SecretStr = Field(
        min_length=32, description="Signs the store's requests (HMAC-SHA256); keep it private."
    )
    settings: dict[str, Any]
    plan: dict[str, Any] | None = None
    whatsapp: StoreWhatsApp | None = None


# Shapes of order data remembered per store (see `intake.dry_run`); past this many, the
# memo starts again rather than grow without end.
MEMO_SHAPES = 1024


@dataclass(frozen=True)
class Store:
    store_id: str
    api_secret: bytes
    settings: JourneySettings
    plan: JourneyPlan
    # The dry run's results by shape of order data: the store's settings, plan and
    # templates are the same for all its orders, so each shape renders once.
    render_memo: RenderMemo = field(default_factory=dict)
    whatsapp: StoreWhatsApp | None = None

    def memo(self) -> RenderMemo:
        if len(self.render_memo) >= MEMO_SHAPES:
            self.render_memo.clear()
        return self.render_memo


class InvalidStores(Exception):
    """The store files cannot be served; `problems` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_stores(directory: Path) -> dict[str, Store]:
    """Every store of the directory by id, or `InvalidStores` naming each problem."""
    if not directory.is_dir():
        raise InvalidStores([f"JOURNEY_STORES_DIR: {directory} is not a directory"])
    stores: dict[str, Store] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.json")):
        try:
            store = _load(path)
        except InvalidJourney as err:
            problems += [f"{path.name}: {line}" for line in err.problems]
            continue
        if store.store_id in stores:
            problems.append(f"{path.name}: store_id: {store.store_id!r} is in another file too")
        number = store.whatsapp.phone_number_id if store.whatsapp else None
        if number and any(
            s.whatsapp and s.whatsapp.phone_number_id == number for s in stores.values()
        ):
            problems.append(
                f"{path.name}: whatsapp.phone_number_id: {number} is another store's too"
            )
        stores[store.store_id] = store
    if not stores and not problems:
        problems.append(f"JOURNEY_STORES_DIR: {directory} has no store file (*.json)")
    if problems:
        raise InvalidStores(problems)
    return stores


def _load(path: Path) -> Store:
    try:
        file = StoreFile.model_validate(load_json(path, "store"))
    except ValidationError as err:
        raise InvalidJourney(field_problems("store", err)) from None
    settings, plan = validate_store(file.settings, file.plan)
    secret = file.api_secret.get_secret_value().encode()
    return Store(file.store_id, secret, settings, plan, whatsapp=file.whatsapp)
