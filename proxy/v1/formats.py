"""The aiohttp side of the v1 documents: read a request's task body, write answers and errors
in the format the client asked for. The rules for choosing a format live in `codec`."""

from __future__ import annotations

import asyncio
from typing import Mapping

from aiohttp import web

from ..services import SERVICES
from . import codec
from .problems import V1Error


def _format(request: web.Request) -> str:
    return codec.response_format(request.headers.get("Accept"))


def _always_list(request: web.Request) -> bool:
    return request.app[SERVICES].settings.get("translate", "json_always_list")


def _reply(request: web.Request, status: int, body: bytes, fmt: str,
           headers: Mapping[str, str] | None = None) -> web.Response:
    response = web.Response(body=body, status=status, headers=headers)
    response.headers["Content-Type"] = codec.content_type(fmt)
    return response


async def read_task(request: web.Request) -> dict[str, str]:
    """The request's v1 task document in neutral form; 400/413/415 as a DocumentError."""
    settings = request.app[SERVICES].settings
    if (request.content_length or 0) > settings.get("server", "max_body"):
        # A declared length over the limit is refused at once, not after waiting for the body.
        raise V1Error(413, "the request body is larger than the proxy accepts")
    try:
        # A client that drips its body must not hold a connection and a handler for ever.
        async with asyncio.timeout(settings.get("server", "body_timeout") or None):
            body = await request.read()
    except TimeoutError:
        raise V1Error(408, "the request body did not arrive in time") from None
    return codec.decode_task(body, request.headers.get("Content-Type"),
                             max_bytes=settings.get("server", "max_body"))


def task(request: web.Request, v1_task: Mapping[str, str]) -> web.Response:
    fmt = _format(request)
    return _reply(request, 200, codec.encode_task(v1_task, fmt), fmt)


def tasks(request: web.Request, v1_tasks: list[dict[str, str]]) -> web.Response:
    fmt = _format(request)
    return _reply(request, 200, codec.encode_tasks(v1_tasks, fmt, always_list=_always_list(request)), fmt)


def users(request: web.Request, v1_users: list[dict[str, str]]) -> web.Response:
    fmt = _format(request)
    return _reply(request, 200, codec.encode_users(v1_users, fmt, always_list=_always_list(request)), fmt)


def categories(request: web.Request, names: list[str]) -> web.Response:
    fmt = _format(request)
    return _reply(request, 200, codec.encode_categories(names, fmt, always_list=_always_list(request)), fmt)


def error(request: web.Request, status: int, message: str,
          headers: Mapping[str, str] | None = None) -> web.Response:
    fmt = _format(request)
    return _reply(request, status, codec.encode_error(message, fmt), fmt, headers)
