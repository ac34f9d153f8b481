"""The configuration reference names every environment variable the code reads: the
worker's and the web service's settings, and every variable name the code spells out."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from activities.config import WorkerConfig
from web.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "configuration.md"
# The project's own code: not its tests, benchmarks or environment.
CODE_OUTSIDE = {"tests", "bench", ".venv", "build"}
ENV_NAME = re.compile(r"(JOURNEY|TEMPORAL)_[A-Z0-9_]+")


def code_files() -> list[Path]:
    return [
        path for path in ROOT.rglob("*.py") if not CODE_OUTSIDE & set(path.relative_to(ROOT).parts)
    ]


def spelled_out_names() -> set[str]:
    """String literals that are, whole, an environment variable's name."""
    names = set()
    for path in code_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and ENV_NAME.fullmatch(text):
                names.add(text)
    return names


def settings_variables() -> set[str]:
    """The worker's and the web service's settings, each read from JOURNEY_<FIELD>."""
    names = set()
    for settings in (WorkerConfig, ServiceSettings):
        prefix = settings.model_config.get("env_prefix", "")
        names |= {f"{prefix}{field}".upper() for field in settings.model_fields}
    return names


def test_every_variable_the_code_reads_is_in_the_configuration_reference() -> None:
    documented = {m.group() for m in ENV_NAME.finditer(REFERENCE.read_text(encoding="utf-8"))}
    read = settings_variables() | spelled_out_names()
    assert "JOURNEY_SEARCH_ATTRIBUTES" in read and "JOURNEY_FEEDBACK_SECRET" in read
    missing = sorted(read - documented)
    assert missing == [], f"not in docs/configuration.md: {missing}"
