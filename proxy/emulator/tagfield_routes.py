"""Tag definitions and custom field definitions of parties, opportunities and kases.

Attaching tags and setting field values go through the record's own PUT.
"""

from __future__ import annotations

from aiohttp import web

from . import field_store, tag_store
from .body import read_envelope, text_field
from .errors import ValidationFailed, field_error, json_response
from .records import ID, created, no_content, paged, run, single_id
from .schema import ENTITIES

routes = web.RouteTableDef()


def _entity_routes(entity: str) -> None:
    tags = f"/api/v2/{entity}/tags"
    definitions = f"/api/v2/{entity}/fields/definitions"

    @routes.get(tags)
    async def list_tags(request: web.Request) -> web.Response:
        return await paged(request, "tags", tag_store.list_definitions, entity)

    @routes.post(tags)
    async def create_tag(request: web.Request) -> web.Response:
        fields = await read_envelope(request, "tag")
        errors: list[dict[str, str]] = []
        name = text_field(fields, "name", "tag", errors, required=True, nullable=False)
        description = text_field(fields, "description", "tag", errors)
        data_tag = fields.get("dataTag", False)
        if not isinstance(data_tag, bool):
            errors.append(field_error("tag", "dataTag", "dataTag must be true or false"))
        if errors:
            raise ValidationFailed(errors)
        tag = await run(request, tag_store.create_definition, entity, (name or "").strip(), description, data_tag)
        return created(request, "tag", tag, tags)

    @routes.get(f"{tags}/{ID}")
    async def show_tag(request: web.Request) -> web.Response:
        tag = await run(request, tag_store.get_definition, entity, single_id(request, "tag", "id"))
        return json_response({"tag": tag})

    @routes.delete(f"{tags}/{ID}")
    async def delete_tag(request: web.Request) -> web.Response:
        await run(request, tag_store.delete_definition, entity, single_id(request, "tag", "id"))
        return no_content()

    @routes.get(definitions)
    async def list_definitions(request: web.Request) -> web.Response:
        return await paged(request, "definitions", field_store.list_definitions, entity)

    @routes.get(f"{definitions}/{ID}")
    async def show_definition(request: web.Request) -> web.Response:
        definition = await run(request, field_store.get_definition, entity, single_id(request, "definition", "id"))
        return json_response({"definition": definition})


for _entity in ENTITIES:
    _entity_routes(_entity)
