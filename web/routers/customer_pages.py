"""The customer's pages: the feedback page the feedback link opens, and the unsubscribe
page (and RFC 8058 one-click POST) the unsubscribe link opens."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["customer pages"])
