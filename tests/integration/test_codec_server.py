"""The codec server over real HTTP: the web service as production runs it (`python -m
web`, its own process on loopback) against a dev server, called as the Temporal Web UI
and operators' scripts call it (Temporal's remote codec protocol).

Operators decode; nobody else does. Browsers may call it from the UI's origin only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client

from activities import JourneyActivities
from customer_data import EncryptionCodec, KeyRing
from customer_data.codec import ENCODING, KEY_ID
from models.sealed import ERASED
from tests import builders
from tests.journeys import running_worker
from tests.processes import DevServer, free_port
from tests.protection import KEYS, converter, protection
from tests.web_process import last_moment_at, start_service, stop, stored_input, wait_ready
from tests.web_service import STORE_ID, post_signed

TOKEN = "operator-token-of-the-codec-tests-0123456789"
# A second operator's token: every configured one opens the codec.
OTHER_TOKEN = "another-operators-token-0123456789abcdef"
WRONG_TOKEN = "not-an-operator-token-but-long-enough-0123"
UI_ORIGIN = "http://localhost:8233"
# A production UI's origin as an operator may well write it; browsers send it as
# https://temporal.example.com.
HOSTED_UI_ORIGIN = "HTTPS://Temporal.Example.com:443/"
FOREIGN_ORIGIN = "https://attacker.example"
UI_HEADERS = ("Content-Type", "X-Namespace", "Authorization", "Authorization-Extras")
PROBLEM = "application/problem+json"
# What the payloads of these tests carry: nothing but the codec may read it.
SECRET_NOTE = {"order_id": "PED-CODEC-1", "note": "entregar com a vizinha Sra. Benedita"}


@dataclass(frozen=True)
class CodecService:
    url: str
    target: str  # the dev server
    task_queue: str
    log: Path


@pytest.fixture(scope="module")
def service(temporal_cli: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodecService]:
    """One dev server and one web service for the module: the service keeps no state
    between requests, so the tests share it."""
    workdir = tmp_path_factory.mktemp("codec")
    server = DevServer(temporal_cli, workdir / "temporal.db", workdir / "server.log").start()
    try:
        asyncio.run(server.connect())  # the service needs Temporal to start
        port, log = free_port(), workdir / "web.log"
        url = f"http://127.0.0.1:{port}"
        task_queue = f"journeys-{uuid.uuid4()}"
        web = start_service(
            server.target,
            port,
            log,
            operator_tokens=f"{OTHER_TOKEN},{TOKEN}",
            ui_origins=f"{UI_ORIGIN}, {HOSTED_UI_ORIGIN}",
            task_queue=task_queue,
        )
        try:
            wait_ready(web, url, log)
            yield CodecService(url, server.target, task_queue, log)
        finally:
            stop(web)
    finally:
        server.stop()


@pytest.fixture
async def http(service: CodecService) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
        yield client


def as_json(*payloads: Payload) -> dict[str, Any]:
    """Payloads as the Web UI posts them: protobuf JSON."""
    return json_format.MessageToDict(Payloads(payloads=list(payloads)))


def payloads_in(answer: httpx.Response) -> list[Payload]:
    return list(json_format.ParseDict(answer.json(), Payloads()).payloads)


def document(payload: Payload) -> Any:
    assert payload.metadata["encoding"] == b"json/plain"
    return json.loads(payload.data)


async def encrypted(value: Any) -> Payload:
    """`value` as a worker or client stores it: JSON, encrypted with the session's key."""
    [payload] = await converter().encode([value])
    assert payload.metadata["encoding"] == ENCODING
    return payload


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = answer.json()
    assert problem["status"] == status
    assert "payloads" not in problem
    return problem


# --- who may decode ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "cookies"),
    [
        pytest.param("/codec/decode", {}, {}, id="no credentials"),
        pytest.param("/codec/decode", bearer(WRONG_TOKEN), {}, id="a wrong bearer token"),
        pytest.param("/codec/decode", {"Authorization": f"Basic {TOKEN}"}, {}, id="not bearer"),
        pytest.param(f"/codec/{WRONG_TOKEN}/decode", {}, {}, id="a wrong token in the path"),
        pytest.param(
            "/codec/decode",
            {},
            {"journey_operator": "eyJwIjoib3BlcmF0b3IifQ.Zm9yZ2Vk"},
            id="a forged session",
        ),
    ],
)
async def test_without_an_operators_credentials_it_answers_401_and_decodes_nothing(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], cookies: dict[str, str]
) -> None:
    sealed = await encrypted(SECRET_NOTE)
    http.cookies.update(cookies)
    answer = await http.post(path, json=as_json(sealed), headers=headers)
    problem = assert_refused(answer, 401)
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "operator" in problem["detail"]
    # Nothing of the payload comes back, in any form.
    assert SECRET_NOTE["note"] not in answer.text
    assert base64.b64encode(sealed.data).decode()[:24] not in answer.text


async def test_an_operator_token_as_bearer_decodes_and_old_plain_payloads_pass_through(
    http: httpx.AsyncClient,
) -> None:
    # A history recorded before encryption holds plain JSON: it decodes as it was.
    [plain] = converter().payload_converter.to_payloads([{"order_id": "PED-OLD"}])
    answer = await http.post(
        "/codec/decode", json=as_json(await encrypted(SECRET_NOTE), plain), headers=bearer()
    )
    assert answer.status_code == 200, answer.text
    decoded, passed = payloads_in(answer)
    assert document(decoded) == SECRET_NOTE
    assert document(passed) == {"order_id": "PED-OLD"}
    # Any of the configured operators' tokens opens it.
    other = await http.post(
        "/codec/decode", json=as_json(await encrypted(SECRET_NOTE)), headers=bearer(OTHER_TOKEN)
    )
    assert [document(p) for p in payloads_in(other)] == [SECRET_NOTE]


async def test_the_token_as_a_path_segment_decodes_and_is_never_logged(
    http: httpx.AsyncClient, service: CodecService
) -> None:
    # The form `temporal server start-dev --ui-codec-endpoint` takes: the UI appends
    # /decode to the endpoint and sends no credentials of its own.
    answer = await http.post(f"/codec/{TOKEN}/decode", json=as_json(await encrypted(SECRET_NOTE)))
    assert answer.status_code == 200, answer.text
    assert [document(p) for p in payloads_in(answer)] == [SECRET_NOTE]
    logged = service.log.read_text(errors="replace")
    assert "/codec/{token}/decode 200" in logged  # the request is logged by its route
    assert TOKEN not in logged


async def test_signing_in_sets_a_session_cookie_that_then_decodes(
    http: httpx.AsyncClient,
) -> None:
    refused = await http.post("/codec/sign-in", data={"token": WRONG_TOKEN})
    assert refused.status_code == 401
    assert "set-cookie" not in refused.headers
    assert not http.cookies

    signed_in = await http.post("/codec/sign-in", data={"token": TOKEN})
    assert signed_in.status_code == 200, signed_in.text
    cookie = signed_in.headers["set-cookie"].lower()
    # Out of scripts' reach, sent to the codec endpoints only, and (over plain HTTP, on
    # a developer's machine) to the same site only.
    for attribute in ("journey_operator=", "httponly", "path=/codec", "samesite=lax"):
        assert attribute in cookie, cookie
    assert TOKEN.lower() not in cookie  # the session is not the token

    # Only the cookie now: no Authorization header, no token in the path.
    answer = await http.post("/codec/decode", json=as_json(await encrypted(SECRET_NOTE)))
    assert answer.status_code == 200, answer.text
    assert [document(p) for p in payloads_in(answer)] == [SECRET_NOTE]


async def test_behind_https_the_session_cookie_is_secure_and_crosses_sites(
    http: httpx.AsyncClient,
) -> None:
    # Behind a TLS proxy (X-Forwarded-Proto from a trusted address), the UI may live on
    # another site than the codec server, e.g. a hosted Web UI: its credentialed fetch
    # carries the cookie only when it is SameSite=None, which browsers take only Secure.
    signed_in = await http.post(
        "/codec/sign-in", data={"token": TOKEN}, headers={"X-Forwarded-Proto": "https"}
    )
    assert signed_in.status_code == 200, signed_in.text
    cookie = signed_in.headers["set-cookie"].lower()
    for attribute in ("httponly", "secure", "samesite=none", "path=/codec"):
        assert attribute in cookie, cookie


@pytest.mark.parametrize(
    "path",
    ["/codec/decode?preserveStorageRefs=true", f"/codec/{TOKEN}/decode?preserveStorageRefs=true"],
)
async def test_a_query_string_on_the_codec_url_changes_nothing(
    http: httpx.AsyncClient, path: str
) -> None:
    # Recent Web UIs call `${endpoint}/decode?preserveStorageRefs=true`.
    answer = await http.post(path, json=as_json(await encrypted(SECRET_NOTE)), headers=bearer())
    assert answer.status_code == 200, answer.text
    assert [document(p) for p in payloads_in(answer)] == [SECRET_NOTE]


# --- browsers: the UI's origin only ------------------------------------------------------


def preflight(origin: str) -> dict[str, str]:
    """What a browser sends before the UI's credentialed POST."""
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": ",".join(h.lower() for h in UI_HEADERS),
    }


def listed(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",") if item.strip()}


@pytest.mark.parametrize(
    "path", ["/codec/decode?preserveStorageRefs=true", f"/codec/{TOKEN}/encode"]
)
async def test_the_ui_origin_may_call_with_credentials_and_the_uis_headers(
    http: httpx.AsyncClient, path: str
) -> None:
    asked = await http.options(path, headers=preflight(UI_ORIGIN))
    assert 200 <= asked.status_code < 300
    assert asked.headers["access-control-allow-origin"] == UI_ORIGIN
    assert asked.headers["access-control-allow-credentials"] == "true"
    assert {h.lower() for h in UI_HEADERS} <= listed(asked.headers["access-control-allow-headers"])
    assert "post" in listed(asked.headers["access-control-allow-methods"])
    assert "origin" in listed(asked.headers["vary"])

    # The POST itself carries the allowance too, or the browser hides the answer.
    answer = await http.post(
        "/codec/decode",
        json=as_json(await encrypted(SECRET_NOTE)),
        headers={**bearer(), "Origin": UI_ORIGIN, "X-Namespace": "default"},
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == UI_ORIGIN
    assert answer.headers["access-control-allow-credentials"] == "true"


async def test_a_foreign_origin_gets_no_cors_allowance(http: httpx.AsyncClient) -> None:
    asked = await http.options("/codec/decode", headers=preflight(FOREIGN_ORIGIN))
    answer = await http.post(
        "/codec/decode",
        json=as_json(await encrypted(SECRET_NOTE)),
        headers={**bearer(), "Origin": FOREIGN_ORIGIN},
    )
    for response in (asked, answer):
        allowances = {h for h in response.headers if h.startswith("access-control-allow-")}
        assert allowances == set(), response.headers
    # Without an allowance a browser gives that page nothing; the UI's own gets one.
    assert (await http.options("/codec/decode", headers=preflight(UI_ORIGIN))).headers[
        "access-control-allow-origin"
    ] == UI_ORIGIN


async def test_a_configured_origin_matches_as_browsers_write_it(http: httpx.AsyncClient) -> None:
    asked = await http.options("/codec/decode", headers=preflight("https://temporal.example.com"))
    assert asked.headers["access-control-allow-origin"] == "https://temporal.example.com"
    # The same host on another port is another origin.
    other_port = await http.options(
        "/codec/decode", headers=preflight("https://temporal.example.com:8443")
    )
    assert "access-control-allow-origin" not in other_port.headers


# --- the protocol --------------------------------------------------------------------------


async def test_encode_then_decode_round_trips_under_the_workers_key(
    http: httpx.AsyncClient,
) -> None:
    # What the UI encodes (a signal's or update's input an operator types) must be what
    # workers can read: the shared key, here the session's test-1.
    values = [SECRET_NOTE, {"rating": 4, "comment": "Chegou rápido, obrigada!"}, "opt out", None]
    plain = converter().payload_converter.to_payloads(values)
    encoded = await http.post("/codec/encode", json=as_json(*plain), headers=bearer())
    assert encoded.status_code == 200, encoded.text
    sealed = payloads_in(encoded)
    assert [p.metadata["encoding"] for p in sealed] == [ENCODING] * len(values)
    assert {p.metadata[KEY_ID] for p in sealed} == {b"test-1"}
    assert "Benedita" not in encoded.text and "rápido" not in encoded.text
    assert await converter().decode(sealed) == values  # a worker reads it

    decoded = await http.post("/codec/decode", json=as_json(*sealed), headers=bearer())
    assert decoded.status_code == 200, decoded.text
    assert payloads_in(decoded) == plain


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="not JSON"),
        pytest.param(b"\xff\xfe\x00", id="not UTF-8"),
        pytest.param(b'["payloads"]', id="not an object"),
        pytest.param(b'{"payloads": {"data": "eA=="}}', id="payloads not a list"),
        pytest.param(b'{"payloads": [{"data": "not base64!"}]}', id="data not base64"),
        pytest.param(b'{"payload": []}', id="an unknown field"),
    ],
)
async def test_a_malformed_body_is_a_400_problem(http: httpx.AsyncClient, body: bytes) -> None:
    answer = await http.post(
        "/codec/decode", content=body, headers={**bearer(), "Content-Type": "application/json"}
    )
    problem = assert_refused(answer, 400)
    assert "Payloads" in problem["detail"]


async def test_a_body_over_8_mib_is_refused_with_413(http: httpx.AsyncClient) -> None:
    # A whole history's payloads fit; more is refused before it is read into memory.
    oversized = b'{"payloads": [{"data": "' + b"A" * (8 * 1024 * 1024) + b'"}]}'
    answer = await http.post(
        "/codec/decode", content=oversized, headers={**bearer(), "Content-Type": "application/json"}
    )
    assert_refused(answer, 413)


async def test_a_payload_the_services_keys_cannot_open_is_a_422_problem(
    http: httpx.AsyncClient,
) -> None:
    good = await encrypted(SECRET_NOTE)
    # Under the rotation test's key, which this service is not configured with.
    [unknown_key] = await EncryptionCodec(KeyRing.parse(KEYS[1], "test")).encode(
        converter().payload_converter.to_payloads([SECRET_NOTE])
    )
    tampered = Payload(metadata=good.metadata, data=good.data[:-1] + bytes([good.data[-1] ^ 1]))
    truncated = Payload(metadata=good.metadata, data=good.data[:5])
    for payload, says in [
        (unknown_key, "test-2"),
        (tampered, "does not decrypt"),
        (truncated, "too short"),
    ]:
        answer = await http.post("/codec/decode", json=as_json(good, payload), headers=bearer())
        problem = assert_refused(answer, 422)
        assert says in problem["detail"]
        assert SECRET_NOTE["note"] not in answer.text


# --- customers' sealed data -----------------------------------------------------------------

QUITERIA = {
    "id": "C-codec-quiteria",
    "name": "Quitéria Conceição",
    "email": "quiteria.codec@exemplo.com.br",
    "phone": "+5571998765432",
}
ROBERTO = {
    "id": "C-codec-roberto",
    "name": "Roberto Araújo",
    "email": "roberto.codec@exemplo.com.br",
    "phone": "+5531991234567",
}


async def test_decoding_opens_a_customers_sealed_data_and_shows_erased_once_forgotten(
    http: httpx.AsyncClient, service: CodecService, outbox_activities: JourneyActivities
) -> None:
    client = await Client.connect(service.target, data_converter=converter())
    # Delivered at 14:00 in São Paulo: the first message waits a day, so both journeys
    # are still running when Quitéria is forgotten.
    delivered = last_moment_at("14:00")
    async with running_worker(client, outbox_activities, service.task_queue):
        journeys = {}
        for n, customer in enumerate((QUITERIA, ROBERTO), 1):
            order = builders.placed_order(
                store_id=STORE_ID, order_id=f"PED-CODEC-{n}", customer=customer
            )
            event = builders.event("delivered", delivered)
            started = await post_signed(
                http, f"/v1/stores/{STORE_ID}/events", {"order": order, "event": event}
            )
            assert started.status_code == 202, started.text
            journeys[customer["id"]] = started.json()["journey_id"]
        stored = {who: await stored_input(client, journey) for who, journey in journeys.items()}
        # The server holds ciphertext only...
        for payload in stored.values():
            assert payload.metadata["encoding"] == ENCODING
            assert b"Quit" not in payload.data and b"exemplo.com.br" not in payload.data
        # ...and even decrypted without the key store, the contacts are sealed.
        [inner] = await protection().codec.decode([stored[QUITERIA["id"]]])
        assert QUITERIA["email"].encode() not in inner.data

        async def decoded_customer(who: str) -> dict[str, Any]:
            answer = await http.post("/codec/decode", json=as_json(stored[who]), headers=bearer())
            assert answer.status_code == 200, answer.text
            [payload] = payloads_in(answer)
            journey_input = document(payload)
            assert journey_input["order"]["order_id"].startswith("PED-CODEC-")
            customer: dict[str, Any] = journey_input["order"]["customer"]
            return customer

        for customer in (QUITERIA, ROBERTO):
            opened = await decoded_customer(customer["id"])
            assert {f: opened[f] for f in ("name", "email", "phone")} == {
                f: customer[f] for f in ("name", "email", "phone")
            }

        forgotten = await post_signed(
            http, f"/v1/stores/{STORE_ID}/erasures", {"customer_id": QUITERIA["id"]}
        )
        assert forgotten.status_code == 200, forgotten.text
        assert forgotten.json()["keys_deleted"] == 1
        assert forgotten.json()["stopped"] == [journeys[QUITERIA["id"]]]

        # The same stored history now decodes to the placeholder, never an error...
        erased = await decoded_customer(QUITERIA["id"])
        assert {f: erased[f] for f in ("name", "email", "phone")} == dict.fromkeys(
            ("name", "email", "phone"), ERASED
        )
        assert erased["id"] == QUITERIA["id"]  # the store's pseudonym, not contact data
        # ...and another customer's data still opens.
        untouched = await decoded_customer(ROBERTO["id"])
        assert untouched["email"] == ROBERTO["email"]
