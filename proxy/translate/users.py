"""Users and task categories: v2 lists -> v1 lists, and the look-up maps `tasks` needs.

v1 `GET /api/users` listed `username, currency, name, loggedIn, timezone, partyId` per user
(no numeric id), with `loggedIn` "included and always true for the authenticated user"; v2
users have all of these except `loggedIn`, which the caller derives from `/users/current`.
v1 `GET /api/task/categories` listed bare names; v2 categories are `{id, name, colour}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import v2_data


def user_to_v1(user: Mapping[str, Any], *, current_user_id: int | None = None) -> dict[str, str]:
    """A v2 user -> the ordered neutral v1 `<user>` dict; empty values left out.

    `loggedIn` is "true" for the authenticated user (`current_user_id`) and left out for
    everyone else, as in v1's own example.
    """
    party = v2_data.record(user, "party") or {}
    logged_in = current_user_id is not None and user.get("id") == current_user_id
    fields = {
        "username": v2_data.text(user, "username"),
        "currency": v2_data.text(user, "currency"),
        "name": v2_data.text(user, "name"),
        "loggedIn": "true" if logged_in else None,
        "timezone": v2_data.text(user, "timezone"),
        "partyId": v2_data.ident(party),
    }
    return {key: value for key, value in fields.items() if value}


def users_to_v1(users: Iterable[Mapping[str, Any]], *,
                current_user_id: int | None = None) -> list[dict[str, str]]:
    """`user_to_v1` over the v2 list, in upstream order."""
    return [user_to_v1(user, current_user_id=current_user_id) for user in v2_data.records(users, "users")]


def category_names(categories: Iterable[Mapping[str, Any]]) -> list[str]:
    """v2 categories -> v1's list of names, in upstream order (nameless entries skipped)."""
    return [name for category in v2_data.records(categories, "categories")
            if (name := v2_data.text(category, "name"))]


def _ids_by(records: Iterable[Any], key: str) -> dict[str, int]:
    # Entries without a usable name or numeric id cannot be resolved to, so they are skipped.
    return {record[key]: record["id"] for record in records
            if isinstance(record, dict) and isinstance(record.get(key), str) and record[key]
            and isinstance(record.get("id"), int) and not isinstance(record["id"], bool)}


def owner_ids(users: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """username -> v2 user id, the map `tasks.task_to_v2` resolves `owner` with."""
    return _ids_by(users, "username")


def category_ids(categories: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """category name -> v2 category id, the map `tasks.task_to_v2` resolves `category` with."""
    return _ids_by(categories, "name")
