"""Users, site, categories, parties, opportunities and kases: what tasks refer to."""

from __future__ import annotations

from typing import Any, Callable

from aiohttp import web

from . import directory_store as records
from .body import parse_link, read_envelope, text_field
from .errors import ValidationFailed, field_error, json_response
from .keys import STORE, USER
from .paging import link_header, page_from
from .seed import COLOUR

routes = web.RouteTableDef()


@routes.get("/api/v2/users")
async def list_users(request: web.Request) -> web.Response:
    return json_response({"users": await request.app[STORE].run(records.list_users)})


@routes.get("/api/v2/users/current")
async def current_user(request: web.Request) -> web.Response:
    return json_response({"user": request[USER]})


@routes.get("/api/v2/site")
async def site(request: web.Request) -> web.Response:
    return json_response({"site": await request.app[STORE].run(records.site)})


async def _paged(request: web.Request, key: str, fetch: Callable[..., list[Any]], *args: Any
                 ) -> web.Response:
    page = page_from(request)
    items = await request.app[STORE].run(fetch, *args, page.size + 1, page.offset)
    return json_response({key: items[:page.size]},
                         headers=link_header(request, page, len(items) > page.size))


def _created(request: web.Request, key: str, record: dict[str, Any]) -> web.Response:
    location = request.url.with_path(f"{request.path}/{record['id']}").with_query(None)
    return json_response({key: record}, status=201, headers={"Location": str(location)})


# --- categories ---

@routes.get("/api/v2/categories")
async def list_categories(request: web.Request) -> web.Response:
    return await _paged(request, "categories", records.list_categories)


@routes.get(r"/api/v2/categories/{id:[0-9]{1,18}}")
async def show_category(request: web.Request) -> web.Response:
    category = await request.app[STORE].run(records.get_category, int(request.match_info["id"]))
    return json_response({"category": category})


@routes.post("/api/v2/categories")
async def create_category(request: web.Request) -> web.Response:
    fields = await read_envelope(request, "category")
    errors: list[dict[str, str]] = []
    name = text_field(fields, "name", "category", errors, required=True, nullable=False)
    colour = fields.get("colour", "#999999")
    if not (isinstance(colour, str) and COLOUR.match(colour)):
        errors.append(field_error("category", "colour", "colour must be '#' and six hex digits"))
    if errors:
        raise ValidationFailed(errors)
    return _created(request, "category", await request.app[STORE].run(records.create_category, name, colour))


# --- parties ---

@routes.get("/api/v2/parties")
async def list_parties(request: web.Request) -> web.Response:
    return await _paged(request, "parties", records.list_parties)


@routes.get(r"/api/v2/parties/{id:[0-9]{1,18}}")
async def show_party(request: web.Request) -> web.Response:
    party = await request.app[STORE].run(records.get_party, int(request.match_info["id"]))
    return json_response({"party": party})


@routes.post("/api/v2/parties")
async def create_party(request: web.Request) -> web.Response:
    fields = await read_envelope(request, "party")
    errors: list[dict[str, str]] = []
    kind = fields.get("type")
    first = last = name = None
    if kind == "person":
        first = text_field(fields, "firstName", "party", errors)
        last = text_field(fields, "lastName", "party", errors)
        if not errors and not ((first or "").strip() or (last or "").strip()):
            errors.append(field_error("party", "firstName", "a person needs a firstName or lastName"))
    elif kind == "organisation":
        name = text_field(fields, "name", "party", errors, required=True, nullable=False)
    else:
        errors.append(field_error("party", "type", "type must be person or organisation"))
    if errors:
        raise ValidationFailed(errors)
    party = await request.app[STORE].run(records.create_party, kind, first, last, name)
    return _created(request, "party", party)


# --- opportunities and kases ---

def _parent_routes(table: str, resource: str) -> None:
    @routes.get(f"/api/v2/{table}")
    async def list_all(request: web.Request) -> web.Response:
        return await _paged(request, table, records.list_parents, table)

    @routes.get(rf"/api/v2/{table}/{{id:[0-9]{{1,18}}}}")
    async def show(request: web.Request) -> web.Response:
        record = await request.app[STORE].run(records.get_parent, table, int(request.match_info["id"]))
        return json_response({resource: record})

    @routes.post(f"/api/v2/{table}")
    async def create(request: web.Request) -> web.Response:
        fields = await read_envelope(request, resource)
        errors: list[dict[str, str]] = []
        name = text_field(fields, "name", resource, errors, required=True, nullable=False)
        party_id = None
        if "party" not in fields:
            errors.append(field_error(resource, "party", "party is required"))
        else:
            party_id = parse_link(fields, "party", resource, errors, nullable=False)
        if errors:
            raise ValidationFailed(errors)
        record = await request.app[STORE].run(records.create_parent, table, resource, name, party_id)
        return _created(request, resource, record)


_parent_routes("opportunities", "opportunity")
_parent_routes("kases", "kase")
