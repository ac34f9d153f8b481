"""The embedded default, end to end: `python3 dev.py run`.

Starts the Temporal dev server (Web UI on :8233, state in .journey/temporal.db), a
worker writing to the outbox .journey/outbox.jsonl, the web service on :8000 (the
store API, the customer pages and the codec server), and one demo delivered order whose
journey runs a day a second, printing each message as it lands. Then, through the store
API, it reports a second order delivered, whose journey runs at real speed, and prints
that journey's feedback page and unsubscribe links to try in a browser.

Customer data is encrypted as in production (unless JOURNEY_ENCRYPTION=off): a local
payload key and an operator token are made once under .journey/, and the Web UI decodes
payloads through the web service's codec endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from customer_data import new_key_line
from customer_data.config import (
    DEFAULT_KEY_STORE,
    DEV_KEYS_FILE,
    KEY_STORE_ENV,
    KEYS_ENV,
    KEYS_FILE_ENV,
    encryption_on,
)
from intake import load_json
from messages.feedback_links import FEEDBACK_PAGE, feedback_url, service_page, with_token
from messages.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from messages.unsubscribe_links import UNSUBSCRIBE_PAGE, unsubscribe_token
from models import DEMO_SPEEDUP, journey_id, search
from runtime.connection import TemporalUnreachable, connect, web_ui_url
from starter import SEARCH_ATTRIBUTES_ENV, start_journey

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".journey"
OUTBOX = STATE / "outbox.jsonl"
METRICS_ADDRESS = "127.0.0.1:9464"
HEALTH_ADDRESS = "127.0.0.1:9465"
WEB_PORT = 8000
PUBLIC_URL = f"http://localhost:{WEB_PORT}"
STORES_DIR = ROOT / "examples" / "stores"
UI_PORT = 8233
# The UI answers on both names; the codec server lets either call it from a browser.
UI_ORIGINS = f"http://localhost:{UI_PORT},http://127.0.0.1:{UI_PORT}"
OPERATOR_TOKEN_FILE = STATE / "dev-operator-token"
OPERATOR_TOKENS_ENV = "JOURNEY_OPERATOR_TOKENS"


def _temporal_cli() -> str:
    found = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which(
        "temporal"
    )
    if not found:
        raise SystemExit("the `temporal` CLI is missing: run through `python3 dev.py run`")
    return found


def _dev_secret() -> str:
    """A feedback-link secret made once per checkout, so links stay valid across runs."""
    path = STATE / "dev-feedback-secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def _private_file(path: Path, text: str) -> None:
    """Write a secret readable by its owner only."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")


def _dev_protection() -> dict[str, str]:
    """The encryption settings every process of the demo shares: the payload keys
    configured in the environment, else a local key file made once (a random key id, so
    a new file never passes for the old key in a key store it was used with), and the
    key store under .journey/."""
    settings = {KEY_STORE_ENV: os.environ.get(KEY_STORE_ENV) or str(DEFAULT_KEY_STORE)}
    if os.environ.get(KEYS_ENV, "").strip():
        return settings  # the operator's own keys; a key file beside them is an error
    keys_file = os.environ.get(KEYS_FILE_ENV, "").strip() or str(DEV_KEYS_FILE)
    if keys_file == str(DEV_KEYS_FILE) and not DEV_KEYS_FILE.exists():
        line = new_key_line(f"dev-{secrets.token_hex(4)}")
        _private_file(
            DEV_KEYS_FILE,
            f"# Local development only, made by `python3 dev.py run`.\n{line}\n",
        )
        print(f"made a local payload key in {DEV_KEYS_FILE.relative_to(ROOT)}")
    return {**settings, KEYS_FILE_ENV: keys_file}


def _dev_operator_token() -> str:
    """The operator token of the local codec server, made once per checkout: the Web
    UI's codec endpoint carries it, so a bookmarked UI keeps decoding across runs."""
    if configured := os.environ.get(OPERATOR_TOKENS_ENV, "").split(",")[0].strip():
        return configured
    if not OPERATOR_TOKEN_FILE.exists():
        _private_file(OPERATOR_TOKEN_FILE, secrets.token_urlsafe(32))
    return OPERATOR_TOKEN_FILE.read_text(encoding="utf-8").strip()


async def _connect_when_ready(server: subprocess.Popen[bytes], wait_seconds: float = 60) -> Client:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while True:
        if server.poll() is not None:
            raise SystemExit(
                f"the dev server exited (code {server.returncode}); see {STATE / 'server.log'}"
            )
        try:
            return await connect()
        except TemporalUnreachable:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.3)


async def _wait_ready(
    process: subprocess.Popen[bytes], health: str, name: str, seconds: float = 60
) -> None:
    """Until the process's health endpoint answers 200 (the worker polls its task
    queue; the web service reaches Temporal)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            if process.poll() is not None:
                raise SystemExit(
                    f"the {name} exited (code {process.returncode}); see .journey/{name}.log"
                )
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(health)).status_code == 200:
                    return
            if loop.time() > deadline:
                raise SystemExit(f"the {name} is not ready after {seconds:.0f} s: {health}")
            await asyncio.sleep(0.2)


@contextlib.contextmanager
def _process(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()


def demo_order(now: datetime) -> dict[str, Any]:
    order: dict[str, Any] = load_json(ROOT / "examples" / "order.json", "order")
    order["order_id"] = f"DEMO-{now:%Y%m%d-%H%M%S}"
    order["delivered_at"] = now.isoformat()
    return order


async def _report_delivered(now: datetime) -> str:
    """The store's side of the front door: a signed POST of a delivered order to the
    store API, as a store backend in any language makes it. The journey's id."""
    store = json.loads((STORES_DIR / "loja-exemplo.json").read_text(encoding="utf-8"))
    order = demo_order(now)
    order["order_id"] = f"{order['order_id']}-PAGES"
    del order["delivered_at"]
    event = {"event_id": "delivered", "type": "delivered", "occurred_at": now.isoformat()}
    body = json.dumps({"order": order, "event": event}).encode()
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(store["api_secret"].encode(), timestamp, body),
    }
    url = f"{PUBLIC_URL}/v1/stores/{store['store_id']}/events"
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(url, content=body, headers=headers)
    if answer.status_code != 202:
        raise SystemExit(f"the store API refused the demo order: {answer.text}")
    return journey_id(store["store_id"], order["order_id"])


def _page_links(journey: str, order_id: str, secret: bytes, now: datetime) -> tuple[str, str]:
    """The links the journey's feedback request and emails will carry, made now."""
    feedback = feedback_url(
        service_page(PUBLIC_URL, FEEDBACK_PAGE),
        journey_id=journey,
        order_id=order_id,
        step_id="feedback_request",
        issued_at=now,
        ttl=timedelta(days=30),
        secret=secret,
        locale="pt-BR",
    )
    token = unsubscribe_token(journey, secret)
    return feedback, with_token(service_page(PUBLIC_URL, UNSUBSCRIBE_PAGE), token)


def _print_message(entry: dict[str, Any]) -> None:
    due = datetime.fromisoformat(entry["scheduled_for"])
    where = f"{entry['channel']} to {entry['to']}"
    print(f"\n── {entry['step_id']} · {where} · due {due:%a %d %b %H:%M} (customer's time)")
    print(f"   {entry['subject']}")
    for line in entry["text"].splitlines():
        print(f"   {line}")


async def _follow(journey_id: str, handle_done: asyncio.Future[Any]) -> None:
    offset = 0
    while True:
        if OUTBOX.exists():
            with OUTBOX.open(encoding="utf-8") as f:
                f.seek(offset)
                while (line := f.readline()).endswith("\n"):
                    entry = json.loads(line)
                    if entry["journey_id"] == journey_id:
                        _print_message(entry)
                    offset = f.tell()
        if handle_done.done():
            return
        await asyncio.sleep(0.2)


async def run_demo(keep_running: bool) -> int:
    STATE.mkdir(exist_ok=True)
    encrypted = encryption_on()
    # The worker, the web service and this process's own client (runtime.connection
    # reads the environment) encrypt and decrypt with the same keys and key store.
    if encrypted:
        os.environ.update(_dev_protection())
    token = _dev_operator_token() if encrypted else None
    codec_endpoint = f"{PUBLIC_URL}/codec/{token}" if token else None
    server_args = [
        _temporal_cli(),
        "server",
        "start-dev",
        "--db-filename",
        str(STATE / "temporal.db"),
        "--port",
        "7233",
        "--ui-port",
        str(UI_PORT),
        "--log-level",
        "warn",
        # Operators find journeys by these (README, "Finding journeys").
        *search.dev_server_flags(),
        # Flag journeys whose workflow task keeps failing in TemporalReportedProblems,
        # so the Web UI and list queries find stuck ones.
        "--dynamic-config-value",
        "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute=2",
    ]
    if codec_endpoint:
        # The UI sends payloads to the web service's codec server to show them decoded;
        # the token in the path stands for the operator's sign-in on this local UI.
        server_args += ["--ui-codec-endpoint", codec_endpoint]
    # The dev server has the search attributes: start runs with them.
    os.environ.setdefault(SEARCH_ATTRIBUTES_ENV, "1")
    secret = _dev_secret()
    worker_env = {
        **os.environ,
        "JOURNEY_PUBLIC_URL": PUBLIC_URL,
        "JOURNEY_FEEDBACK_SECRET": secret,
        "JOURNEY_OUTBOX_PATH": str(OUTBOX),
        "JOURNEY_ADAPTER": "outbox",
        "JOURNEY_METRICS_ADDRESS": os.environ.get("JOURNEY_METRICS_ADDRESS", METRICS_ADDRESS),
        "JOURNEY_HEALTH_ADDRESS": os.environ.get("JOURNEY_HEALTH_ADDRESS", HEALTH_ADDRESS),
    }
    web_env = {
        **os.environ,
        "JOURNEY_FEEDBACK_SECRET": secret,
        "JOURNEY_PUBLIC_URL": PUBLIC_URL,
        "JOURNEY_STORES_DIR": str(STORES_DIR),
        "JOURNEY_WEB_PORT": str(WEB_PORT),
        "JOURNEY_UI_ORIGINS": os.environ.get("JOURNEY_UI_ORIGINS", UI_ORIGINS),
    }
    if token and not os.environ.get(OPERATOR_TOKENS_ENV):
        web_env[OPERATOR_TOKENS_ENV] = token
    print(f"starting the Temporal dev server (Web UI: http://localhost:{UI_PORT}) ...", flush=True)
    with _process(server_args, STATE / "server.log") as server:
        client = await _connect_when_ready(server)
        with (
            _process(
                [sys.executable, str(ROOT / "worker.py")], STATE / "worker.log", worker_env
            ) as worker,
            _process([sys.executable, "-m", "web"], STATE / "web.log", web_env) as web,
        ):
            health = f"http://{worker_env['JOURNEY_HEALTH_ADDRESS']}/healthz"
            await _wait_ready(worker, health, "worker")
            await _wait_ready(web, f"{PUBLIC_URL}/readyz", "web")
            store = load_json(ROOT / "examples" / "store.json", "settings")
            result = await start_journey(
                client, demo_order(datetime.now(UTC)), store, speedup=DEMO_SPEEDUP
            )
            print(f"journey {result.journey_id} started: a day of the journey passes every second")
            print(f"watch it in the Web UI: {web_ui_url(client, result.journey_id)}")
            if codec_endpoint:
                print(
                    f"the Web UI decodes payloads through the codec server at {PUBLIC_URL}/codec "
                    f"(operator token in {OPERATOR_TOKEN_FILE.relative_to(ROOT)})"
                )
            print(f"messages land in {OUTBOX.relative_to(ROOT)}; worker log: .journey/worker.log")
            print(f"worker metrics: http://{worker_env['JOURNEY_METRICS_ADDRESS']}/metrics")
            print(f"worker health: {health}")
            outcome = asyncio.ensure_future(result.handle.result())
            await _follow(result.journey_id, outcome)
            progress = outcome.result()
            sent = sum(1 for step in progress.steps if step.status == "sent")
            print(f"\njourney {progress.status}: {sent} of {len(progress.steps)} messages sent")
            if keep_running:
                now = datetime.now(UTC)
                pages_journey = await _report_delivered(now)
                order_id = pages_journey.rsplit(":", 1)[1]
                feedback, unsubscribe = _page_links(pages_journey, order_id, secret.encode(), now)
                print(f"\norder {order_id} reported delivered through the store API: its journey")
                print("runs at real speed, so its pages wait for you (a phone-sized window")
                print("shows them as customers see them):")
                print(f"  feedback page:   {feedback}")
                print(f"  unsubscribe:     {unsubscribe}")
                print(f"  the journey:     {web_ui_url(client, pages_journey)}")
                print("rate the order, then reload the journey in the Web UI to see the rating.")
                print(f"\nstore API and pages: {PUBLIC_URL} (docs at {PUBLIC_URL}/docs)")
                print("the dev server, the worker and the web service keep running; Ctrl-C")
                print("stops them")
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stop.set)
                await stop.wait()
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dev.py run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--exit", action="store_true", help="stop everything once the demo journey ends"
    )
    args = parser.parse_args(argv)
    return asyncio.run(run_demo(keep_running=not args.exit))
