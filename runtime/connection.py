"""One way to reach Temporal for the worker, the starter and the tools.

Connection settings come from `temporalio.envconfig`: a TOML profile
(`TEMPORAL_CONFIG_FILE`, `TEMPORAL_PROFILE`) overridden by `TEMPORAL_ADDRESS`,
`TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS*` and friends. With nothing
set it is the local dev server on localhost:7233, namespace `default`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from urllib.parse import quote

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime

from customer_data import Protection, protection_from_env

# The data converter without encryption: pydantic models as JSON.
PLAIN_CONVERTER = pydantic_data_converter
DEFAULT_ADDRESS = "localhost:7233"


def data_converter(protection: Protection | None) -> DataConverter:
    """The one data converter: client, worker, web service, tests and replayer all use
    it. With protection, every payload goes through the encryption codec, which also
    carries the vault that seals and unseals customer data (`customer_data.vault_of`).
    Failures' messages and stack traces are encrypted too: a provider's error text can
    quote a customer's address."""
    if protection is None:
        return PLAIN_CONVERTER
    return dataclasses.replace(
        PLAIN_CONVERTER,
        payload_codec=protection.codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


class TemporalUnreachable(Exception):
    """Temporal could not be reached at the configured address; the message says where."""


async def connect(
    runtime: Runtime | None = None, protection: Protection | bool | None = True
) -> Client:
    """`runtime`: the worker's, when it serves metrics (observability.metrics_runtime).
    `protection`: customer data protection; True reads it from the environment
    (`customer_data.config`), which raises `ProtectionError` when misconfigured.
    Raises `TemporalUnreachable` with one line when the server cannot be reached."""
    if protection is True:
        protection = protection_from_env()
    converter = data_converter(protection or None)
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", DEFAULT_ADDRESS)
    try:
        return await Client.connect(**config, data_converter=converter, runtime=runtime)
    except (RuntimeError, ValueError) as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise TemporalUnreachable(
            f"cannot reach Temporal at {config['target_host']} ({detail}); "
            "set TEMPORAL_ADDRESS or start the dev server (python3 dev.py run)"
        ) from err


def web_ui_url(client: Client, workflow_id: str) -> str:
    """Where an operator sees the run. `JOURNEY_UI_URL` points at a production Web UI."""
    base = os.environ.get("JOURNEY_UI_URL", "http://localhost:8233").rstrip("/")
    return f"{base}/namespaces/{client.namespace}/workflows/{quote(workflow_id, safe='')}"


def exit_process(code: int) -> None:
    """Exit without interpreter teardown once all work is done.

    The SDK's Rust runtime threads can still be alive while CPython finalizes, which
    aborts the process ("PyGILState_Release ... must be current", temporalio/sdk-python
    issue 300) and turns a clean shutdown into exit code -6. Everything is flushed first.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
