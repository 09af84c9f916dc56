"""Multi-call writes through a fault-injecting upstream: the emulator, whose PUTs fail on demand.

Every tag and custom-field write is reads, then one PUT of the record. When the PUT fails the
answer is a 5xx that says what may or may not have been applied, and that nothing else was
changed (the calls before it only read)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from proxy.app import create_app as create_proxy_app
from proxy.config import load_settings
from proxy.emulator.app import create_app as create_emulator_app
from proxy.emulator.seed import load_seed

from .conftest import Recorder
from .subrecords import error, send, xml


def custom_fields(*fields: str) -> str:
    return "<customFields>" + "".join(f"<customField>{f}</customField>" for f in fields) + "</customFields>"


@pytest.fixture
async def faulty(aiohttp_server, aiohttp_client):
    """A proxy in front of an emulator whose PUTs fail as `fault["put"]` says (None: they work)."""
    fault: dict[str, object] = {"put": None}
    recorder = Recorder()

    @web.middleware
    async def fail_puts(request: web.Request, handler):
        if request.method == "PUT" and fault["put"] == "503":
            return web.json_response({"message": "Service Unavailable"}, status=503)
        if request.method == "PUT" and fault["put"] == "hang":
            await asyncio.sleep(5)
        return await handler(request)

    app = create_emulator_app(load_seed(None))
    app.middlewares[:0] = [recorder.middleware, fail_puts]
    server = await aiohttp_server(app)
    settings = load_settings(environ={}, flags={"upstream": {"retries": 1, "read_timeout": 0.5,
                                                             "total_timeout": 1.0}})
    proxy = await aiohttp_client(create_proxy_app(settings, str(server.make_url("")).rstrip("/")))
    return proxy, fault, recorder


@pytest.mark.parametrize("put, status, said", [
    ("503", 502, "Capsule answered 503 to the change of party 1"),
    ("hang", 504, "Capsule did not answer the change of party 1 in time"),
])
async def test_a_failed_write_says_what_was_and_was_not_applied(faulty, put, status, said):
    proxy, fault, recorder = faulty
    fault["put"] = put
    response = await send(proxy, "PUT", "/api/party/1/customfields",
                          custom_fields("<label>NI Number</label><text></text>",
                                        "<label>Employees</label><number>9</number>"), status)
    message = await error(response)
    assert said in message
    assert "the custom fields 'NI Number', 'Employees' may or may not have been applied" in message
    assert "nothing else was changed" in message and "read GET /api/party/1/customfields" in message
    # The two reads happened; the write was tried once ([upstream] retries = 1).
    assert [m for m, _ in recorder.calls] == ["GET", "GET", "PUT"]
    fault["put"] = None
    await send(proxy, "POST", "/api/party/1/tag/Partner", status=201)
    fault["put"] = put
    response = await send(proxy, "DELETE", "/api/party/1/tag/Partner", status=status)
    assert "tag 'Partner' (removed) may or may not have been applied" in await error(response)


async def test_a_failed_tag_write_says_so_too(faulty):
    proxy, fault, recorder = faulty
    fault["put"] = "503"
    response = await send(proxy, "POST", "/api/kase/1/tag/Escalated", status=502)
    assert "tag 'Escalated' (added) may or may not have been applied" in await error(response)
    assert "Location" not in response.headers
    fault["put"] = None
    assert [t.findtext("name") for t in await xml(proxy, "/api/kase/1/tag")] == ["Urgent"]
