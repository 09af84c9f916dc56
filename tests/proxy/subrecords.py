"""Helpers for the history, tag and custom-field tests: v1 calls through the proxy, and v2 reads
straight from the emulator behind it (demo seed)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from lxml import etree

from .conftest import JSON, PHILLIP, XML_BODY

#: (v1 kind, a record of that kind in the demo seed, its v2 collection)
KINDS = [("party", 1, "parties"), ("opportunity", 1, "opportunities"), ("kase", 1, "kases")]
JSON_IN = {"Content-Type": "application/json"}


async def xml(proxy, path: str, status: int = 200, headers=PHILLIP) -> etree._Element:
    response = await proxy.get(path, headers=headers)
    body = await response.read()
    assert response.status == status, body
    return etree.fromstring(body)


async def as_json(proxy, path: str, status: int = 200) -> dict[str, Any]:
    response = await proxy.get(path, headers={**PHILLIP, **JSON})
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"].startswith("application/json")
    return await response.json()


async def send(proxy, method: str, path: str, body: str | bytes | dict | None = None, status: int = 200,
               headers=PHILLIP) -> aiohttp.ClientResponse:
    """A v1 write: a dict goes as v1 JSON, text as XML. Writes answer an empty body."""
    if isinstance(body, dict):
        data, content = json.dumps(body), JSON_IN
    else:
        data, content = body, XML_BODY if body is not None else {}
    response = await proxy.request(method, path, data=data, headers={**headers, **content})
    text = await response.text()
    assert response.status == status, text
    if status < 300 and method != "GET":
        assert text == ""                     # v1 clients read a non-empty body as the answer
    return response


async def error(response: aiohttp.ClientResponse) -> str:
    body = await response.read()
    if response.headers["Content-Type"].startswith("application/json"):
        return json.loads(body)["message"]
    return etree.fromstring(body).findtext("message")


def upstream_session(upstream, token: str = "tok-phillip") -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base_url=str(upstream.make_url("")), headers={"Authorization": f"Bearer {token}"})


async def v2(upstream, method: str, path: str, body: Any = None) -> Any:
    async with upstream_session(upstream) as session:
        async with session.request(method, path, json=body) as response:
            assert response.status < 300, await response.text()
            return await response.json() if response.status != 204 else None


def as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def warnings(response: aiohttp.ClientResponse) -> str:
    return response.headers.get("Warning", "")
