"""Reading v2 data defensively: each reader returns the documented type or raises
UpstreamDataError, so a malformed upstream answer becomes a 502, never a crash or a 500."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from .errors import UpstreamDataError

from .ids import MAX_ID


def record(container: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """A nested object (`owner`, `party`, ...), or None when absent or null."""
    value = container.get(key)
    if value is None or isinstance(value, dict):  # parsed JSON objects are dicts; ABC checks are slow
        return value
    raise UpstreamDataError(f"v2 {key!r} should be an object, got {type(value).__name__}")


def text(container: Mapping[str, Any], key: str) -> str | None:
    """A string field, or None when absent or null."""
    value = container.get(key)
    if value is None or isinstance(value, str):
        return value
    raise UpstreamDataError(f"v2 {key!r} should be text, got {type(value).__name__}")


def ident(container: Mapping[str, Any], key: str = "id") -> str | None:
    """A record id as v1 text (a positive whole number of at most 18 digits), or None."""
    value = container.get(key)
    if value is None:
        return None
    if type(value) is int and 0 < value <= MAX_ID:
        return str(value)
    raise UpstreamDataError(f"v2 {key!r} should be a positive id of at most 18 digits, got {value!r:.40}")


def id_number(container: Mapping[str, Any], key: str = "id") -> int | None:
    """A record id as a number (see ident)."""
    text_id = ident(container, key)
    return None if text_id is None else int(text_id)


def number(container: Mapping[str, Any], key: str) -> str | None:
    """A number (or a numeric string, as v2 writes custom-field numbers) as exact v1 text."""
    value = container.get(key)
    if value is None:
        return None
    if type(value) is int:
        return str(value)
    if type(value) is float:
        # repr is the shortest text that reads back as the same float: no binary drift.
        return format(Decimal(repr(value)).normalize(), "f") if value == value and abs(value) != float("inf") \
            else _bad(key, value)
    if isinstance(value, str):
        try:
            return format(Decimal(value.strip()), "f")
        except ArithmeticError:
            pass
    return _bad(key, value)


def _bad(key: str, value: Any) -> str:
    raise UpstreamDataError(f"v2 {key!r} should be a number, got {value!r:.40}")


def boolean(container: Mapping[str, Any], key: str) -> str | None:
    """A JSON boolean as v1's words ``true`` / ``false``."""
    value = container.get(key)
    if value is None:
        return None
    if value is True or value is False:
        return "true" if value else "false"
    raise UpstreamDataError(f"v2 {key!r} should be true or false, got {type(value).__name__}")


def records(items: Any, what: str) -> list[Mapping[str, Any]]:
    """A list of objects (tasks, users, categories)."""
    if isinstance(items, list) and all(isinstance(item, dict) for item in items):
        return items
    raise UpstreamDataError(f"v2 {what} should be a list of objects")


def removal(ident: int) -> dict[str, Any]:
    """The item of a v2 nested array (contacts, tags, field values) that removes the one with
    this id: v2 removes by `_delete`, not by leaving it out."""
    return {"id": ident, "_delete": True}
