"""Form posts to the customer pages: urlencoded or multipart/form-data (RFC 8058 allows
mail providers either), the body bounded like the store API's."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData
from starlette.types import Message

from web.dependencies import bounded_body

# The pages' forms have three fields; a one-click unsubscribe has one.
MAX_FIELDS = 16


async def read_form(request: Request, limit: int) -> FormData:
    """The posted form: 413 past `limit` bytes, 400 for a multipart body that does not
    parse or carries a file (no page takes one)."""
    body = await bounded_body(request, limit)

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return await Request(request.scope, replay).form(max_files=0, max_fields=MAX_FIELDS)


def field(form: FormData, name: str) -> str:
    """A text field of the form, or '' when it is absent."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
