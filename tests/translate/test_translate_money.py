"""Money and calendar days: v1 -> v2 -> v1 is the identity on their canonical v1 forms (OP1, OP7).

"v2 keeps the amount" is simulated the way it travels: the JSON body the proxy sends, read by v2
(orjson, as the emulator does), kept as the emulator keeps it (decimal text), and sent back as a
JSON number."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.emulator.field_values import decimal_text, json_number
from proxy.translate.dates import calendar_day_to_v1, calendar_day_to_v2
from proxy.translate.errors import InvalidField, UpstreamDataError
from proxy.translate.money import EXACT_DIGITS, amount_to_v1, amount_to_v2, canonical


def through_v2(amount: int | float) -> object:
    """The number as it comes back from v2: JSON there, stored as text, JSON back."""
    received = orjson.loads(orjson.dumps({"amount": amount}))["amount"]
    stored = decimal_text(received)
    assert stored is not None
    return orjson.loads(orjson.dumps({"amount": json_number(stored)}))["amount"]


@st.composite
def canonical_amounts(draw) -> str:
    """v1's one spelling of an amount of at most 15 significant digits: `1234.50`, `0.125`, ..."""
    scale = draw(st.integers(2, EXACT_DIGITS))
    digits = draw(st.integers(1, EXACT_DIGITS))
    unscaled = draw(st.integers(0, 10**digits - 1))
    amount = Decimal(unscaled).scaleb(-scale)
    return canonical(amount)


@settings(max_examples=2000)
@given(canonical_amounts())
def test_canonical_amounts_go_through_v2_unchanged(text: str):
    assert amount_to_v1(through_v2(amount_to_v2(text))) == text


@given(canonical_amounts(), st.sampled_from(["", "0", "00"]))
def test_other_spellings_read_back_canonical(text: str, zeros: str):
    # 1234.5, 1234.500 and 1234.50 are one amount; v1 answers it as 1234.50
    spelled = text + zeros if "." in text else text
    assert amount_to_v1(through_v2(amount_to_v2(spelled))) == text


@given(st.integers(0, 10**EXACT_DIGITS - 1))
def test_whole_amounts_are_sent_as_integers(whole: int):
    assert amount_to_v2(str(whole)) == whole and type(amount_to_v2(f"{whole}.00")) is int
    assert amount_to_v1(whole) == f"{whole}.00"


@given(st.floats(min_value=0, max_value=1e300, allow_nan=False))
def test_any_v2_number_reads_as_plain_decimal_text(number: float):
    text = amount_to_v1(number)
    assert "e" not in text.lower() and len(text.split(".")[1]) >= 2
    assert Decimal(text) == Decimal(repr(number))           # exact: the double's shortest decimal


@pytest.mark.parametrize("text", ["1234567890123456", "0.1234567890123456", "-1.00", "1e3", "abc"])
def test_amounts_that_cannot_be_kept_exactly_are_refused(text: str):
    with pytest.raises(InvalidField) as info:
        amount_to_v2(text)
    assert info.value.field == "value"


@pytest.mark.parametrize("bad", [True, None, "x", [1], float("nan")])
def test_a_v2_amount_that_is_no_number_is_upstream_data_error(bad):
    with pytest.raises(UpstreamDataError):
        amount_to_v1(bad)


@given(st.dates(date(1, 1, 1), date(9999, 12, 31)))
def test_days_go_through_v2_unchanged(day: date):
    v1 = f"{day.isoformat()}T00:00:00Z"
    assert calendar_day_to_v2(v1, "closeDate") == day.isoformat()
    assert calendar_day_to_v1(calendar_day_to_v2(v1, "closeDate"), "closedOn") == v1
    assert calendar_day_to_v2(day.isoformat(), "closeDate") == day.isoformat()       # the gem's form


@given(st.dates(date(1, 1, 2), date(9999, 12, 30)), st.sampled_from(["+14:00", "-12:00", "+05:30", "Z", ""]))
def test_a_day_is_never_shifted_by_an_offset(day: date, offset: str):
    assert calendar_day_to_v2(f"{day.isoformat()}T00:00:00{offset}", "expectedCloseDate") == day.isoformat()


@pytest.mark.parametrize("text", ["2026-01-31T10:00:00Z", "2026-02-30", "31/01/2026", "2026-01-31T00:00:01Z"])
def test_what_is_not_a_day_is_refused_naming_the_field(text: str):
    with pytest.raises(InvalidField) as info:
        calendar_day_to_v2(text, "expectedCloseDate")
    assert info.value.field == "expectedCloseDate" and "expectedCloseDate" in info.value.message
