"""Journeys asleep for days must survive a deploy: every committed history replays
against today's workflow code with the production data converter."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from connection import DATA_CONVERTER
from worker import sandbox_runner
from workflows import PostPurchaseJourney

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories_to_replay() -> None:
    names = {path.stem for path in HISTORIES}
    assert {"v1-default-journey", "v1-retried-then-rejected", "v1-invalid-recipient"} <= names


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_without_nondeterminism(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(
        workflows=[PostPurchaseJourney],
        data_converter=DATA_CONVERTER,
        workflow_runner=sandbox_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
