"""Helpers for the opportunity, case, additional-party and reference-data tests: v1 calls through
the proxy, v2 reads straight from the emulator, and a recorder that also keeps request bodies."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from aiohttp import web
from lxml import etree

from .conftest import PHILLIP, XML_BODY, Recorder


class BodyRecorder(Recorder):
    """As Recorder, and the JSON body of every write, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[tuple[str, str, Any]] = []

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method in ("POST", "PUT"):
            raw = await request.read()
            self.bodies.append((request.method, request.path, orjson.loads(raw) if raw else None))
        return await super().middleware(request, handler)

    def clear(self) -> None:
        super().clear()
        self.bodies.clear()

    def written(self, method: str = "PUT") -> list[Any]:
        return [body for m, _, body in self.bodies if m == method]


async def xml(proxy, path: str, status: int = 200, headers=PHILLIP) -> etree._Element:
    response = await proxy.get(path, headers=headers)
    body = await response.read()
    assert response.status == status, body
    return etree.fromstring(body)


async def as_json(proxy, path: str, status: int = 200) -> Any:
    response = await proxy.get(path, headers={**PHILLIP, "Accept": "application/json"})
    assert response.status == status, await response.text()
    return await response.json()


async def v2(upstream, path: str, token: str = "tok-phillip") -> dict[str, Any]:
    async with aiohttp.ClientSession(base_url=str(upstream.make_url("")),
                                     headers={"Authorization": f"Bearer {token}"}) as session:
        async with session.get(path) as response:
            assert response.status == 200, await response.text()
            return await response.json()


def children(element: etree._Element) -> list[str]:
    return [child.tag for child in element]


def record(element: etree._Element) -> dict[str, str]:
    return {child.tag: child.text or "" for child in element}


async def write(proxy, method: str, path: str, body: bytes | str, status: int, headers=XML_BODY,
                auth=PHILLIP) -> aiohttp.ClientResponse:
    response = await proxy.request(method, path, data=body, headers={**auth, **headers})
    text = await response.text()
    assert response.status == status, text
    if status in (200, 201):
        assert text == ""                       # v1 clients read a body as the answer
    return response


async def created(proxy, path: str, body: bytes | str, kind: str, headers=XML_BODY, auth=PHILLIP) -> int:
    response = await write(proxy, "POST", path, body, 201, headers, auth)
    location = response.headers["Location"]
    assert location.startswith(str(proxy.make_url(f"/api/{kind}/")))
    return int(location.rsplit("/", 1)[1])


async def refused(proxy, method: str, path: str, body: bytes | str, named: str, status: int = 400,
                  headers=XML_BODY) -> str:
    response = await write(proxy, method, path, body, status, headers)
    text = await response.text()
    assert named in text, text
    return text
