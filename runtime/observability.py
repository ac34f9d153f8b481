"""The worker's metrics endpoint and log format.

Metrics: with JOURNEY_METRICS_ADDRESS set (e.g. `127.0.0.1:9464`), the worker serves
Prometheus text at `http://{address}/metrics`: the SDK's own metrics (task latencies,
slots, poll failures, ...) and the journey's counters, which workflows and activities
add through the SDK's metric meter so that everything lands on the one endpoint.
Unset, no port is opened (several workers may share a host).

Logs: JOURNEY_LOG_FORMAT=json prints one JSON object per line with the workflow id,
the store and order ids and, inside an activity, the activity type and attempt; `text`
(the default) prints the same context in parentheses after the message. Either way,
emails and phone numbers are masked in every line, exceptions included: a provider's
error text can quote the address it refused.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from temporalio import activity, workflow
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from models.sealed import mask_email, mask_phone

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def metrics_runtime(bind_address: str | None) -> Runtime | None:
    """A runtime that serves Prometheus metrics on `bind_address`, or None (the SDK's
    default runtime, no endpoint)."""
    if not bind_address:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


def journey_context(record: logging.LogRecord) -> dict[str, Any]:
    """The workflow and activity context the SDK's loggers attach to a record, or the
    journey a web request was about (`extra={"journey_id": ...}`)."""
    context: dict[str, Any] = {}
    journey_id = getattr(record, "journey_id", None)
    if isinstance(journey_id, str):
        context["workflow_id"] = journey_id
    workflow = getattr(record, "temporal_workflow", None)
    activity = getattr(record, "temporal_activity", None)
    if isinstance(workflow, dict):
        context["workflow_id"] = workflow.get("workflow_id")
        context["run_id"] = workflow.get("run_id")
        context["workflow_type"] = workflow.get("workflow_type")
    if isinstance(activity, dict):
        context["workflow_id"] = activity.get("workflow_id")
        context["run_id"] = activity.get("workflow_run_id")
        context["activity_type"] = activity.get("activity_type")
        context["attempt"] = activity.get("attempt")
    workflow_id = context.get("workflow_id")
    if isinstance(workflow_id, str) and workflow_id.count(":") == 2:
        # The business key `post-purchase:{store_id}:{order_id}` names the order.
        _, context["store_id"], context["order_id"] = workflow_id.split(":")
    return {k: v for k, v in context.items() if v is not None}


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# E.164 with its plus, and Brazilian numbers as WhatsApp's API writes them (55 + DDD +
# number, no plus); not bare digit runs in general, which are ids and times.
_PHONE = re.compile(r"\+\d{8,15}\b|\b55\d{10,11}\b")


def redact_contacts(text: str) -> str:
    """`text` with every email and phone number masked."""
    text = _EMAIL.sub(lambda m: mask_email(m.group()), text)
    return _PHONE.sub(lambda m: mask_phone(m.group()), text)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_contacts(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log pipelines that index fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_contacts(record.getMessage()),
            **journey_context(record),
        }
        if record.exc_info:
            entry["exception"] = redact_contacts(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, log_format: str) -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        # The SDK's loggers append their context to the message in parentheses; in
        # JSON the fields carry it instead.
        workflow.logger.workflow_info_on_message = False
        activity.logger.activity_info_on_message = False
    else:
        handler.setFormatter(TextFormatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
