"""Opportunities: v1 ``<opportunity>`` <-> the v2 ``opportunity`` (decisions OP1-OP7), with the
milestones list and the deleted opportunities.

Rows say every element but two pairs, written by hand: the money (``currency`` + ``value`` <->
``value.amount`` + ``value.currency``, exact decimals, OP1-OP2) and the milestone (``milestone``
by name or ``milestoneId`` <-> ``milestone.id``, OP3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..translate import v2_data
from ..translate.errors import InvalidField
from ..translate.fields import (Context, Field, Rule, Shape, UnknownName, blank, boolean, by_name_in, choice_in,
                                day, day_in, ident, nested_id, nested_text, number, resolve_one, stamp, text,
                                text_in, whole_number_in)
from ..translate.money import amount_to_v1, amount_to_v2
from .base import ListPlan, Resource, V2, route
from .query import TRACK_REJECTED, filtered, lastmodified, tracks_from_query

#: v1's bases and v2's two more (WEEK, QUARTER), which pass through both ways (OP4).
DURATION_BASES = ("FIXED", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR")


# --- money (OP1, OP2) ------------------------------------------------------------------------------

def read_money(v2: Mapping[str, Any], ctx: Context) -> dict[str, str | None]:
    value = v2_data.record(v2, "value")
    if not value or value.get("amount") is None:
        return {}
    return {"currency": v2_data.text(value, "currency"), "value": amount_to_v1(value["amount"])}


def _given(v1: Mapping[str, Any], key: str) -> str | None:
    """The element's text, "" when blank, None when absent."""
    value = v1.get(key)
    return None if not isinstance(value, str) else value.strip()


def _currency(ctx: Context, code: str) -> str:
    """A currency code among v2's /currencies (any case); unknown: a 400 naming it, after one
    fresh read of the list (P3)."""
    wanted = code.upper()
    if any(isinstance(item, dict) and item.get("code") == wanted for item in ctx.lists.get("currencies", ())):
        return wanted
    raise UnknownName("currency", f"unknown currency {code!r}: Capsule knows no such ISO 4217 code "
                                  "(see GET /api/currencies)", "currencies")


def write_money(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """`value` and `currency` are one v2 object: an element left out keeps its stored part."""
    amount, currency = _given(v1, "value"), _given(v1, "currency")
    if amount == "":
        return {"value": None}                     # a blank value clears it, currency and all
    stored = v2_data.record(ctx.current, "value") if ctx.current is not None else None
    code = _currency(ctx, currency) if currency else None
    if amount is None:                             # a new currency for the stored amount
        if not code:
            return {}
        if not stored or stored.get("amount") is None:
            ctx.warnings.append(f"currency {code} was not stored: Capsule keeps a currency only with a value")
            return {}
        return {"value": {"amount": stored["amount"], "currency": code}}
    if code is None and currency is None and stored:
        code = v2_data.text(stored, "currency")    # the amount changes, the currency stays
    body: dict[str, Any] = {"amount": amount_to_v2(amount, "value")}
    if code:
        body["currency"] = code                    # none: the account's currency (v2's default)
    return {"value": body}


def _money_needs(v1: Mapping[str, Any], ctx: Context) -> set[str]:
    amount, currency = _given(v1, "value"), _given(v1, "currency")
    wanted = {"currencies"} if currency and amount != "" else set()
    if not ctx.creating and ((amount and currency is None) or (currency and amount is None)):
        wanted.add("current")                      # one half given: the other is the stored one
    return wanted


# --- the milestone (OP3) --------------------------------------------------------------------------

def read_milestone(v2: Mapping[str, Any], ctx: Context) -> dict[str, str | None]:
    milestone = v2_data.record(v2, "milestone")
    if not milestone:
        return {}
    return {"milestoneId": v2_data.ident(milestone), "milestone": v2_data.text(milestone, "name")}


def write_milestone(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """`milestoneId` decides when given (it may be another pipeline's, as GET answered it); a
    `milestone` name next to it must then name the same milestone. A name alone resolves within
    v2's /milestones, the set a v1 account had."""
    by_id, name = _given(v1, "milestoneId"), _given(v1, "milestone")
    if by_id:
        milestone_id = int(by_id)
        known = ctx.index("milestones", "name").records.get(milestone_id)
        if name and known is not None and (v2_data.text(known, "name") or "").casefold() != name.casefold():
            raise InvalidField("milestone", f"milestone {name!r} and milestoneId {milestone_id} "
                                            f"({v2_data.text(known, 'name')!r}) name different milestones; send one")
        return {"milestone": {"id": milestone_id}}
    if name:
        return {"milestone": {"id": resolve_one(ctx, "milestone", name, "milestones", "name", "milestone",
                                                "/api/opportunity/milestones")}}
    if by_id is None and name is None and not ctx.creating:
        return {}
    raise InvalidField("milestone", "a new opportunity needs a milestone (or milestoneId)" if ctx.creating else
                       "milestone cannot be empty: an opportunity is always at a milestone")


def _milestone_needs(v1: Mapping[str, Any], ctx: Context) -> set[str]:
    return {"milestones"} if _given(v1, "milestone") else set()


def _duration_basis(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    # Blank: FIXED, v2's default, "no duration" (v2 cannot clear the basis).
    return {"durationBasis": "FIXED"} if blank(v1.get("durationBasis") or "") else _BASIS(v1, ctx)


_BASIS = choice_in("durationBasis", DURATION_BASES)

OPPORTUNITY_SHAPE = Shape("opportunity", (
    Field("id", read=ident(), source="id"),
    Field("name", read=text("name"), write=text_in("name", blank_is="error"), required=True, source="name",
          note="required; never empty"),
    Field("description", read=text("description"), write=text_in("description"), source="description",
          note="blank clears it"),
    Field("partyId", read=nested_id("party"), source="party.id",
          note="read-only: the URL names the party (PUT /api/party/{id}/opportunity/{oid} moves it)"),
    Rule(("currency", "value"), read=read_money, write=write_money, needs_fn=_money_needs,
         source="value.currency, value.amount",
         note="exact decimals, answered with at least two decimals; a currency among GET /api/currencies"),
    Field("durationBasis", read=text("durationBasis"), write=_duration_basis, source="durationBasis",
          note="FIXED, HOUR, DAY, WEEK, MONTH, QUARTER or YEAR; blank: FIXED"),
    Field("duration", read=number("duration"), write=whole_number_in("duration", high=2**31 - 1),
          source="duration", note="blank clears it"),
    Field("expectedCloseDate", read=day("expectedCloseOn"), write=day_in("expectedCloseDate", "expectedCloseOn"),
          source="expectedCloseOn", note="a day: YYYY-MM-DD or midnight UTC; never shifted by a zone"),
    Field("actualCloseDate", read=day("closedOn"), write=day_in("actualCloseDate", "closedOn"),
          source="closedOn", note="a day, as expectedCloseDate; a complete milestone sets it"),
    Rule(("milestoneId", "milestone"), read=read_milestone, write=write_milestone, needs_fn=_milestone_needs,
         always=True, source="milestone.id, milestone.name (written as milestone.id)",
         note="by id, or by name among GET /api/opportunity/milestones; required on create"),
    Field("probability", read=number("probability"), write=whole_number_in("probability", high=100),
          source="probability", note="0-100; left out: the milestone's"),
    Field("owner", read=nested_text("owner", "username"),
          write=by_name_in("owner", lookup="users", name_key="username", what="user", listing="/api/users",
                           blank_is="omit", why="an opportunity always has an owner"),
          lookups=frozenset({"users"}), source="owner.username (written as owner.id)",
          note="by username; left out on create: the caller"),
    Field("createdOn", read=stamp("createdAt"), source="createdAt"),
    Field("updatedOn", read=stamp("updatedAt"), source="updatedAt"),
))


# --- lists ------------------------------------------------------------------------------------------

def plan_opportunities(query: Mapping[str, str], parent: tuple[str, int] | None, ctx: Context) -> ListPlan:
    """`milestone` and `tag` -> v2 filter conditions (both: both); `lastmodified` -> `since`. A
    milestone name filters as v2 matches it, in every pipeline (OP5). A party's list is v2's
    `/parties/{id}/opportunities`, without filters."""
    if parent is not None:
        return ListPlan(f"/api/v2/parties/{parent[1]}/opportunities", "opportunities")
    return filtered(OPPORTUNITY.v2.path, "opportunities", query, ("milestone", "tag"))


OPPORTUNITY = Resource(
    name="opportunity", noun="opportunity", shapes=(OPPORTUNITY_SHAPE,), list_root="opportunities",
    v2=V2("opportunities", "opportunity"), location="/api/opportunity/{id}", planner=plan_opportunities,
    list_params=("start", "limit", "milestone", "tag", "lastmodified"),
    routes=(
        route("GET", "/api/opportunity/{id}", "show"),
        route("GET", "/api/opportunity", "list"),
        route("GET", "/api/{kind:party}/{id}/opportunity", "list", parent="scoped"),
        route("POST", "/api/{kind:party}/{id}/opportunity", "create", parent="link",
              query_body=(("trackid",), tracks_from_query), rejected=TRACK_REJECTED),
        route("PUT", "/api/opportunity/{id}", "update"),
        route("PUT", "/api/{kind:party}/{id}/opportunity/{item}", "update", parent="move",
              doc="update, and move it to that party"),
        route("DELETE", "/api/opportunity/{id}", "delete"),
    ),
    doc="Opportunities of a party, at a milestone, with a value.",
)


# --- the milestones ------------------------------------------------------------------------------------

MILESTONE_SHAPE = Shape("milestone", (
    Field("id", read=ident(), source="id"),
    Field("name", read=text("name"), source="name"),
    Field("description", read=text("description"), source="description"),
    Field("probability", read=number("probability"), source="probability"),
    Field("complete", read=boolean("complete"), source="complete"),
))

MILESTONES = Resource(
    name="milestone", noun="milestone", shapes=(MILESTONE_SHAPE,), list_root="milestones",
    v2=V2("milestones", "milestone"),
    routes=(route("GET", "/api/opportunity/milestones", "reference", lookup="milestones", item="milestone",
                  doc="v2's /milestones: the oldest active pipeline's, the set v1 had"),),
    doc="The milestones opportunities move through.",
)


# --- deleted opportunities -----------------------------------------------------------------------------

DELETED_SHAPE = Shape("deletedOpportunity", (
    Field("id", read=ident(), source="id"),
    Field("deletedDate", read=stamp("deletedAt"), source="deletedAt"),
))


def plan_deleted(query: Mapping[str, str], parent: tuple[str, int] | None, ctx: Context) -> ListPlan:
    """`since` is required, as v2 requires it; read as `lastmodified` is (OP6)."""
    raw = (query.get("since") or "").strip()
    if not raw:
        raise InvalidField("since", "since is required: the date and time to list deletions from, "
                                    "such as 20090630T000000")
    return ListPlan(f"{OPPORTUNITY.v2.path}/deleted", "opportunities", params={"since": lastmodified(raw, "since")})


DELETED_OPPORTUNITIES = Resource(
    name="deletedOpportunity", noun="deleted opportunity", shapes=(DELETED_SHAPE,),
    list_root="deletedOpportunities", v2=V2("opportunities", "opportunity"), planner=plan_deleted,
    list_params=("start", "limit", "since"),
    routes=(route("GET", "/api/opportunity/deleted", "list", example_query="since=20260101T000000"),),
    doc="Which opportunities were deleted since a moment, and when.",
)
