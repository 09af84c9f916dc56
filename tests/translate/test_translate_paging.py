"""v1 start/limit over v2 pages: parameter checks, the fewest covering pages, and windows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.translate.errors import InvalidField
from proxy.translate.paging import PER_PAGE, Window, pages_for_window, parse_limit, parse_start


def slice_window(page_number: int, items: Sequence[Any], start: int, limit: int | None,
                 per_page: int = PER_PAGE) -> list[Any]:
    """The oracle: the part of one v2 page (1-based) that lies inside the v1 window."""
    offset = (page_number - 1) * per_page
    begin = max(start - offset, 0)
    end = len(items) if limit is None else max(start + limit - offset, 0)
    return list(items[begin:end])


@pytest.mark.parametrize("raw, start, limit", [
    (None, 0, None), ("", 0, None), ("  ", 0, None), ("0", 0, 0), ("10", 10, 10), (" 5 ", 5, 5),
    ("007", 7, 7), ("1000000000000", 10**12, 10**12),
])
def test_parse_start_and_limit(raw, start, limit):
    assert parse_start(raw) == start
    assert parse_limit(raw) == limit


@pytest.mark.parametrize("raw", ["-1", "1.5", "abc", "1e3", "+3", "１", "²", "0x10", "9" * 5000])
@pytest.mark.parametrize("parse, name", [(parse_start, "start"), (parse_limit, "limit")])
def test_bad_start_and_limit_name_the_parameter(raw, parse, name):
    with pytest.raises(InvalidField) as caught:
        parse(raw)
    assert caught.value.field == name
    assert name in caught.value.message and raw[:10] in caught.value.message


@pytest.mark.parametrize("start, limit, pages", [
    (0, 10, [1]),
    (0, 100, [1]),
    (0, 101, [1, 2]),
    (95, 10, [1, 2]),       # across a page boundary
    (99, 1, [1]),
    (100, 1, [2]),
    (100, 100, [2]),
    (199, 2, [2, 3]),
    (150, 250, [2, 3, 4]),
    (0, 0, []),
    (500, 0, []),
    (10**12, 5, [10**10 + 1]),
])
def test_pages_for_window(start, limit, pages):
    assert list(pages_for_window(start, limit)) == pages


@pytest.mark.parametrize("start, first", [(0, 1), (99, 1), (100, 2), (250, 3), (10**15, 10**13 + 1)])
def test_open_ended_window_starts_at_the_first_covering_page(start, first):
    pages = pages_for_window(start, None)
    assert pages.start == first and len(pages) > 10**15


def test_smaller_pages():
    assert list(pages_for_window(5, 10, per_page=10)) == [1, 2]


@pytest.mark.parametrize("page, start, limit, expected", [
    (1, 95, 10, list(range(95, 100))),
    (2, 95, 10, list(range(100, 105))),
    (2, 100, 100, list(range(100, 200))),
    (1, 0, None, list(range(0, 100))),
    (3, 250, None, list(range(250, 300))),
    (1, 0, 0, []),
    (1, 150, 10, []),       # a page outside the window contributes nothing
])
def test_slice_window(page, start, limit, expected):
    items = list(range((page - 1) * PER_PAGE, page * PER_PAGE))
    assert slice_window(page, items, start, limit) == expected


def test_limit_zero_window_is_full_before_any_page():
    window = Window.for_pages(0, 0)
    assert window.full and window.feed([1, 2, 3]) and window.items == []


def fetch(data, page, per_page):
    return data[(page - 1) * per_page: page * per_page]


windows = st.tuples(st.integers(0, 400), st.one_of(st.none(), st.integers(0, 300)),
                    st.integers(1, 120), st.integers(0, 500))


@given(windows)
def test_unfiltered_list_reads_the_fewest_pages(args):
    """Fetching pages_for_window (stopping at a short page) and slicing gives data[start:start+limit],
    and every page fetched, except a final short one, holds part of the window."""
    start, limit, per_page, size = args
    data = list(range(size))
    expected = data[start:] if limit is None else data[start:start + limit]
    sliced, window, fetched = [], Window.for_pages(start, limit, per_page), []
    for page in pages_for_window(start, limit, per_page):
        items = fetch(data, page, per_page)
        fetched.append(page)
        sliced += slice_window(page, items, start, limit, per_page)
        if window.feed(items) or len(items) < per_page:
            break
    assert sliced == expected
    assert window.items == expected
    useful = [p for p in fetched if slice_window(p, fetch(data, p, per_page), start, limit, per_page)]
    assert len(fetched) - len(useful) <= 1   # at most the page that showed the data had ended
    if limit:
        assert len(fetched) <= (start + limit - 1) // per_page - start // per_page + 1


@given(windows, st.integers(1, 5))
def test_filtered_scan_stops_at_the_page_that_fills_the_window(args, every):
    """A filtered scan from page 1 feeds only matches; it stops as soon as start+limit have matched."""
    start, limit, per_page, size = args
    data = list(range(size))
    matches = [item for item in data if item % every == 0]
    expected = matches[start:] if limit is None else matches[start:start + limit]
    window, pages = Window(start, limit), 0
    if not window.full:
        for page in range(1, size // per_page + 2):
            items = fetch(data, page, per_page)
            pages += 1
            if window.feed(i for i in items if i % every == 0) or len(items) < per_page:
                break
    assert window.items == expected
    if limit is not None and len(matches) >= start + limit and limit > 0:
        needed = matches[start + limit - 1]          # the last match the window needs
        assert pages == needed // per_page + 1
    if limit == 0:
        assert pages == 0
