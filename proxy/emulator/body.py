"""Reading v2 request bodies: the `{"<resource>": {...}}` envelope and nested `{"id": N}` links."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from .errors import V2Error, field_error

MAX_BODY = 1024 * 1024


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; a 400 as v2 answers when it is not."""
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise V2Error(400, f"request body is not valid JSON: {exc}") from None


async def read_envelope(request: web.Request, resource: str) -> dict[str, Any]:
    """The object inside `{"<resource>": {...}}`; anything else is a 400, as in v2."""
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get(resource), dict):
        raise V2Error(400, f'request body must be a JSON object of the form {{"{resource}": {{...}}}}')
    return body[resource]


def is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def parse_link(fields: dict[str, Any], name: str, resource: str, errors: list[dict[str, str]],
               nullable: bool = True) -> int | None:
    """`{"id": N}` -> N; `null` -> None (clears the link). Bad shapes add an error."""
    value = fields[name]
    if value is None:
        if not nullable:
            errors.append(field_error(resource, name, f"{name} cannot be blank"))
        return None
    if isinstance(value, dict) and is_id(value.get("id")):
        return value["id"]
    errors.append(field_error(resource, name, f'{name} must be an object with a numeric id, such as {{"id": 1}}'))
    return None


def text_field(fields: dict[str, Any], name: str, resource: str, errors: list[dict[str, str]],
               required: bool = False, nullable: bool = True) -> str | None:
    """A string value; a required field must be present, a non-nullable one non-blank."""
    if name not in fields:
        if required:
            errors.append(field_error(resource, name, f"{name} is required"))
        return None
    value = fields[name]
    if value is None or (isinstance(value, str) and not value.strip() and not nullable):
        if not nullable:
            errors.append(field_error(resource, name, f"{name} is required"))
        return None
    if not isinstance(value, str):
        errors.append(field_error(resource, name, f"{name} must be a string"))
        return None
    return value
