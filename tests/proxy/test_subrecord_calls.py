"""Upstream calls per v1 history, tag and custom-field call, cold (a new proxy: nothing cached)
and warm (the same call once more), for every parent kind. The issue's closing note quotes
this table; tests/proxy/test_history.py shows a long history read in pages of 50 (one call per
page)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .subrecords import KINDS, send, v2

# A text field of each kind with a value in the demo seed, and another value for it.
FIELD = {"party": ("Lead Source", "newsletter"), "opportunity": ("Competitor", "Acme"), "kase": ("Ticket", "T-2")}
ENTRY = {"party": 1, "opportunity": 4, "kase": 5}           # an entry of party 1, opportunity 1, kase 1

Setup = Callable[[Any, dict[str, Any]], Awaitable[dict[str, Any]]]


async def a_note(upstream, at: dict[str, Any]) -> dict[str, Any]:
    entry = await v2(upstream, "POST", "/api/v2/entries",
                     {"entry": {"type": "note", "content": "x", at["kind"]: {"id": at["id"]}}})
    return {"entry": entry["entry"]["id"]}


async def a_tag(upstream, at: dict[str, Any]) -> dict[str, Any]:
    await v2(upstream, "PUT", f"/api/v2/{at['collection']}/{at['id']}", {at["kind"]: {"tags": [{"name": f"T{at['n']}"}]}})
    return {}


async def a_value(upstream, at: dict[str, Any]) -> dict[str, Any]:
    label, value = FIELD[at["kind"]]
    await v2(upstream, "PUT", f"/api/v2/{at['collection']}/{at['id']}",
             {at["kind"]: {"fields": [{"definition": {"name": label}, "value": value}]}})
    return {}


def fields(*items: str) -> str:
    return "<customFields>" + "".join(f"<customField>{i}</customField>" for i in items) + "</customFields>"


@dataclass(frozen=True)
class Case:
    call: str                      # "METHOD path" ({kind}, {id}, {n}: 1 cold, 2 warm; {entry} from setup)
    body: str | None
    cold: int
    warm: int
    status: int = 200
    setup: Setup | None = None

    @property
    def name(self) -> str:
        return self.call.split("?")[0]


SET = fields("<label>{label}</label><text>{value}</text>")
CLEAR = fields("<label>{label}</label><text/>")
CASES = [
    Case("GET /api/{kind}/{id}/history", None, 1, 1),
    Case("POST /api/{kind}/{id}/history", "<historyItem><note>n</note></historyItem>", 2, 2, 201),
    Case("POST /api/{kind}/{id}/history (creator)",
         "<historyItem><note>n</note><creator>phillip</creator></historyItem>", 3, 2, 201),
    Case("GET /api/history/{entry}", None, 1, 1, setup=a_note),
    Case("PUT /api/history/{entry}", "<historyItem><note>e</note></historyItem>", 1, 1, setup=a_note),
    Case("PUT /api/{kind}/{id}/history/{entry}", "<historyItem><note>e</note></historyItem>", 2, 2, setup=a_note),
    Case("DELETE /api/history/{entry}", None, 1, 1, setup=a_note),
    Case("DELETE /api/{kind}/{id}/history/{entry}", None, 2, 2, setup=a_note),
    Case("GET /api/{kind}/{id}/tag", None, 1, 1),
    Case("POST /api/{kind}/{id}/tag/New{n}", None, 2, 2, 201),
    Case("POST /api/{kind}/{id}/tag/T{n} (already there)", None, 1, 1, setup=a_tag),
    Case("DELETE /api/{kind}/{id}/tag/T{n}", None, 2, 2, setup=a_tag),
    Case("DELETE /api/{kind}/{id}/tag/Absent{n} (not there)", None, 1, 1),
    Case("GET /api/{kind}/{id}/customfields", None, 2, 1),
    Case("PUT /api/{kind}/{id}/customfields (set)", SET, 2, 1),
    Case("POST /api/{kind}/{id}/customfield (clear)", CLEAR, 3, 2, setup=a_value),
    Case("PUT /api/{kind}/{id}/customfields (unknown label)", fields("<label>Nope</label><text>x</text>"), 2, 1, 400),
    Case("GET /api/{kind}/customfield/definitions", None, 1, 1),
]


@pytest.mark.parametrize("kind, ident, collection", KINDS)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_upstream_calls_per_v1_call_cold_and_warm(make_proxy, upstream, recorder, case, kind, ident,
                                                        collection):
    proxy = await make_proxy()                        # a new proxy: every cache is cold
    counts = []
    for n in (1, 2):
        at = {"kind": kind, "id": ident, "collection": collection, "n": n, "entry": ENTRY[kind],
              "label": FIELD[kind][0], "value": FIELD[kind][1]}
        if case.setup is not None:
            at |= await case.setup(upstream, at)
        method, path = case.call.split(" (")[0].split(" ", 1)
        recorder.clear()
        await send(proxy, method, path.format(**at), case.body.format(**at) if case.body else None, case.status)
        counts.append(len(recorder.calls))
    assert counts == [case.cold, case.warm], recorder.calls
