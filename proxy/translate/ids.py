"""The one id rule (decision T6): a record id is a positive whole number of at most 18 ASCII
digits, written plainly (no sign, no leading zero) so that it fits a signed 64-bit id. The XSD
type `Id` says the same for ids inside documents."""

from __future__ import annotations

from yarl import URL

MAX_DIGITS = 18
MAX_ID = 10**MAX_DIGITS - 1


def parse_id(text: str) -> int | None:
    """The id ``text`` names, or None when it is not one (``1,2`` would be a v2 batch call)."""
    if 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit() and text[0] != "0":
        return int(text)
    return None


def created_id(location: str) -> int | None:
    """The id of a created record, from the last path segment of v2's `Location` header; None when
    the header holds no id the proxy can trust (it becomes part of the v1 client's Location)."""
    try:
        parts = [part for part in URL(location.strip()).raw_parts if part not in ("", "/")]
    except (TypeError, ValueError):  # not a URL at all (a bad IPv6 host, a port out of range ...)
        return None
    return parse_id(parts[-1]) if parts else None
