"""Reference data v1 read from lists the proxy caches: users and task categories (D5, P9).

Each is answered from its look-up, read fresh (a client asking for the list wants the current
one, P3), so the look-up's cache is refreshed as a side effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..translate import v2_data
from ..translate.fields import Context, Field, Shape, nested_id, text
from .base import Resource, V2, route


def _logged_in(v2: Mapping[str, Any], ctx: Context) -> str | None:
    # v1 marked the authenticated user only (P9).
    return "true" if ctx.caller is not None and v2.get("id") == ctx.caller.get("id") else None


USER_SHAPE = Shape("user", (
    Field("username", read=text("username"), source="username"),
    Field("currency", read=text("currency"), source="currency"),
    Field("name", read=text("name"), source="name"),
    Field("loggedIn", read=_logged_in, source="the caller (GET /api/v2/users/current)",
          note="true on the calling user only"),
    Field("timezone", read=text("timezone"), source="timezone"),
    Field("partyId", read=nested_id("party"), source="party.id"),
))

USERS = Resource(
    name="user", noun="user", shapes=(USER_SHAPE,), list_root="users", v2=V2("users", "user"),
    routes=(route("GET", "/api/users", "reference", lookup="users", item="user", also=("caller",)),),
    doc="The account's users; v1 users had no id.",
)


def category_name(category: Mapping[str, Any]) -> str | None:
    return v2_data.text(category, "name")


CATEGORIES = Resource(
    name="taskCategory", noun="task category", shapes=(), list_root="taskCategories",
    v2=V2("categories", "category"),
    routes=(route("GET", "/api/task/categories", "reference", lookup="categories", item="taskCategory",
                  text=category_name),),
    doc="Task category names.",
)
