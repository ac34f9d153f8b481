"""Errors as `application/problem+json` (RFC 9457), never a stack trace.

Each kind of problem has a type (a path under `/problems/`, documented in
docs/store-integration.md), a title, the status, and a detail for this occurrence.
Invalid input adds `errors`: one `{field, detail}` a problem, the same problem lines as
the command line's.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from intake import InvalidJourney

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("journey.web")

TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict with the journey's state",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal error",
    501: "Not available here",
    503: "Temporal unavailable",
}


class Problem(Exception):
    """A request the service refuses, with what to say about it."""

    def __init__(
        self, status: int, slug: str, detail: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail, self.errors = status, slug, detail, errors


def invalid(err: InvalidJourney) -> Problem:
    """The edge's problem lines as a 422, each also split into field and detail."""
    errors = []
    for line in err.problems:
        field, _, detail = line.partition(": ")
        errors.append({"field": field, "detail": detail or line})
    return Problem(422, "invalid-input", "; ".join(err.problems), errors)


def response(problem: Problem, request: Request) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{problem.slug}",
        "title": TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
    }
    if problem.errors is not None:
        body["errors"] = problem.errors
    return JSONResponse(body, status_code=problem.status, media_type=MEDIA_TYPE)


def install(app: FastAPI) -> None:
    """Every error the service answers becomes a problem document."""

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return response(exc, request)

    async def invalid_journey(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InvalidJourney)
        return response(invalid(exc), request)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug = TITLES.get(exc.status_code, "error").lower().replace(" ", "-")
        return response(Problem(exc.status_code, slug, str(exc.detail)), request)

    async def request_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "detail": str(e["msg"])}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['detail']}" for e in errors)
        return response(Problem(422, "invalid-input", detail, errors), request)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return response(Problem(500, "internal-error", "the service failed; it is logged"), request)

    app.add_exception_handler(Problem, refused)
    app.add_exception_handler(InvalidJourney, invalid_journey)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(Exception, unexpected)
