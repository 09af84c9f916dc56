"""What each recorded v2 call is for, said from the declarations (M1), and the explanation dict.

A call is a *look-up* when its path is a look-up source (proxy/resources/lookups.py), the parent
a route with a `parent` option checks, or a record read before another call (the stored record
a change is made from, an item checked to belong to its parent); anything else is the route's
own *call*, so a route that only reads a record (its tags, say) has that read as its call. A
look-up's purpose names the elements that asked for it: a column whose writer needs it for the
v1 document, whose reader needs it for the v2 records answered, whose `source` names its path,
or the list filter that reads it. A call's purpose is the route's `doc` option, or else its
operation's text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..http.router import Match
from ..resources import RESOURCES
from ..resources.base import PARENTS, Resource, Route
from ..resources.lookups import ALIASES, LOOKUPS
from ..translate.errors import InvalidField, UpstreamDataError
from ..translate.fields import Context, Shape, columns_to_write
from .account import Account
from .dry_run import Recorded
from .samples import label

_LOOKUP_PATHS = {source.path: name for name, source in LOOKUPS.items()}
_ROUNDS = 3
_RECORD = re.compile(r"/api/v2/(\w+)/(\d+)\Z", re.ASCII)    # one record: /api/v2/parties/7


def _op_text(resource: Resource, route: Route, call: Recorded, filtered: bool) -> str:
    """The text of the route's own call, from its operation and options."""
    noun = resource.noun
    if route.op == "show":
        return f"the {noun}"
    if route.op == "list":
        cut = "keeps the matches and cuts the v1 window out" if filtered else "cuts the v1 window out"
        return f"a page of {resource.v2.collection}; the proxy {cut}"
    if route.op == "create":
        parent = PARENTS.get(_kind(route, call)) if route.options.get("parent") == "link" else None
        return f"create the {noun}" + (f" linked to the {parent.noun}" if parent else "")
    if route.op == "update":
        return "update only the fields the v1 document holds"
    if route.op == "delete":
        return f"delete the {noun}"
    if route.op == "action":
        return route.options.get("doc") or f"{route.path.rsplit('/', 1)[-1]} the {noun}"
    return ""


def _kind(route: Route, call: Recorded) -> str:
    sent = call.body.get(next(iter(call.body))) if isinstance(call.body, dict) and len(call.body) == 1 else None
    return next((word for word, parent in PARENTS.items() if isinstance(sent, dict) and parent.link in sent), "")


class Claims:
    """Which elements asked for which look-up, for the purpose texts."""

    def __init__(self) -> None:
        self.by_lookup: dict[str, list[str]] = {}

    def add(self, lookup: str, who: str, zone_fixed: bool) -> None:
        if lookup in ALIASES:
            if zone_fixed:
                return                   # [translate] timezone stands in for it
            lookup = ALIASES[lookup]
        names = self.by_lookup.setdefault(lookup, [])
        if who not in names:
            names.append(who)

    def of(self, lookup: str) -> list[str]:
        return self.by_lookup.get(lookup, [])


def claims_for(match: Match, document: tuple[str, dict[str, Any]] | None, query: Mapping[str, str],
               calls: list[Recorded], account: Account, zone_fixed: bool) -> Claims:
    claims = Claims()
    resource, route = match.resource, match.route
    if resource is None or route is None:
        return claims
    if document is not None and document[0] in resource.roots:
        _write_claims(claims, resource, route, document, calls, account, zone_fixed)
    for shape in resource.shapes:
        items = [item for call in calls for item in _answered(call, resource)]
        for column in shape.columns:
            if column.read_lookups is not None:
                for item in items:
                    for lookup in column.read_lookups(item):
                        claims.add(lookup, label(column, shape), zone_fixed)
            for name, source in LOOKUPS.items():
                if source.path in getattr(column, "source", ""):
                    claims.add(name, label(column, shape), zone_fixed)
    if route.op == "list" and resource.plan_needs is not None:
        for param, value in query.items():
            for lookup in resource.plan_needs({param: value}):
                claims.add(lookup, f"the {param}= filter", zone_fixed)
    return claims


def _write_claims(claims: Claims, resource: Resource, route: Route, document: tuple[str, dict[str, Any]],
                  calls: list[Recorded], account: Account, zone_fixed: bool) -> None:
    """Ask each column what it needs, in rounds, as the proxy does (handlers.translate_in)."""
    root, v1 = document
    shape = resource.shape(root)
    ctx = Context(creating=route.op == "create", zone_override=account.zone if zone_fixed else None)
    stored = next((item for call in calls if call.method == "GET" for item in _answered(call, resource)), None)
    for _ in range(_ROUNDS):
        wanted: set[str] = set()
        for column in columns_to_write(shape, v1, ctx, check_required=False):
            try:
                needed = set(column.needs(v1, ctx))
            except (InvalidField, UpstreamDataError):
                continue
            for lookup in needed:
                claims.add(lookup, label(column, shape), zone_fixed)
            wanted |= needed
        for lookup in wanted:
            name = ALIASES.get(lookup, lookup)
            if name == "current":
                ctx.current = stored
            elif name == "caller":
                ctx.caller = account.caller
            else:
                ctx.lists[name] = account.lists.get(name, [])


def _answered(call: Recorded, resource: Resource) -> list[dict[str, Any]]:
    """The v2 records of the family in one answer (`{"task": ...}` or `{"tasks": [...]}`)."""
    answer = call.answer if isinstance(call.answer, dict) else {}
    one, many = answer.get(resource.v2.item), answer.get(resource.v2.collection)
    if isinstance(one, dict):
        return [one]
    return [item for item in many if isinstance(item, dict)] if isinstance(many, list) else []


def role_and_purpose(match: Match, call: Recorded, claims: Claims, account: Account, seen: set[str],
                     later: list[Recorded]) -> tuple[str, str]:
    """("look-up" or "call", why the call is made); ``later`` are the calls made after it."""
    path = urlsplit(call.path).path
    resource, route, params = match.resource, match.route, match.params
    if resource is None or route is None:
        return "call", ""
    lookup = _LOOKUP_PATHS.get(path) if call.method == "GET" else None
    if lookup is not None:
        if route.op == "reference" and route.options.get("lookup") == lookup:
            paged = ", every page" if LOOKUPS[lookup].paged else ""
            return "call", f"every {resource.noun}{paged}"
        again = lookup in seen
        seen.add(lookup)
        return "look-up", _lookup_text(lookup, claims.of(lookup), again)
    parent = PARENTS.get(params.get("kind", ""))
    if (parent is not None and route.options.get("parent") and call.method == "GET"
            and path == f"/api/v2/{parent.collection}/{params.get('id')}"):
        return "look-up", f"the {parent.noun} must exist (the v1 answer is 404 otherwise)"
    record = _RECORD.match(path) if call.method == "GET" else None
    if record is not None and any(_LOOKUP_PATHS.get(urlsplit(c.path).path) is None for c in later):
        return "look-up", _read_text(match, call, record[1], record[2], claims)
    if route.op not in ("action",) and route.options.get("doc"):
        return "call", route.options["doc"]
    return "call", _op_text(resource, route, call, account.filtered)


def _read_text(match: Match, call: Recorded, collection: str, ident: str, claims: Claims) -> str:
    """Why a record is read before the route's call: the stored record the change is made from
    (with what it embeds, and the elements that need it), or an item that must belong to the
    parent the path names."""
    resource, params = match.resource, match.params
    assert resource is not None
    parent = next((p for p in PARENTS.values() if p.collection == collection), None)
    noun = parent.noun if parent else _noun(collection)
    parent_named = PARENTS.get(params.get("kind", ""))
    if parent_named is not None and params.get("item") == ident and collection != parent_named.collection:
        return (f"the {noun}, which must belong to {parent_named.noun} {params.get('id')} "
                "(the v1 answer is 404 otherwise)")
    embedded = [name for value in parse_qs(urlsplit(call.path).query).get("embed", []) for name in value.split(",")]
    who = claims.of("current") if collection == resource.v2.collection else []
    return (f"the stored {noun}" + (f", with its {', '.join(embedded)}" if embedded else "")
            + (f", for {', '.join(who)}" if who else ""))


def _noun(collection: str) -> str:
    return next((r.noun for r in RESOURCES if r.v2.collection == collection), collection)


def _lookup_text(lookup: str, who: list[str], again: bool) -> str:
    source = LOOKUPS[lookup]
    what = f"the {lookup}" if source.single else f"the {lookup} list" + (" (every page)" if source.paged else "")
    if again:
        what += " again: a name was not in the cached one"
    return what + (f", for {', '.join(who)}" if who else "")


def summary(call: Recorded) -> str:
    """`200, 2 tasks, and a next page`, `201, one task, Location: ...`, `404: message`."""
    text = f"{call.status}"
    answer = call.answer
    if isinstance(answer, dict) and len(answer) == 1:
        (key, value), = answer.items()
        if isinstance(value, list):
            noun = key if len(value) != 1 else _item_noun(key)
            text += f", {len(value)} {noun}" + (", and a next page" if 'rel="next"' in call.headers.get("Link", "") else "")
        elif key != "message":
            text += f", one {key}"
        else:
            text += f": {value}"
    if "Location" in call.headers:
        text += f", Location: {call.headers['Location']}"
    return text


def _item_noun(collection: str) -> str:
    """`tasks` -> `task`, `categories` -> `category`: the item name a declaration gives."""
    found = next((r.v2.item for r in RESOURCES if r.v2.collection == collection), None)
    return found or collection.removesuffix("s")
