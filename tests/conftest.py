from __future__ import annotations

import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities, WorkerConfig, build_activities
from models import search
from tests.fake_email import FakeEmail
from tests.fake_whatsapp import FakeWhatsApp
from tests.protection import converter, protection_env

if TYPE_CHECKING:
    from tests.harness import Harness

BIN = Path(sys.executable).parent
TESTS = Path(__file__).resolve().parent
FEEDBACK_SECRET = "test-feedback-secret-0123456789"


def binary(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: install the dev extras (python3 dev.py test)")
    return found


LAYERS = ("unit", "workflow", "integration", "browser")


def pytest_configure(config: pytest.Config) -> None:
    # Customer data is encrypted in tests as in production: the worker, web service
    # and command-line processes the tests start inherit the session's keys.
    os.environ.update(protection_env())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its layer, the folder it lives in: `-m unit` runs the fast
    layer alone. `dev.py sweep` runs `unit` and `workflow`: the integration and browser
    tests run on the dev server, whose clock faketime cannot move (a static Go binary)."""
    for item in items:
        layer = item.path.relative_to(TESTS).parts[0]
        if layer in LAYERS:
            item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(scope="session")
def temporal_cli() -> str:
    return binary("temporal")


@pytest.fixture(scope="session")
def test_server() -> str:
    return binary("temporal-test-server")


@pytest.fixture
async def time_skipping_env(test_server: str) -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test: its clock is global to the environment."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter(), test_server_existing_path=test_server
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def indexed_env(temporal_cli: str) -> AsyncIterator[WorkflowEnvironment]:
    """The dev server with the journey's search attributes registered, as in production."""
    env = await WorkflowEnvironment.start_local(
        data_converter=converter(),
        dev_server_existing_path=temporal_cli,
        search_attributes=search.ALL,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def outbox_path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.jsonl"


@pytest.fixture
async def outbox_activities(outbox_path: Path) -> AsyncIterator[JourneyActivities]:
    activities = build_activities(
        WorkerConfig(feedback_secret=FEEDBACK_SECRET, outbox_path=outbox_path, adapter="outbox")
    )
    yield activities
    await activities.aclose()


@pytest.fixture
async def harness(temporal_cli: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The dev server, the provider sink and room for workers, as OS processes."""
    from tests.harness import Harness  # it imports this module for the secret

    running = await Harness(temporal_cli, tmp_path).start()
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
def whatsapp() -> Iterator[FakeWhatsApp]:
    """The fake WhatsApp Cloud API on loopback, with the store's templates approved."""
    from tests.providers import APPROVED  # it imports this module for the secret

    with FakeWhatsApp(templates=dict(APPROVED)).running() as running:
        yield running


@pytest.fixture
def email() -> Iterator[FakeEmail]:
    """The fake email API on loopback."""
    with FakeEmail().running() as running:
        yield running


@pytest.fixture
async def provider_activities(
    whatsapp: FakeWhatsApp, email: FakeEmail
) -> AsyncIterator[JourneyActivities]:
    """The real activities, with WhatsApp and email pointed at the fakes."""
    from tests.providers import provider_config

    built = build_activities(provider_config(whatsapp, email))
    yield built
    await built.aclose()
