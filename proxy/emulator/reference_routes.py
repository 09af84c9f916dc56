"""Reference data: countries, currencies, track definitions, pipelines and milestones."""

from __future__ import annotations

from aiohttp import web

from . import reference_store
from .errors import json_response
from .records import ID, paged, run, single_id
from .refdata import countries, currencies

routes = web.RouteTableDef()


# The two built-in lists are short and fixed, so they come whole, without paging.
@routes.get("/api/v2/countries")
async def list_countries(request: web.Request) -> web.Response:
    return json_response({"countries": [{"name": name} for name in countries()]})


@routes.get("/api/v2/currencies")
async def list_currencies(request: web.Request) -> web.Response:
    return json_response({"currencies": [{"code": code} for code in currencies()]})


@routes.get("/api/v2/trackdefinitions")
async def list_track_definitions(request: web.Request) -> web.Response:
    return await paged(request, "trackDefinitions", reference_store.list_track_definitions)


@routes.get("/api/v2/pipelines")
async def list_pipelines(request: web.Request) -> web.Response:
    return await paged(request, "pipelines", reference_store.list_pipelines)


@routes.get(f"/api/v2/pipelines/{ID}")
async def show_pipeline(request: web.Request) -> web.Response:
    pipeline = await run(request, reference_store.get_pipeline, single_id(request, "pipeline", "id"))
    return json_response({"pipeline": pipeline})


@routes.get(f"/api/v2/pipelines/{ID}/milestones")
async def list_pipeline_milestones(request: web.Request) -> web.Response:
    return await paged(request, "milestones", reference_store.list_milestones, single_id(request, "pipeline", "id"))


@routes.get("/api/v2/milestones")
async def list_milestones(request: web.Request) -> web.Response:
    """The oldest active pipeline's milestones, which is what v2 keeps this path for."""
    return await paged(request, "milestones", reference_store.default_milestones)
