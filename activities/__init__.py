"""Activities: everything a journey does to the outside world."""

from __future__ import annotations

from activities.channels import make_adapters
from activities.config import WorkerConfig
from activities.messages import JourneyActivities
from activities.rendering import Renderer


def build_activities(config: WorkerConfig) -> JourneyActivities:
    return JourneyActivities(
        Renderer(config.templates_dir),
        make_adapters(config),
        config.feedback_secret.get_secret_value().encode(),
    )


__all__ = ["JourneyActivities", "WorkerConfig", "build_activities"]
