"""Cases: v1 ``<kase>`` <-> the v2 ``kase`` (decisions KA1-KA4).

Rows say every element but the owner, written by hand because v2 differs from v1 twice: a new
case has no owner in v2 (v1 gave it the caller's), and a v2 PUT that names only the owner clears
the team, which a v1 client never sees and so cannot send back (KA1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..translate import v2_data
from ..translate.errors import InvalidField
from ..translate.fields import (Context, Field, Rule, Shape, blank, choice_in, day, day_in, ident, nested_id,
                                nested_text, resolve, stamp, text, text_in)
from .base import ListPlan, Resource, V2, route
from .query import TRACK_REJECTED, filtered, tracks_from_query

STATUSES = ("OPEN", "CLOSED")


# --- the owner, and the team it must not clear (KA1) ------------------------------------------------

def _owner_name(v1: Mapping[str, Any]) -> str | None:
    value = v1.get("owner")
    return None if not isinstance(value, str) else value.strip()


def _link(record: Mapping[str, Any] | None, key: str) -> dict[str, int] | None:
    linked = v2_data.record(record, key) if record is not None else None
    ident_ = v2_data.id_number(linked) if linked else None
    return None if ident_ is None else {"id": ident_}


_read_owner_name = nested_text("owner", "username")


def read_owner(v2: Mapping[str, Any], ctx: Context) -> dict[str, str | None]:
    return {"owner": _read_owner_name(v2, ctx)}


def write_owner(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """Create: the owner named, else the caller (v1's default; v2's is nobody). Update: the
    owner named (blank: none), sent with the stored team so that v2 keeps it; an owner that
    does not change is not sent at all."""
    name = _owner_name(v1)
    owner = None
    if name:
        owner = {"id": resolve(ctx, "owner", name, "users", "username", "user", "/api/users")}
    if ctx.creating:
        caller = v2_data.id_number(ctx.caller) if ctx.caller is not None else None
        return {"owner": owner or ({"id": caller} if caller is not None else None)}
    if name is None:
        return {}
    if owner == _link(ctx.current, "owner"):
        return {}
    return {"owner": owner, "team": _link(ctx.current, "team")}


def _owner_needs(v1: Mapping[str, Any], ctx: Context) -> set[str]:
    name = _owner_name(v1)
    wanted = {"users"} if name else set()
    if ctx.creating:
        return wanted or {"caller"}
    return wanted | {"current"} if name is not None else set()


# --- status and the close date (KA2, KA3) -------------------------------------------------------------

_STATUS = choice_in("status", STATUSES)


def _status(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    if blank(v1.get("status") or ""):
        raise InvalidField("status", "status cannot be empty: a case is OPEN or CLOSED")
    return _STATUS(v1, ctx)


_CLOSED_ON = day_in("closeDate", "closedOn")


def _close_date(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """v1 ignored a new case's closeDate unless the case was created CLOSED; so does the proxy,
    and says so (KA3). On an update it passes through."""
    body = _CLOSED_ON(v1, ctx)                    # checked either way: a bad date is a 400
    status = (v1.get("status") or "").strip().upper() if isinstance(v1.get("status"), str) else ""
    if ctx.creating and status != "CLOSED" and body.get("closedOn") is not None:
        ctx.warnings.append("closeDate was ignored: a new case takes a close date only when its status is CLOSED")
        return {}
    return body


KASE_SHAPE = Shape("kase", (
    Field("id", read=ident(), source="id"),
    Field("status", read=text("status"), write=_status, source="status",
          note="OPEN or CLOSED (any case); a new case is OPEN"),
    Field("name", read=text("name"), write=text_in("name", blank_is="error"), required=True, source="name",
          note="required; never empty"),
    Field("description", read=text("description"), write=text_in("description"), source="description",
          note="blank clears it"),
    Field("partyId", read=nested_id("party"), source="party.id",
          note="read-only: the URL names the party (PUT /api/party/{id}/kase/{kid} moves it)"),
    Rule(("owner",), read=read_owner, write=write_owner, needs_fn=_owner_needs, always=True,
         source="owner.username (written as owner.id, with the stored team)",
         note="by username; left out on create: the caller; blank on update: no owner"),
    Field("closeDate", read=day("closedOn"), write=_close_date, source="closedOn",
          note="a day: YYYY-MM-DD or midnight UTC; on create only with status CLOSED"),
    Field("createdOn", read=stamp("createdAt"), source="createdAt"),
    Field("updatedOn", read=stamp("updatedAt"), source="updatedAt"),
))


def plan_kases(query: Mapping[str, str], parent: tuple[str, int] | None, ctx: Context) -> ListPlan:
    """`tag` -> a v2 filter condition; `lastmodified` -> `since`. A party's list is v2's
    `/parties/{id}/kases`, without filters."""
    if parent is not None:
        return ListPlan(f"/api/v2/parties/{parent[1]}/kases", "kases")
    return filtered(KASE.v2.path, "kases", query, ("tag",))


KASE = Resource(
    name="kase", noun="case", shapes=(KASE_SHAPE,), list_root="kases", v2=V2("kases", "kase"),
    location="/api/kase/{id}", planner=plan_kases, list_params=("start", "limit", "tag", "lastmodified"),
    routes=(
        route("GET", "/api/kase/{id}", "show"),
        route("GET", "/api/kase", "list"),
        route("GET", "/api/{kind:party}/{id}/kase", "list", parent="scoped"),
        route("POST", "/api/{kind:party}/{id}/kase", "create", parent="link",
              query_body=(("trackid",), tracks_from_query), rejected=TRACK_REJECTED),
        route("PUT", "/api/kase/{id}", "update"),
        route("PUT", "/api/{kind:party}/{id}/kase/{item}", "update", parent="move",
              doc="update, and move it to that party"),
        route("DELETE", "/api/kase/{id}", "delete"),
    ),
    doc="Cases (v2 projects, still kases) of a party.",
)
