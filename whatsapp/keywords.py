"""Opt-out keywords: a customer who writes one of them, alone, is opted out.

Matched without regard to case, accents or spacing: "Parar", " PARAR ", "parár" and
"P A R A R" all match `PARAR`; so does "Parar!", since punctuation and emoji around a
word are not part of it. A keyword inside a sentence ("não quero parar de receber")
does not: only the whole message counts, so a customer who mentions the word is never
opted out by it.
"""

from __future__ import annotations

import unicodedata

DEFAULT_OPT_OUT_KEYWORDS: tuple[str, ...] = (
    "PARAR",
    "SAIR",
    "CANCELAR",
    "STOP",
    "DESCADASTRAR",
    "UNSUBSCRIBE",
)
MAX_KEYWORD_LENGTH = 40


def normalize(text: str) -> str:
    """Letters and digits only, lower case, accents removed: the form keywords match in."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).casefold()


def opt_out_keyword(text: str, keywords: tuple[str, ...] | list[str]) -> str | None:
    """The keyword the whole of `text` is, as the store wrote it, or None."""
    if len(text) > 4 * MAX_KEYWORD_LENGTH:
        return None  # a long message is a message, whatever it ends up normalising to
    said = normalize(text)
    if not said:
        return None
    return next((keyword for keyword in keywords if normalize(keyword) == said), None)
