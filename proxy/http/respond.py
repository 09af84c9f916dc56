"""Reading a request's v1 document and writing v1 answers, in the format the client asked for
(decision P2; the rules live in proxy/v1/codec.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from ..keys import FORMAT, SERVICES, WARNINGS
from ..v1 import codec
from .errors import V1Error


def response_format(request: web.Request) -> str:
    chosen = request.get(FORMAT)   # a .json/.xml suffix on the path wins over Accept
    return chosen if chosen is not None else codec.response_format(request.headers.get("Accept"))


def _reply(request: web.Request, status: int, body: bytes, fmt: str,
           headers: Mapping[str, str] | None = None) -> web.Response:
    response = web.Response(body=body, status=status, headers=headers)
    response.headers["Content-Type"] = codec.CONTENT_TYPES[fmt]
    return response


def too_large(limit: int) -> V1Error:
    return V1Error(413, f"the request body is larger than the proxy accepts ([server] max_body: {limit} bytes)")


async def read_document(request: web.Request, roots: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """The request's v1 document, whose root is one of ``roots``: (root, neutral record).
    A bad body is a DocumentError (400/413/415), refused before any upstream call."""
    settings = request.app[SERVICES].settings
    limit = settings.get("server", "max_body")     # a declared length over it was refused in _admit
    try:
        # A client that drips its body must not hold a connection and a handler for ever.
        async with asyncio.timeout(settings.get("server", "body_timeout") or None):
            body = await request.read()
    except TimeoutError:
        raise V1Error(408, "the request body did not arrive in time", close=True) from None
    except RequestPayloadError:
        # aiohttp undoes Content-Encoding itself; a body that is not what it says is the client's.
        encoding = request.headers.get("Content-Encoding", "")
        raise V1Error(400, f"the request body is not valid {encoding or 'chunked'} data as its headers say",
                      close=True) from None
    return codec.decode(body, request.headers.get("Content-Type"), roots, max_bytes=limit)


def _always_list(request: web.Request) -> bool:
    return request.app[SERVICES].settings.get("translate", "json_always_list")


def record(request: web.Request, root: str, value: Mapping[str, Any]) -> web.Response:
    fmt = response_format(request)
    return _reply(request, 200, codec.encode(root, value, fmt, always_list=_always_list(request)), fmt)


def listing(request: web.Request, root: str, items: Iterable[tuple[str, Any]], item: str | None = None) -> web.Response:
    fmt = response_format(request)
    body = codec.encode_list(root, items, fmt, always_list=_always_list(request), item=item)
    return _reply(request, 200, body, fmt)


def error(request: web.Request, status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    fmt = response_format(request)
    return _reply(request, status, codec.encode_error(message, fmt), fmt, headers)


def empty(status: int, headers: Mapping[str, str] | None = None) -> web.Response:
    """v1 answered writes with an empty body (clients such as GF read a non-empty one as the answer)."""
    return web.Response(status=status, headers=headers)


def warn(request: web.Request, messages: Iterable[str]) -> None:
    """Say in the answer's Warning header what Capsule changed about what the client sent (nothing,
    for no messages: the header is written only when there is one)."""
    request.setdefault(WARNINGS, []).extend(messages)
