"""Log lines mask emails and phone numbers, whatever wrote them: a provider's error text
can quote the address it refused."""

from __future__ import annotations

import json
import logging

from runtime.observability import JsonFormatter, TextFormatter, redact_contacts


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("t", logging.WARNING, __file__, 1, message, None, None)


def test_emails_and_phones_are_masked_and_ids_and_times_are_not() -> None:
    line = (
        "email API answered 422: invalid `to` ana.souza@example.com.br; whatsapp "
        "+5511987654321 and 5511987654321 at 2026-11-27 13:24:17 id 1732712345678"
    )
    assert redact_contacts(line) == (
        "email API answered 422: invalid `to` a***@example.com.br; whatsapp "
        "+55 11 9****-4321 and +55 11 9****-4321 at 2026-11-27 13:24:17 id 1732712345678"
    )


def test_both_log_formats_mask_the_message() -> None:
    message = "refused ana@example.com (+5511987654321)"
    text = TextFormatter("%(message)s").format(record(message))
    entry = json.loads(JsonFormatter().format(record(message)))["message"]
    for shown in (text, entry):
        assert shown == "refused a***@example.com (+55 11 9****-4321)"
