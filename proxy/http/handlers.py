"""The generic operations every declared route is served by. Each reads as a sentence:
decode v1 -> translate -> call v2 -> translate back -> encode v1. Conversion rules live in the
declarations (proxy/resources) and the engine (proxy/translate), never here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from aiohttp import web

from ..keys import PAGES, PARAMS, SERVICES, TOKEN
from ..resources.base import PARENTS, Parent, Resource, Route
from ..resources.lookups import ALIASES
from ..translate import fields as engine
from ..translate import v2_data
from ..translate.errors import InvalidField
from ..translate.fields import Context, Shape, UnknownName
from ..translate.ids import created_id, parse_id
from ..translate.paging import parse_limit, parse_start
from ..upstream.client import Answer, UpstreamError, UpstreamUnavailable
from . import respond
from .addresses import public_base
from .errors import V1Error
from .scan import scan

Operation = Callable[[web.Request, Resource, Route], Awaitable[web.StreamResponse]]

_MAX_ROUNDS = 3                                # look-up rounds: each may reveal the need for another


# --- request parts --------------------------------------------------------------------------------

def path_id(request: web.Request, name: str = "id", noun: str = "record") -> int:
    """A path id by the one id rule; anything else is a 404 and never reaches the upstream."""
    raw = request[PARAMS][name]
    ident = parse_id(raw)
    if ident is None:
        raise V1Error(404, f"there is no {noun} with id {raw!r}")
    return ident


def path_parent(request: web.Request) -> tuple[Parent, int]:
    parent = PARENTS[request[PARAMS]["kind"]]
    return parent, path_id(request, "id", parent.noun)


def query_params(request: web.Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters a route reads, each at most once (a repeated one is refused, never
    half-read), matched in any case (MF sends `lastModified`); others are ignored, as v1 did.
    A value whose percent-encoding is not UTF-8 (Latin-1 from old PHP) is a 400, not a filter
    that silently matches nothing."""
    found: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.query_string, keep_blank_values=True, errors="surrogateescape"):
        if name.lower() in allowed:
            found.setdefault(name.lower(), []).append(value)
    params = {}
    for name, values in found.items():
        if len(values) > 1:
            raise InvalidField(name, f"{name} is given {len(values)} times; give it once "
                                     "(several values are comma-separated)")
        try:
            values[0].encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidField(name, f"{name} is not UTF-8 once percent-decoded (Latin-1?); encode the "
                                     "value as UTF-8, e.g. %C3%A9 for \u00e9") from None
        params[name] = values[0]
    return params


async def _call(request: web.Request, method: str, path: str, **kwargs: Any) -> Answer:
    return await request.app[SERVICES].upstream.call(method, path, request[TOKEN], **kwargs)


async def require(request: web.Request, collection: str, item: str, ident: int, noun: str,
                  params: dict[str, str] | None = None) -> dict[str, Any]:
    """The v2 record, or a v1 404 naming it (a parent, the record a PUT changes, an item named
    under its parent); ``params`` such as ``embed``."""
    try:
        answer = await _call(request, "GET", f"/api/v2/{collection}/{ident}", params=params)
    except UpstreamError as exc:
        if exc.status == 404:
            raise V1Error(404, f"there is no {noun} with id {ident}") from None
        raise
    return answer.item(item)


# --- look-ups into a Context ---------------------------------------------------------------------

async def fill(request: web.Request, ctx: Context, wanted: set[str],
               current: Callable[[], Awaitable[dict[str, Any]]] | None = None) -> None:
    """Fetch the look-ups not yet in ``ctx`` (cached per token; see upstream/lookups.py)."""
    services = request.app[SERVICES]
    for name in sorted(wanted):      # a fixed order: explain and docs/migrating.md show it
        if name in ALIASES:
            if ctx.zone_override is not None:
                continue                      # [translate] timezone stands in for the users' zones
            name = ALIASES[name]
        if name in ctx.lists:
            continue
        if name == "current":
            if ctx.current is None and current is not None:
                ctx.current = await current()
        elif name == "caller":
            if ctx.caller is None:
                ctx.caller = await services.lookups.get("caller", request[TOKEN])
        else:
            ctx.lists[name] = await services.lookups.get(name, request[TOKEN])


def new_context(request: web.Request, *, creating: bool = False) -> Context:
    override = request.app[SERVICES].settings.get("translate", "timezone")
    # config validated the name; ZoneInfo caches its instances, so this is a dict look-up.
    return Context(creating=creating, zone_override=ZoneInfo(override) if override else None)


async def translate_in(request: web.Request, shape: Shape, v1: Mapping[str, Any], ctx: Context,
                       current: Callable[[], Awaitable[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The v2 body for a v1 document: the look-ups it needs, then the table's rules. A name not
    in a cached list reads that list once more before the 400 (P3). What can be checked without
    a look-up is checked first, so an invalid document costs no upstream call."""
    engine.precheck(shape, v1, ctx)
    for _ in range(_MAX_ROUNDS):
        wanted = engine.needs(shape, v1, ctx)
        before = (len(ctx.lists), ctx.caller is None, ctx.current is None)
        await fill(request, ctx, wanted, current)
        if (len(ctx.lists), ctx.caller is None, ctx.current is None) == before:
            break
    try:
        return engine.to_v2(shape, v1, ctx)
    except UnknownName as exc:
        ctx.lists[exc.lookup] = await request.app[SERVICES].lookups.get(exc.lookup, request[TOKEN], refresh=True)
        return engine.to_v2(shape, v1, ctx)


async def translate_out(request: web.Request, resource: Resource, v2_items: list[dict[str, Any]],
                        ctx: Context) -> list[tuple[str, dict[str, Any]]]:
    """v2 objects -> (v1 root, record) pairs, with the look-ups reading them needs."""
    shapes = [resource.answer_shape(item) for item in v2_items]
    by_shape: dict[Any, list[dict[str, Any]]] = {}
    for shape, item in zip(shapes, v2_items):
        by_shape.setdefault(shape, []).append(item)
    wanted: set[str] = set()
    for shape, items in by_shape.items():
        wanted |= engine.read_needs(shape, items)
    await fill(request, ctx, wanted)
    return [(shape.root, engine.to_v1(shape, item, ctx)) for shape, item in zip(shapes, v2_items)]


def created(request: web.Request, resource: Resource, answer: Answer) -> web.Response:
    """201, an empty body and `Location: <public base>/api/<kind>/{id}` (P4)."""
    new_id = created_id(answer.headers.get("Location", ""))
    if new_id is None and isinstance(answer.data, dict):
        item = answer.data.get(resource.v2.item)
        new_id = item.get("id") if isinstance(item, dict) and type(item.get("id")) is int else None
        new_id = new_id if new_id is not None and parse_id(str(new_id)) else None
    if new_id is None:
        raise UpstreamUnavailable(f"Capsule accepted the create but did not say which id the new "
                                  f"{resource.noun} has", transient=False, maybe_created=True)
    base = public_base(request, request.app[SERVICES].settings)
    return respond.empty(201, {"Location": base + resource.location.format(id=new_id)})


# --- the operations -------------------------------------------------------------------------------

async def show(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    ident = path_id(request, noun=resource.noun)
    answer = await _call(request, "GET", f"{resource.v2.path}/{ident}")
    ctx = new_context(request)
    [(root, record)] = await translate_out(request, resource, [answer.item(resource.v2.item)], ctx)
    respond.warn(request, ctx.warnings)
    return respond.record(request, root, record)


async def list_records(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    query = query_params(request, resource.list_params)
    start, limit = parse_start(query.get("start")), parse_limit(query.get("limit"))
    query = {**query, **route.options.get("query", {})}
    parent = None
    if route.options.get("parent") == "path":       # v2 has no such list: the planner filters
        kind, ident = path_parent(request)
        await require(request, kind.collection, kind.link, ident, kind.noun)
        parent = (kind.word, ident)
    elif route.options.get("parent") == "scoped":   # v2 lists under the parent itself
        kind = PARENTS[request[PARAMS].get("kind", resource.name)]
        parent = (kind.word, path_id(request, "id", kind.noun))
    ctx = new_context(request)
    await fill(request, ctx, resource.plan_needs(query) if resource.plan_needs else set())
    assert resource.planner is not None, f"{resource.name} declares a list without a planner"
    try:
        plan = resource.planner(query, parent, ctx)
    except UnknownName as exc:
        ctx.lists[exc.lookup] = await request.app[SERVICES].lookups.get(exc.lookup, request[TOKEN], refresh=True)
        try:
            plan = resource.planner(query, parent, ctx)
        except UnknownName:
            return respond.listing(request, resource.list_root, [], item=resource.shapes[0].root)
    services = request.app[SERVICES]
    pages = request.setdefault(PAGES, [0])

    def page_read() -> None:
        pages[0] += 1

    async def translate(items: list[dict[str, Any]]) -> list[Any]:
        return await translate_out(request, resource, items, ctx)

    transport = request.transport
    max_pages = services.settings.get("upstream", "max_pages")
    async with services.lists.reserve(limit if limit is not None else max_pages * plan.page_size):
        try:
            found = await scan(services.upstream, request[TOKEN], plan, start, limit, translate=translate,
                               max_pages=max_pages, on_page=page_read,
                               client_gone=lambda: transport is None or transport.is_closing())
        except UpstreamError as exc:
            if exc.status == 404 and parent is not None:
                raise V1Error(404, f"there is no {PARENTS[parent[0]].noun} with id {parent[1]}") from None
            raise
        respond.warn(request, ctx.warnings)
        return respond.listing(request, resource.list_root, found, item=resource.shapes[0].root)


async def create(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    root, v1 = await respond.read_document(request, route.options.get("roots", resource.roots))
    ctx = new_context(request, creating=True)
    extra = _query_body(request, route)               # checked before any upstream call
    # Translated before the parent is checked, so an invalid document costs no upstream call
    # (only the look-ups it names, P5).
    body = await translate_in(request, resource.shape(root), v1, ctx) | extra
    if route.options.get("parent") == "link":
        kind, ident = path_parent(request)
        await require(request, kind.collection, kind.link, ident, kind.noun)
        body[kind.link] = {"id": ident}
    try:
        answer = await _call(request, "POST", resource.v2.path, json={resource.v2.item: body})
    except UpstreamError as exc:
        raise _explained(exc, route, v1) from None
    respond.warn(request, ctx.warnings)
    return created(request, resource, answer)


def _query_body(request: web.Request, route: Route) -> dict[str, Any]:
    """What a route's query parameters add to the v2 body (`?trackId=` -> `tracks`): the option
    `query_body` is (the parameter names, lower case; a function of them to body fields)."""
    option = route.options.get("query_body")
    if option is None:
        return {}
    names, build = option
    return build(query_params(request, names))


def _explained(exc: UpstreamError, route: Route, v1: Mapping[str, Any]) -> Exception:
    """A v2 422 on a field the route explains in v1's terms (a duplicate organisation, PA6)."""
    explain = route.options.get("rejected", {})
    for error in exc.errors if exc.status == 422 else ():
        if error.get("field") in explain:
            return V1Error(400, explain[error["field"]].format(**{k: v for k, v in v1.items() if isinstance(v, str)}))
    return exc


async def update(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    """A partial update. With `parent="move"` the path is `/api/{kind}/{id}/<word>/{item}`: the
    record `{item}` moves to that parent (which must exist) as it is updated."""
    moving = route.options.get("parent") == "move"
    ident = path_id(request, "item" if moving else "id", resource.noun)
    root, v1 = await respond.read_document(request, route.options.get("roots", resource.roots))
    ctx = new_context(request)

    async def current() -> dict[str, Any]:
        return await require(request, resource.v2.collection, resource.v2.item, ident, resource.noun)

    body = await translate_in(request, resource.shape(root), v1, ctx, current)
    if moving:                                      # checked after the document, as a create (P5)
        kind, parent_id = path_parent(request)
        await require(request, kind.collection, kind.link, parent_id, kind.noun)
        body[kind.link] = {"id": parent_id}
    try:
        await _call(request, "PUT", f"{resource.v2.path}/{ident}", json={resource.v2.item: body})
    except UpstreamError as exc:
        raise _explained(exc, route, v1) from None
    respond.warn(request, ctx.warnings)
    return respond.empty(200)


async def delete(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    ident = path_id(request, noun=resource.noun)
    await _call(request, "DELETE", f"{resource.v2.path}/{ident}")
    return respond.empty(200)  # v2 answers 204 (or 202); v1 clients check for 200


async def action(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    ident = path_id(request, noun=resource.noun)   # any body is ignored, as v1 did
    await _call(request, "PUT", f"{resource.v2.path}/{ident}", json={resource.v2.item: dict(route.options["body"])})
    return respond.empty(200)


async def reference(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    """A list answered from a look-up, read fresh (P3): users, task categories, ...; with
    `fresh=False`, from the cache (fixed lists such as countries and currencies)."""
    services, token = request.app[SERVICES], request[TOKEN]
    items = await services.lookups.get(route.options["lookup"], token, refresh=route.options.get("fresh", True))
    ctx = new_context(request)
    await fill(request, ctx, set(route.options.get("also", ())))
    read_text = route.options.get("text")
    if read_text is not None:
        values = [(route.options["item"], value) for item in items if (value := read_text(item))]
    else:
        values = [(route.options["item"], record) for _, record in await translate_out(request, resource, items, ctx)]
    return respond.listing(request, resource.list_root, values, item=route.options["item"])


async def remove_item(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    """Remove one item of a record's v2 array (a party's contact): v2 does it through the record's
    PUT with `{"id": N, "_delete": true}`, and only the stored record says which array holds the
    item, so it takes two calls, which are not atomic (PA2)."""
    ident = path_id(request, noun=resource.noun)
    item_noun = route.options["item_noun"]
    item = path_id(request, "item", item_noun)
    stored = await require(request, resource.v2.collection, resource.v2.item, ident, resource.noun)
    array = route.options["locate"](stored, item)
    if array is None:
        raise V1Error(404, f"{resource.noun} {ident} has no {item_noun} with id {item}")
    await _call(request, "PUT", f"{resource.v2.path}/{ident}",
                json={resource.v2.item: {array: [v2_data.removal(item)]}})
    return respond.empty(200)


#: The generic operations; proxy/http/operations.py adds the families' own (tags, links, ...).
CORE_OPERATIONS: dict[str, Operation] = {
    "show": show, "list": list_records, "create": create, "update": update, "delete": delete,
    "action": action, "reference": reference, "remove_item": remove_item,
}
