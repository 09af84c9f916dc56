"""Custom field values: what each definition type accepts, how it is stored and how it reads.

Shared by the API (a record's PUT) and the seed, so both accept exactly the same values.
Stored as text: numbers as their decimal text, dates as YYYY-MM-DD, booleans as 'true'/'false'.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from .task_model import parse_due_on

TYPES = ("text", "number", "date", "boolean", "list")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$", re.ASCII)


def decimal_text(value: Any) -> str | None:
    """The exact decimal text of a JSON/TOML number or numeric string, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float: what the client sent.
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        try:
            return str(Decimal(value.strip()))
        except InvalidOperation:
            return None
    return None


def json_number(text: str) -> int | float:
    """Stored decimal text back as a JSON number, without adding digits."""
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)


def normalize(kind: str, options: list[str] | None, value: Any) -> str:
    """The stored text for a non-null value of a field of this type; ValueError says why not."""
    if kind == "text":
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return value
    if kind == "number":
        text = decimal_text(value)
        if text is None:
            raise ValueError("must be a number")
        return text
    if kind == "date":
        if isinstance(value, date):  # TOML dates in a seed
            return value.isoformat()
        day = parse_due_on(value)
        if day is None:
            raise ValueError("must be a date as YYYY-MM-DD")
        return day
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return "true" if value else "false"
    if not isinstance(value, str) or value not in (options or []):
        raise ValueError(f"must be one of {', '.join(options or [])}")
    return value


def render(kind: str, text: str) -> Any:
    """Numbers read back as strings and booleans as booleans, as v2 answers them."""
    if kind == "boolean":
        return text == "true"
    return text
