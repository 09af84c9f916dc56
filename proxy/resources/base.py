"""The vocabulary a v1 family is declared in: its shapes, its v2 source, its parents and routes.

A route is data, like aiohttp's ``RouteDef``: a method, a v1 path and the name of the generic
operation that serves it (``show``, ``list``, ``create``, ...), with the operation's options.
The HTTP layer (proxy/http) turns every declared route into an aiohttp route, so adding a
family is a declaration here, an XSD, the emulator and tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..translate.fields import Context, Shape
from ..translate.paging import PER_PAGE

#: The largest v2 page: the fewest upstream calls per v1 list (v2 pages entries by 50).
PAGE_SIZE = PER_PAGE


@dataclass(frozen=True)
class Parent:
    """A record other records hang under: ``/api/party/{id}/...``."""

    word: str            # the v1 path word: party
    collection: str      # the v2 collection: parties
    link: str            # the v2 link key on a child: party
    id_element: str      # the v1 element that names it on a child: partyId
    noun: str            # for messages: party


#: The one parent table (party, opportunity, kase): paths, links and ids come from here.
PARENTS: dict[str, Parent] = {
    "party": Parent("party", "parties", "party", "partyId", "party"),
    "opportunity": Parent("opportunity", "opportunities", "opportunity", "opportunityId", "opportunity"),
    "kase": Parent("kase", "kases", "kase", "caseId", "case"),
}
PARENT_PATTERN = "{kind:party|opportunity|kase}"


@dataclass(frozen=True)
class V2:
    """Where a family lives in v2: ``/api/v2/<collection>``, each object under ``<item>``."""

    collection: str
    item: str

    @property
    def path(self) -> str:
        return f"/api/v2/{self.collection}"


@dataclass(frozen=True)
class ListPlan:
    """How one v1 list is read from v2: a GET of ``path`` with ``params``, or a POST of
    ``filter`` to it (v2's filters), pages of ``page_size``; ``keep`` filters items locally."""

    path: str
    key: str
    params: Mapping[str, str] = field(default_factory=dict)
    filter: Mapping[str, Any] | None = None
    keep: Callable[[Mapping[str, Any]], bool] | None = None
    page_size: int = PAGE_SIZE


#: query parameters, the parent id (or None), the context -> how to read the list
Planner = Callable[[Mapping[str, str], "tuple[str, int] | None", Context], ListPlan]


@dataclass(frozen=True)
class Route:
    """One v1 route: ``method path`` served by the generic operation ``op``."""

    method: str
    path: str
    op: str
    options: Mapping[str, Any] = field(default_factory=dict)


def route(method: str, path: str, op: str, **options: Any) -> Route:
    return Route(method, path, op, options)


@dataclass(frozen=True)
class Resource:
    """One v1 family, everything about it that is data.

    ``shapes`` are its v1 roots (``person`` and ``organisation`` for parties); ``shape_for``
    picks the one a v2 object is answered as (default: the only one). ``location`` is the v1
    path of a created record, ``{id}`` filled in. ``plan_needs(query)`` names the look-ups a
    list's planner reads."""

    name: str
    noun: str
    shapes: tuple[Shape, ...]
    list_root: str
    v2: V2
    routes: tuple[Route, ...] = ()
    location: str = ""
    shape_for: Callable[[Mapping[str, Any]], Shape] | None = None
    planner: Planner | None = None
    plan_needs: Callable[[Mapping[str, str]], set[str]] | None = None
    list_params: tuple[str, ...] = ("start", "limit")
    doc: str = ""

    @property
    def roots(self) -> tuple[str, ...]:
        return tuple(shape.root for shape in self.shapes)

    def shape(self, root: str) -> Shape:
        return next(shape for shape in self.shapes if shape.root == root)

    def answer_shape(self, v2: Mapping[str, Any]) -> Shape:
        return self.shapes[0] if self.shape_for is None else self.shape_for(v2)
