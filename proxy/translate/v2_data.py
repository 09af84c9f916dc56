"""Reading v2 data defensively: each reader returns the documented type or raises
UpstreamDataError, so a malformed upstream answer becomes a 502, never a crash or a 500."""

from __future__ import annotations

from typing import Any, Mapping

from .errors import UpstreamDataError


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
    """A numeric id as v1 text, or None when absent or null."""
    value = container.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise UpstreamDataError(f"v2 {key!r} should be a number, got {type(value).__name__}")


def records(items: Any, what: str) -> list[Mapping[str, Any]]:
    """A list of objects (tasks, users, categories)."""
    if isinstance(items, list) and all(isinstance(item, dict) for item in items):
        return items
    raise UpstreamDataError(f"v2 {what} should be a list of objects")
