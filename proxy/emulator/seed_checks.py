"""Checks the seed's parts share: allowed keys and types, ids, unique values, links, dates.

Every message starts with where the problem is (`parties[2].emailAddresses[1].type`); seed.py
adds the file name in front.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

Schema = dict[str, tuple[type | tuple[type, ...], bool]]  # key -> (type, required)


class SeedError(Exception):
    """The seed is invalid; the message names the entry and the problem."""


def check_keys(where: str, entry: Any, schema: Schema) -> dict[str, Any]:
    """A copy of a table whose keys are all allowed, of the right type, with the required ones."""
    if not isinstance(entry, dict):
        raise SeedError(f"{where}: expected a table, got {entry!r}")
    for key, value in entry.items():
        if key not in schema:
            raise SeedError(f"{where}: unknown key {key!r}; allowed: {', '.join(schema)}")
        kind, _ = schema[key]
        bool_ok = kind is bool or (isinstance(kind, tuple) and bool in kind)
        if (isinstance(value, bool) and not bool_ok) or not isinstance(value, kind):
            raise SeedError(f"{where}.{key}: wrong type, got {value!r}")
    for key, (_, required) in schema.items():
        if required and key not in entry:
            raise SeedError(f"{where}: missing required key {key!r}")
    return dict(entry)


def tables(where: str, value: Any, schema: Schema) -> list[dict[str, Any]]:
    """An array of tables inside an entry, such as a party's emailAddresses."""
    if not isinstance(value, list):
        raise SeedError(f"{where}: expected an array of tables")
    return [check_keys(f"{where}[{index}]", item, schema) for index, item in enumerate(value, 1)]


def strings(where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise SeedError(f"{where}: expected an array of non-empty strings, got {value!r}")
    return [item.strip() for item in value]


def assign_ids(table: str, entries: list[dict[str, Any]], taken: set[int] | None = None) -> None:
    """Give entries without an id the next free one, after checking given ids are unique."""
    seen: dict[int, int] = {}
    for index, entry in enumerate(entries, 1):
        if "id" in entry:
            if entry["id"] < 1:
                raise SeedError(f"{table}[{index}].id: must be a positive integer, got {entry['id']}")
            if entry["id"] in seen:
                raise SeedError(f"{table}[{index}].id: duplicate id {entry['id']} "
                                f"(also {table}[{seen[entry['id']]}])")
            seen[entry["id"]] = index
    next_id = max([*seen, *(taken or ())], default=0) + 1
    for entry in entries:
        if "id" not in entry:
            entry["id"] = next_id
            next_id += 1


def unique(table: str, entries: list[dict[str, Any]], key: str, fold: bool = False) -> None:
    seen: dict[Any, int] = {}
    for index, entry in enumerate(entries, 1):
        value = entry.get(key)
        if value is None:
            continue
        if fold:
            value = (entry.get("entity"), value.casefold())
        if value in seen:
            raise SeedError(f"{table}[{index}].{key}: duplicate value {entry[key]!r} (also {table}[{seen[value]}])")
        seen[value] = index


def user_id(where: str, ref: Any, users: list[dict[str, Any]]) -> int:
    """A user named by username or id."""
    for user in users:
        if ref in (user["username"], user["id"]) and not isinstance(ref, bool):
            return int(user["id"])
    raise SeedError(f"{where}: no user {'named ' if isinstance(ref, str) else 'with id '}{ref!r}")


def link(where: str, ref: int, ids: set[int], what: str) -> int:
    if ref not in ids:
        raise SeedError(f"{where}: no {what} with id {ref}")
    return ref


def as_date(where: str, value: Any) -> str:
    """A TOML date or a YYYY-MM-DD string, as YYYY-MM-DD."""
    if isinstance(value, datetime):
        raise SeedError(f"{where}: expected a date (YYYY-MM-DD), got the date-time {value.isoformat()}")
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            value = None
    if not isinstance(value, date):
        raise SeedError(f"{where}: expected a date as YYYY-MM-DD, got {value!r}")
    return value.isoformat()


def as_instant(where: str, value: Any) -> str:
    """A TOML offset date-time or an ISO-8601 string with an offset, as `YYYY-MM-DDTHH:MM:SSZ`."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise SeedError(f"{where}: expected a date-time such as 2026-11-01T10:00:00Z, got {value!r}") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        shown = value.isoformat() if isinstance(value, date) else repr(value)
        raise SeedError(f"{where}: expected a date-time with an offset, such as 2026-11-01T10:00:00Z, got {shown}")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def choice(where: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SeedError(f"{where}: must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def percentage(where: str, value: Any) -> int:
    if not 0 <= value <= 100:
        raise SeedError(f"{where}: must be from 0 to 100, got {value}")
    return int(value)
