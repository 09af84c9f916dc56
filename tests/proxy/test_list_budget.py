"""[server] max_list_items: the lists being answered hold at most that many records at once; the
others wait their turn, first come first served, within request_timeout (proxy/http/budget.py)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from proxy.http.budget import ListBudget

from .conftest import PHILLIP
from .test_upstream_failures import error_message, fake_proxy, fake_recorder, json_answer, v2_task  # noqa: F401


class SlowPages:
    """A v2 upstream whose task pages take a while, counting how many are read at once."""

    def __init__(self, delay: float = 0.15):
        self.delay, self.now, self.most = delay, 0, 0

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/api/v2/users/current":
            return json_answer({"user": {"id": 1, "username": "phillip", "timezone": "UTC"}})
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.now -= 1
        per_page = int(request.query.get("perPage", "100"))
        first = (int(request.query.get("page", "1")) - 1) * per_page
        return json_answer({"tasks": [v2_task(id=first + n + 1) for n in range(per_page)]})


async def test_lists_beyond_the_budget_wait_their_turn(fake_proxy):
    upstream = SlowPages()
    proxy = await fake_proxy(upstream.handle, server={"max_list_items": 150})
    answers = await asyncio.gather(*(proxy.get("/api/tasks?limit=100", headers=PHILLIP) for _ in range(4)))
    assert [answer.status for answer in answers] == [200] * 4
    assert upstream.most == 1                 # 100 + 100 > 150: one window at a time
    metrics = await (await proxy.get("/metrics")).text()
    assert "capsule_proxy_list_records_reserved 0.0" in metrics and "capsule_proxy_lists_waiting 0.0" in metrics


async def test_windows_that_fit_together_run_together(fake_proxy):
    upstream = SlowPages()
    proxy = await fake_proxy(upstream.handle, server={"max_list_items": 300})
    answers = await asyncio.gather(*(proxy.get("/api/tasks?limit=100", headers=PHILLIP) for _ in range(3)))
    assert [answer.status for answer in answers] == [200] * 3
    assert upstream.most == 3


async def test_a_list_without_limit_reserves_the_whole_budget(fake_proxy):
    upstream = SlowPages()
    # max_pages 1: the whole list is one page of 100, so the test is quick; that is all the budget.
    proxy = await fake_proxy(upstream.handle, server={"max_list_items": 100}, upstream={"max_pages": 1})
    whole = asyncio.ensure_future(proxy.get("/api/tasks", headers=PHILLIP))
    await asyncio.sleep(0.05)
    window = await proxy.get("/api/tasks?limit=10", headers=PHILLIP)
    assert window.status == 200 and upstream.most == 1
    assert (await whole).status in (200, 502)     # 502: longer than max_pages; either way it ran alone


async def test_a_wait_longer_than_request_timeout_is_a_504_and_frees_its_place(fake_proxy):
    upstream = SlowPages(delay=0.6)
    proxy = await fake_proxy(upstream.handle, server={"max_list_items": 100, "request_timeout": 0.3})
    first = asyncio.ensure_future(proxy.get("/api/tasks?limit=100", headers=PHILLIP))
    await asyncio.sleep(0.05)
    second = await proxy.get("/api/tasks?limit=100", headers=PHILLIP)
    assert "request_timeout" in await error_message(second, 504)
    await error_message(await first, 504)
    upstream.delay = 0.0
    assert (await proxy.get("/api/tasks?limit=100", headers=PHILLIP)).status == 200   # nothing leaked


# The queue itself, where the order of events must be exact.

async def test_first_come_first_served_and_no_leak_on_cancel():
    budget = ListBudget(100)
    order: list[str] = []
    release_big = asyncio.Event()

    async def hold(name: str, records: int, until: asyncio.Event | None = None) -> None:
        async with budget.reserve(records):
            order.append(name)
            if until is not None:
                await until.wait()

    big = asyncio.create_task(hold("big", 100, release_big))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(hold(name, 10)) for name in ("a", "b")]
    gone = asyncio.create_task(hold("gone", 10))
    await asyncio.sleep(0)
    assert budget.waiting == 3 and budget.held == 100
    gone.cancel()
    await asyncio.sleep(0)
    release_big.set()
    await asyncio.gather(big, *waiting)
    assert order == ["big", "a", "b"] and budget.held == 0 and budget.waiting == 0


@pytest.mark.parametrize("asked, reserved", [(0, 1), (50, 50), (10**9, 100)])
async def test_a_reservation_is_at_least_one_and_at_most_the_budget(asked: int, reserved: int):
    budget = ListBudget(100)
    async with budget.reserve(asked):
        assert budget.held == reserved
    assert budget.held == 0
