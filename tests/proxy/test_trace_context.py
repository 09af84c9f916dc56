"""W3C trace context passes through the proxy to the upstream, end to end (decision O5)."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import pytest
from aiohttp import web

from proxy.logs import setup_logging
from proxy.tracing import trace_context

from .conftest import PHILLIP, Recorder

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
STATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"


class TraceRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.traces: list[tuple[str | None, str | None]] = []

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.traces.append((request.headers.get("traceparent"), request.headers.get("tracestate")))
        return await super().middleware(request, handler)

    def clear(self) -> None:
        super().clear()
        self.traces.clear()


@pytest.fixture
def recorder() -> TraceRecorder:
    return TraceRecorder()


async def test_an_incoming_trace_is_sent_upstream_on_every_call(proxy, recorder):
    response = await proxy.get("/api/task/1", headers={**PHILLIP, "traceparent": PARENT, "tracestate": STATE})
    assert response.status == 200
    assert len(recorder.traces) == 2                           # the task and its owner's zone
    assert set(recorder.traces) == {(PARENT, STATE)}


async def test_a_request_without_one_starts_a_trace(proxy, recorder):
    await proxy.get("/api/task/1", headers=PHILLIP)
    [(first, state), (second, _)] = recorder.traces
    assert first == second and state is None
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", first)
    recorder.clear()
    await proxy.get("/api/task/1", headers=PHILLIP)
    assert recorder.traces[0][0].split("-")[1] != first.split("-")[1]   # a new trace per request


@pytest.mark.parametrize("bad", ["00-" + "0" * 32 + "-00f067aa0ba902b7-01", "ff-" + "a" * 32 + "-" + "b" * 16 + "-01",
                                 "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "garbage",
                                 PARENT + "-extra"])
def test_an_invalid_traceparent_is_replaced_and_its_state_dropped(bad):
    parent, state, trace_id = trace_context(bad, STATE)
    assert parent != bad and state is None and parent.split("-")[1] == trace_id


def test_a_later_version_may_carry_more_fields():
    future = "01-" + "a" * 32 + "-" + "b" * 16 + "-01-more"
    assert trace_context(future, None)[0] == future


async def test_the_trace_id_is_logged_beside_the_request_id(proxy):
    stream = io.StringIO()
    setup_logging("info", "json", stream)
    try:
        await proxy.get("/api/task/1", headers={**PHILLIP, "traceparent": PARENT, "X-Request-Id": "req-1"})
    finally:
        setup_logging("info", "text", io.StringIO())
        logging.getLogger().handlers[:] = [h for h in logging.getLogger().handlers
                                            if not getattr(h, "_capsule_proxy", False)]
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if '"request_id"' in line]
    assert lines and lines[-1]["request_id"] == "req-1"
    assert lines[-1]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
