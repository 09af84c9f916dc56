"""Users, the site and task categories."""

from __future__ import annotations

from aiohttp import web

from . import directory_store as records
from .body import read_envelope, text_field
from .errors import ValidationFailed, field_error, json_response
from .keys import USER
from .records import ID, created, paged, run, single_id
from .seed import COLOUR

routes = web.RouteTableDef()


@routes.get("/api/v2/users")
async def list_users(request: web.Request) -> web.Response:
    return json_response({"users": await run(request, records.list_users)})


@routes.get("/api/v2/users/current")
async def current_user(request: web.Request) -> web.Response:
    return json_response({"user": request[USER]})


@routes.get("/api/v2/site")
async def site(request: web.Request) -> web.Response:
    return json_response({"site": await run(request, records.site)})


@routes.get("/api/v2/categories")
async def list_categories(request: web.Request) -> web.Response:
    return await paged(request, "categories", records.list_categories)


@routes.get(f"/api/v2/categories/{ID}")
async def show_category(request: web.Request) -> web.Response:
    category = await run(request, records.get_category, single_id(request, "category", "id"))
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
    return created(request, "category", await run(request, records.create_category, name, colour),
                   "/api/v2/categories")
