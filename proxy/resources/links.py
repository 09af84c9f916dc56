"""Additional parties of an opportunity or a case: listed as a v1 party list, linked and
unlinked by the `link` / `unlink` operations (proxy/http/links.py; decisions LK1-LK3)."""

from __future__ import annotations

from collections.abc import Mapping

from ..translate.fields import Context
from .base import PARENTS, ListPlan, Resource, V2, route
from .party import ORGANISATION_SHAPE, PERSON_SHAPE, shape_for

_ON = "/api/{kind:opportunity|kase}/{id}/party"


def plan_additional(query: Mapping[str, str], parent: tuple[str, int] | None, ctx: Context) -> ListPlan:
    assert parent is not None, "additional parties are always listed under their record"
    return ListPlan(f"/api/v2/{PARENTS[parent[0]].collection}/{parent[1]}/parties", "parties")


ADDITIONAL_PARTIES = Resource(
    name="additionalParty", noun="party", shapes=(PERSON_SHAPE, ORGANISATION_SHAPE), list_root="parties",
    v2=V2("parties", "party"), shape_for=shape_for, planner=plan_additional,
    routes=(
        route("GET", _ON, "list", parent="scoped"),
        route("POST", _ON + "/{item}", "link", sub="parties", item_noun="party", location="/api/party/{item}",
              doc="relate the party: 201 with Location; 200 when it was already related"),
        # `example`: `explain` shows the route on a record the party is related to.
        route("DELETE", _ON + "/{item}", "unlink", sub="parties", item_noun="party",
              doc="unrelate the party: 200, whether or not it was related",
              example={"additionalParties": ["{item}"]}),
    ),
    doc="The parties related to an opportunity or a case besides its own.",
)
