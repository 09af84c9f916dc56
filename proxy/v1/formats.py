"""Content negotiation: which codec reads a request body and which one writes the answer.

XML is the default both ways, as in v1. JSON is used for answers when `Accept` asks for
application/json (before any XML type), and for bodies sent as `Content-Type: application/json`.
"""

from __future__ import annotations

import asyncio
from typing import Mapping

from aiohttp import web

from ..services import SERVICES
from . import json_codec, xml_codec
from .documents import UnsupportedMediaType
from .problems import V1Error

XML_TYPE = "application/xml"
JSON_TYPE = "application/json"
# Bodies with these types are read as XML: v1's default, and what `curl -d` sends by default.
_XML_BODY_TYPES = {"", "application/xml", "text/xml", "application/x-www-form-urlencoded",
                   "text/plain", "application/octet-stream"}


def wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "").lower()
    json_at = accept.find("json")
    if json_at < 0:
        return False
    xml_at = accept.find("xml")
    return xml_at < 0 or json_at < xml_at


def _always_list(request: web.Request) -> bool:
    return request.app[SERVICES].settings.get("translate", "json_always_list")


def _reply(request: web.Request, status: int, body: bytes,
           headers: Mapping[str, str] | None = None) -> web.Response:
    content_type = JSON_TYPE if wants_json(request) else XML_TYPE
    return web.Response(body=body, status=status, headers=headers, content_type=content_type,
                        charset="utf-8")


async def read_task(request: web.Request) -> dict[str, str]:
    """The request's v1 task document in neutral form; 400/413/415 as a DocumentError."""
    settings = request.app[SERVICES].settings
    max_bytes = settings.get("server", "max_body")
    try:
        # A client that drips its body must not hold a connection and a handler for ever.
        async with asyncio.timeout(settings.get("server", "body_timeout") or None):
            body = await request.read()
    except TimeoutError:
        raise V1Error(408, "the request body did not arrive in time") from None
    mimetype = request.content_type.lower() if "Content-Type" in request.headers else ""
    if mimetype == JSON_TYPE or mimetype.endswith("+json"):
        return json_codec.decode_task(body, max_bytes=max_bytes)
    if mimetype in _XML_BODY_TYPES or mimetype.endswith("+xml"):
        return xml_codec.decode_task(body, charset=request.charset, max_bytes=max_bytes)
    raise UnsupportedMediaType(f"a task body must be XML (application/xml) or JSON "
                               f"(application/json), not {mimetype}")


def task(request: web.Request, v1_task: Mapping[str, str]) -> web.Response:
    codec = json_codec if wants_json(request) else xml_codec
    return _reply(request, 200, codec.encode_task(v1_task))


def tasks(request: web.Request, v1_tasks: list[dict[str, str]]) -> web.Response:
    if wants_json(request):
        return _reply(request, 200, json_codec.encode_tasks(v1_tasks, always_list=_always_list(request)))
    return _reply(request, 200, xml_codec.encode_tasks(v1_tasks))


def users(request: web.Request, v1_users: list[dict[str, str]]) -> web.Response:
    if wants_json(request):
        return _reply(request, 200, json_codec.encode_users(v1_users, always_list=_always_list(request)))
    return _reply(request, 200, xml_codec.encode_users(v1_users))


def categories(request: web.Request, names: list[str]) -> web.Response:
    if wants_json(request):
        return _reply(request, 200, json_codec.encode_categories(names, always_list=_always_list(request)))
    return _reply(request, 200, xml_codec.encode_categories(names))


def error(request: web.Request, status: int, message: str,
          headers: Mapping[str, str] | None = None) -> web.Response:
    codec = json_codec if wants_json(request) else xml_codec
    return _reply(request, status, codec.encode_error(message), headers)
