"""The compiled v2 -> v1 readers (proxy/translate/compiled.py) answer what the plain loop over a
shape's columns answers, for every declared shape, on any v2 data: the same record in the same
order, or the same error."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.resources import RESOURCES
from proxy.translate.fields import Context, Shape, to_v1

SHAPES = {shape.root: shape for resource in RESOURCES for shape in resource.shapes}
USERS = [{"id": 1, "username": "phillip", "timezone": "America/New_York"},
         {"id": 2, "username": "sofia", "timezone": "Europe/Rome"}]


def interpreted(shape: Shape, v2: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """to_v1 as it was written before it was compiled: the oracle."""
    out: dict[str, Any] = {}
    for name, read in shape._readers:  # type: ignore[attr-defined]
        value = read(v2, ctx)
        if value is None or value == "":
            continue
        if name is None:
            out.update((key, item) for key, item in value.items() if item is not None and item != "")
        else:
            out[name] = value
    return out


def outcome(read, shape: Shape, v2: dict[str, Any]) -> tuple[str, Any]:
    ctx = Context(lists={"users": USERS, "categories": [{"id": 1, "name": "Call"}]})
    try:
        return "ok", list(read(shape, v2, ctx).items())
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return "error", type(exc).__name__


def keys_read(shape: Shape) -> list[str]:
    keys = {"id", "owner", "party", "organisation", "category", "dueOn", "dueTime", "milestone", "value"}
    for _name, reader in shape._readers:  # type: ignore[attr-defined]
        keys.update(part for part in getattr(reader, "spec", ())[1:])
    return sorted(keys)


scalars = st.one_of(st.none(), st.just(""), st.text(max_size=8), st.integers(-3, 10**19), st.booleans(),
                    st.just("2015-10-26T14:37:52Z"), st.just("2026-03-08"), st.just("15:00:00"))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=2),
    st.dictionaries(st.sampled_from(["id", "name", "username", "type", "amount", "currency"]), inner, max_size=3)),
    max_leaves=6)


@pytest.mark.parametrize("root", sorted(SHAPES))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_compiled_reader_is_the_loop(root: str, data: st.DataObject):
    shape = SHAPES[root]
    v2 = data.draw(st.dictionaries(st.sampled_from(keys_read(shape)), values, max_size=8))
    assert outcome(to_v1, shape, v2) == outcome(interpreted, shape, v2)


@pytest.mark.parametrize("root", sorted(SHAPES))
def test_well_formed_records_read_the_same(root: str):
    task = {"id": 7, "description": "Call", "detail": "", "owner": {"id": 1, "username": "phillip"},
            "party": {"id": 3, "type": "person", "firstName": "Eric", "lastName": None}, "status": "OPEN",
            "dueOn": "2026-03-08", "dueTime": "02:30:00", "createdAt": "2015-10-26T14:37:52.000+00:00",
            "category": {}, "opportunity": None}
    shape = SHAPES[root]
    compiled, plain = outcome(to_v1, shape, task), outcome(interpreted, shape, task)
    assert compiled == plain
    if root == "task":
        assert compiled[0] == "ok" and ("owner", "phillip") in compiled[1] and ("createdOn", "2015-10-26T14:37:52Z") in compiled[1]
