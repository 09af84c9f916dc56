"""Opportunities and cases: every writable v1 element goes v1 -> v2 -> v1 unchanged (its canonical
form), and the rules rows cannot say (money, milestone, owner and team) do what OP1-OP3 and KA1
say. "v2 stores it" is simulated from the request body alone (ids -> nested objects, amounts
through JSON), so these test the translation, not an emulator."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.resources.kase import KASE_SHAPE
from proxy.resources.opportunity import DURATION_BASES, OPPORTUNITY_SHAPE
from proxy.translate.errors import InvalidField
from proxy.translate.fields import Context, UnknownName, precheck, to_v1, to_v2

from .test_translate_money import canonical_amounts, through_v2

USERS = [{"id": 1, "username": "phillip"}, {"id": 2, "username": "sofia"}]
MILESTONES = [{"id": 1, "name": "New"}, {"id": 2, "name": "Bid"}, {"id": 3, "name": "Won"}]
CURRENCIES = [{"code": code} for code in ("GBP", "EUR", "USD", "JPY")]
LISTS = {"users": USERS, "milestones": MILESTONES, "currencies": CURRENCIES}

texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(str.strip)
days = st.dates(date(1900, 1, 1), date(2999, 12, 31)).map(lambda d: f"{d.isoformat()}T00:00:00Z")


def stored(body: dict[str, Any], before: dict[str, Any] | None = None) -> dict[str, Any]:
    """What v2 holds after this create or update body."""
    v2 = dict(before or {})
    for key, value in body.items():
        if key == "value":
            v2[key] = None if value is None else {"amount": through_v2(value["amount"]),
                                                  "currency": value.get("currency", "GBP")}
        elif key == "milestone":
            v2[key] = next({"id": m["id"], "name": m["name"]} for m in MILESTONES if m["id"] == value["id"])
        elif key == "owner":
            v2[key] = None if value is None else next(u for u in USERS if u["id"] == value["id"])
        else:
            v2[key] = value
    return v2


@st.composite
def opportunities(draw) -> dict[str, str]:
    v1 = {"name": draw(texts), "milestone": draw(st.sampled_from([m["name"] for m in MILESTONES]))}
    optional = {
        "description": texts,
        "value": canonical_amounts(),
        "durationBasis": st.sampled_from(DURATION_BASES),
        "expectedCloseDate": days,
        "actualCloseDate": days,
        "probability": st.integers(0, 100).map(str),
        "owner": st.sampled_from([u["username"] for u in USERS]),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            v1[name] = draw(strategy)
    if "value" in v1 and draw(st.booleans()):
        v1["currency"] = draw(st.sampled_from([c["code"] for c in CURRENCIES]))
    if v1.get("durationBasis", "FIXED") != "FIXED" and draw(st.booleans()):
        v1["duration"] = str(draw(st.integers(0, 2**31 - 1)))
    return v1


@settings(max_examples=300)
@given(opportunities())
def test_an_opportunity_goes_through_v2_unchanged(v1: dict[str, str]):
    body = to_v2(OPPORTUNITY_SHAPE, v1, Context(creating=True, lists=LISTS))
    back = to_v1(OPPORTUNITY_SHAPE, stored(body), Context())
    assert {name: back.get(name) for name in v1} == v1
    assert back["milestoneId"] == str(next(m["id"] for m in MILESTONES if m["name"] == v1["milestone"]))
    if "value" in v1 and "currency" not in v1:
        assert back["currency"] == "GBP"                      # the account's, as v2 chose it
    # and a PUT of what GET answered sends the same values again
    again = to_v2(OPPORTUNITY_SHAPE, back, Context(lists=LISTS, current=stored(body)))
    assert to_v1(OPPORTUNITY_SHAPE, stored(again, stored(body)), Context()) == back


@settings(max_examples=200)
@given(st.fixed_dictionaries({"name": texts, "status": st.sampled_from(["OPEN", "CLOSED"])},
                             optional={"description": texts, "owner": st.sampled_from(["phillip", "sofia"])}),
       days)
def test_a_case_goes_through_v2_unchanged(v1: dict[str, str], close: str):
    if v1["status"] == "CLOSED":
        v1 = v1 | {"closeDate": close}
    body = to_v2(KASE_SHAPE, v1, Context(creating=True, lists=LISTS, caller=USERS[0]))
    back = to_v1(KASE_SHAPE, stored(body), Context())
    assert {name: back.get(name) for name in v1} == v1
    assert back["owner"] == v1.get("owner", "phillip")          # the caller's, as v1 did


# --- money ------------------------------------------------------------------------------------------

def opp_put(v1: dict[str, str], current: dict[str, Any] | None = None) -> dict[str, Any]:
    return to_v2(OPPORTUNITY_SHAPE, v1, Context(lists=LISTS, current=current))


STORED = {"id": 7, "value": {"amount": 10.5, "currency": "EUR"}}


@pytest.mark.parametrize("v1, body", [
    ({"value": "20.00"}, {"value": {"amount": 20, "currency": "EUR"}}),           # the currency stays
    ({"currency": "usd"}, {"value": {"amount": 10.5, "currency": "USD"}}),        # the amount stays
    ({"value": "20.00", "currency": ""}, {"value": {"amount": 20}}),              # the account's currency
    ({"value": ""}, {"value": None}),
    ({"value": "", "currency": "GBP"}, {"value": None}),
    ({"currency": ""}, {}),
])
def test_value_and_currency_each_keep_the_stored_other(v1, body):
    assert opp_put(v1, STORED) == body


def test_a_currency_without_any_value_is_not_stored_and_says_so():
    ctx = Context(creating=True, lists=LISTS)
    assert "value" not in to_v2(OPPORTUNITY_SHAPE, {"name": "x", "milestoneId": "1", "currency": "EUR"}, ctx)
    assert ctx.warnings == ["currency EUR was not stored: Capsule keeps a currency only with a value"]


def test_an_unknown_currency_asks_for_a_fresh_list_then_names_it():
    with pytest.raises(UnknownName) as info:
        opp_put({"value": "1.00", "currency": "XBT"}, STORED)
    assert info.value.field == "currency" and info.value.lookup == "currencies" and "XBT" in info.value.message


# --- milestones -------------------------------------------------------------------------------------

def test_a_milestone_name_shared_by_two_milestones_is_a_400_listing_them():
    lists = LISTS | {"milestones": MILESTONES + [{"id": 9, "name": "Bid"}]}
    with pytest.raises(InvalidField) as info:
        to_v2(OPPORTUNITY_SHAPE, {"milestone": "Bid"}, Context(lists=lists))
    assert info.value.field == "milestone" and "2, 9" in info.value.message
    with pytest.raises(InvalidField) as info:
        to_v2(OPPORTUNITY_SHAPE, {"milestone": "bid"}, Context(lists=lists | {"milestones": [
            {"id": 1, "name": "Bid"}, {"id": 2, "name": "BID"}]}))
    assert "differ only in case" in info.value.message


@pytest.mark.parametrize("v1, body", [
    ({"milestoneId": "3", "milestone": "won"}, {"milestone": {"id": 3}}),         # the same one: fine
    ({"milestoneId": "42", "milestone": "Signed"}, {"milestone": {"id": 42}}),    # another pipeline's: id decides
    ({"milestoneId": "", "milestone": "Bid"}, {"milestone": {"id": 2}}),
    ({"name": "x"}, {"name": "x"}),                                               # not named: untouched
])
def test_milestone_id_decides(v1, body):
    assert opp_put(v1) == body


@pytest.mark.parametrize("v1, creating", [
    ({"milestoneId": "3", "milestone": "Bid"}, False),
    ({"milestone": " "}, False),
    ({"name": "x"}, True),
])
def test_milestone_mistakes_are_400s_naming_it(v1, creating):
    with pytest.raises(InvalidField) as info:
        to_v2(OPPORTUNITY_SHAPE, v1, Context(creating=creating, lists=LISTS))
    assert info.value.field == "milestone"


# --- checked before any call ------------------------------------------------------------------------

@pytest.mark.parametrize("shape, v1, field", [
    (OPPORTUNITY_SHAPE, {"name": "x", "milestone": "Nope", "value": "-1"}, "value"),
    (OPPORTUNITY_SHAPE, {"name": "x", "owner": "nobody", "expectedCloseDate": "2026-01-01T09:00:00Z"},
     "expectedCloseDate"),
    (OPPORTUNITY_SHAPE, {"milestone": "Bid"}, "name"),
    (KASE_SHAPE, {"name": "x", "owner": "nobody", "status": "LATER"}, "status"),
])
def test_precheck_finds_what_needs_no_look_up(shape, v1, field):
    with pytest.raises(InvalidField) as info:
        precheck(shape, v1, Context(creating=True))
    assert info.value.field == field


@pytest.mark.parametrize("shape, v1", [
    (OPPORTUNITY_SHAPE, {"name": "x", "milestone": "Nope", "owner": "nobody", "currency": "XBT", "value": "1"}),
    (KASE_SHAPE, {"name": "x", "owner": "nobody"}),
])
def test_precheck_leaves_names_to_their_look_ups(shape, v1):
    ctx = Context(creating=True)
    precheck(shape, v1, ctx)
    assert ctx.lists == {} and ctx.warnings == []
