"""The codec server: Temporal's remote codec protocol, so the Web UI shows journeys'
payloads decoded, to operators only.

`POST /codec/decode` and `/codec/encode` take and give `{"payloads": [...]}` in
protobuf JSON. Decoding decrypts each payload and opens the customer data sealed in
it: the text, or `[erased]` once the customer was forgotten.

Operators prove who they are with one of the configured tokens (JOURNEY_OPERATOR_TOKENS):
- `Authorization: Bearer <token>`, for scripts and proxies;
- the session cookie that `/codec/sign-in` sets, which the Web UI forwards when its
  codec setting includes credentials;
- the token as a path segment, `/codec/<token>/decode`: the form for a Web UI with no
  sign-in of its own (`temporal server start-dev --ui-codec-endpoint`), where whoever
  opens the UI reads its settings anyway.
Anything else gets 401 and the UI keeps showing ciphertext. Browsers may call these
endpoints only from the UI's origins (JOURNEY_UI_ORIGINS).
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload, Payloads

from customer_data import EncryptionCodec, PayloadKeyError
from messages.tokens import InvalidToken, sign_token, verify_token
from web.dependencies import Settings, bounded_body
from web.pages import SECURITY_HEADERS
from web.problems import Problem
from web.settings import ServiceSettings

router = APIRouter(prefix="/codec", tags=["operators"], include_in_schema=False)

SESSION_COOKIE = "journey_operator"
SESSION_SECONDS = 12 * 3600
ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization, Authorization-Extras"
JSON_ENCODING = b"json/plain"
# The UI sends a whole history's payloads at once.
MAX_BODY_BYTES = 8 * 1024 * 1024
PROBLEM_JSON = "application/problem+json"


# --- who may ----------------------------------------------------------------------------


def _session_key(settings: ServiceSettings) -> bytes:
    # Sessions end when the tokens change.
    return hmac.digest(b"codec-session", b"\0".join(settings.operator_token_list), "sha256")


def _is_operator_token(candidate: str, settings: ServiceSettings) -> bool:
    given = candidate.encode()
    # Every configured token is compared, in constant time, whatever matched first.
    matches = [hmac.compare_digest(given, token) for token in settings.operator_token_list]
    return any(matches)


def _has_session(request: Request, settings: ServiceSettings) -> bool:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return False
    try:
        fields = verify_token(cookie, _session_key(settings))
    except InvalidToken:
        return False
    return fields.get("p") == "operator" and time.time() < float(fields.get("e", 0))


def _authorized(request: Request, settings: ServiceSettings, path_token: str | None) -> bool:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    bearer = credentials.strip() if scheme.lower() == "bearer" else None
    return (
        (bearer is not None and _is_operator_token(bearer, settings))
        or (path_token is not None and _is_operator_token(path_token, settings))
        or _has_session(request, settings)
    )


def _cors(request: Request, settings: ServiceSettings) -> dict[str, str]:
    origin = request.headers.get("origin", "").rstrip("/")
    if origin not in settings.ui_origin_set:
        return {"Vary": "Origin"}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def _codec(request: Request, settings: ServiceSettings) -> EncryptionCodec:
    if not settings.operator_token_list:
        raise Problem(404, "codec-off", "the codec is off: set JOURNEY_OPERATOR_TOKENS")
    codec = request.app.state.codec
    if not isinstance(codec, EncryptionCodec):
        raise Problem(404, "codec-off", "payloads are not encrypted here (JOURNEY_ENCRYPTION=off)")
    return codec


# --- the protocol -----------------------------------------------------------------------


@router.options("/{rest:path}")
async def preflight(request: Request, settings: Settings) -> Response:
    """A browser asks before its POST: answered for the UI's origins only."""
    headers = _cors(request, settings)
    if "Access-Control-Allow-Origin" in headers:
        headers |= {
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
        }
    return Response(status_code=204, headers=headers)


@router.post("/decode")
async def decode(request: Request, settings: Settings) -> Response:
    return await _convert(request, settings, None, decoding=True)


@router.post("/encode")
async def encode(request: Request, settings: Settings) -> Response:
    return await _convert(request, settings, None, decoding=False)


@router.post("/{token}/decode")
async def decode_with_token(request: Request, settings: Settings, token: str) -> Response:
    return await _convert(request, settings, token, decoding=True)


@router.post("/{token}/encode")
async def encode_with_token(request: Request, settings: Settings, token: str) -> Response:
    return await _convert(request, settings, token, decoding=False)


async def _convert(
    request: Request, settings: ServiceSettings, path_token: str | None, *, decoding: bool
) -> Response:
    cors = _cors(request, settings)
    codec = _codec(request, settings)
    if not _authorized(request, settings, path_token):
        return _refusal(401, "operators only: a valid operator token or session", cors)
    # Read up to the limit only: never a whole oversized body into memory.
    body = await bounded_body(request, MAX_BODY_BYTES)
    try:
        payloads = json_format.Parse(body, Payloads())
    except (json_format.ParseError, DecodeError, UnicodeDecodeError) as err:
        return _refusal(400, f"not Payloads in protobuf JSON: {str(err)[:200]}", cors)
    try:
        if decoding:
            converted = await codec.decode(payloads.payloads)
        else:
            converted = await codec.encode(payloads.payloads)
    except PayloadKeyError as err:
        return _refusal(422, str(err), cors)
    if decoding:
        converted = [await _revealed(codec, payload) for payload in converted]
    answer = json_format.MessageToDict(Payloads(payloads=converted))
    return JSONResponse(answer, headers=cors)


async def _revealed(codec: EncryptionCodec, payload: Payload) -> Payload:
    """A JSON payload with its sealed customer data opened for the operator."""
    if codec.vault is None or payload.metadata.get("encoding") != JSON_ENCODING:
        return payload
    try:
        document = json.loads(payload.data)
    except ValueError:
        return payload
    opened = await codec.vault.reveal(document)
    if opened == document:
        return payload
    return Payload(
        metadata=dict(payload.metadata),
        data=json.dumps(opened, ensure_ascii=False, separators=(",", ":")).encode(),
    )


def _refusal(status: int, detail: str, headers: dict[str, str]) -> JSONResponse:
    body: dict[str, Any] = {"title": "Codec refused", "status": status, "detail": detail}
    if status == 401:
        headers = headers | {"WWW-Authenticate": 'Bearer realm="journey operators"'}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


# --- signing in, for a browser -----------------------------------------------------------

_SIGN_IN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Operators: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{heading}</h1><p>{text}</p>
<form method="post" action=""><label>Operator token
<input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></main></body></html>
"""


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(settings: Settings) -> HTMLResponse:
    text = (
        "With a session, the Temporal Web UI shows journeys decoded when its codec "
        "setting includes cross-origin credentials."
    )
    return HTMLResponse(
        _SIGN_IN.format(heading="Operators: sign in", text=text), headers=SECURITY_HEADERS
    )


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request, settings: Settings, token: Annotated[str, Form(max_length=1024)]
) -> HTMLResponse:
    if not settings.operator_token_list or not _is_operator_token(token, settings):
        page = _SIGN_IN.format(heading="Operators: sign in", text="That token is not valid.")
        return HTMLResponse(page, status_code=401, headers=SECURITY_HEADERS)
    expires = int(time.time()) + SESSION_SECONDS
    session = sign_token({"p": "operator", "e": expires}, _session_key(settings))
    page = _SIGN_IN.format(
        heading="Signed in", text="The Web UI can now decode journeys for 12 hours."
    )
    response = HTMLResponse(page, headers=SECURITY_HEADERS)
    # Over HTTPS the UI may be on another site than this service (a hosted Web UI):
    # its credentialed fetch carries the cookie only if it is SameSite=None, which
    # browsers accept only with Secure. Plain HTTP is a developer's localhost: Lax.
    https = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=SESSION_SECONDS,
        path="/codec",
        httponly=True,
        secure=https,
        samesite="none" if https else "lax",
    )
    return response
