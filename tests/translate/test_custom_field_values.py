"""Custom field values, v1 -> v2 -> v1, for every type (decisions CF1-CF6).

A v1 `<customFields>` document is encoded, decoded (so the XSD checks it), translated to v2's
value, stored and answered the way the emulator (the v2 stand-in) stores and answers it, and
read back: the v1 value must come back as the client wrote it (numbers and dates in v1's
canonical form). Then the rules a property cannot show: labels, tags and wrong types.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.emulator import field_values
from proxy.resources.custom_field import (CUSTOM_FIELD_SHAPE, DEFINITION_SHAPE, check_items, find_definition,
                                          plan_changes, v2_body, value_to_v1, value_to_v2)
from proxy.translate.errors import InvalidField
from proxy.translate.fields import Context, UnknownName, to_v1
from proxy.v1 import json_codec, xml_codec

STAFF = {"id": 2, "name": "Staff", "dataTag": True}


def definition(kind: str, ident: int = 1, name: str = "Field", options: list[str] | None = None,
               tag: dict | None = None) -> dict[str, Any]:
    return {"id": ident, "name": name, "type": kind, "options": options, "tag": tag}


def through_v1_documents(element: str, value: str, codec) -> dict[str, str]:
    """The customField a client sends, as the proxy reads it (XSD- or JSON-validated)."""
    body = codec.encode_list("customFields", [("customField", {"label": "Field", element: value})])
    _, items = codec.decode_list(body, ("customFields",))
    [(_, item)] = items
    return item


def stored_by_v2(the_definition: dict[str, Any], value: Any) -> Any:
    """What v2 stores for a value and answers on the next read (the emulator's rules)."""
    text = field_values.normalize(the_definition["type"], the_definition["options"], value)
    return field_values.render(the_definition["type"], text)


def round_trip(the_definition: dict[str, Any], element: str, value: str, codec=xml_codec) -> dict[str, str] | None:
    item = through_v1_documents(element, value, codec)
    check_items([item])
    change = value_to_v2(the_definition, item)
    assert not change.clear
    answered = stored_by_v2(the_definition, change.value)
    read = to_v1(CUSTOM_FIELD_SHAPE, {"id": 9, "definition": the_definition, "value": answered}, Context())
    assert read.get("label") == the_definition["name"]
    return value_to_v1(the_definition["type"], answered)


# XML 1.0 characters; free text is kept exactly, surrounding space included (D2).
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
                | st.sampled_from(["\t", "\n", "\r"]), min_size=1, max_size=80).filter(str.strip)


@st.composite
def decimals(draw) -> str:
    """What the XSD's Decimal allows, in v1's canonical form (no leading zeros)."""
    whole = draw(st.integers(0, 10**15 - 1))
    fraction = draw(st.none() | st.text("0123456789", min_size=1, max_size=15))
    sign = draw(st.sampled_from(["", "-"]))
    return f"{sign}{whole}" + (f".{fraction}" if fraction is not None else "")


@settings(max_examples=300)
@given(texts, st.sampled_from([xml_codec, json_codec]))
def test_text_comes_back_exactly(value, codec):
    assert round_trip(definition("text"), "text", value, codec) == {"text": value}


@settings(max_examples=300)
@given(decimals(), st.booleans())
def test_numbers_come_back_as_the_same_decimal(value, as_text):
    # CF3: a v1 client may write a number as <text> (v1 had no Number type); it reads as <number>.
    back = round_trip(definition("number"), "text" if as_text else "number", value)
    assert back == {"number": value}
    assert Decimal(back["number"]) == Decimal(value)


@settings(max_examples=300)
@given(st.dates(), st.booleans(), st.sampled_from(["Z", "+00:00", "-05:00", ""]))
def test_dates_come_back_as_midnight_utc(day, midnight_form, offset):
    written = f"{day.isoformat()}T00:00:00{offset}" if midnight_form else day.isoformat()
    # CF4: the day as written, never shifted by an offset; read back as v1 wrote dates.
    assert round_trip(definition("date"), "date", written) == {"date": f"{day.isoformat()}T00:00:00Z"}


@given(st.sampled_from([xml_codec, json_codec]))
def test_booleans_only_true_is_listed(codec):
    assert round_trip(definition("boolean"), "boolean", "true", codec) == {"boolean": "true"}
    assert round_trip(definition("boolean"), "boolean", "false", codec) is None      # CF1: not listed


@settings(max_examples=200)
@given(st.lists(texts.map(str.strip).filter(bool), min_size=1, max_size=6, unique_by=str.casefold), st.data())
def test_list_values_come_back_as_v2_spells_the_option(options, data):
    chosen = data.draw(st.sampled_from(options))
    written = data.draw(st.sampled_from([chosen, chosen.upper(), chosen.lower()]))
    the_definition = definition("list", options=options)
    if sum(option.casefold() == written.casefold() for option in options) == 1:
        assert round_trip(the_definition, "text", written) == {"text": chosen}


@settings(max_examples=200)
@given(st.sampled_from(["text", "number", "date", "list"]),
       st.sampled_from(["", " ", "\n  "]), st.sampled_from(["text", "number", "date", "boolean", None]))
def test_an_empty_value_clears_and_an_empty_boolean_unticks(kind, blank, element):
    item = {"label": "Field"} if element is None else {"label": "Field", element: blank}
    assert value_to_v2(definition(kind), item).clear
    unticked = value_to_v2(definition("boolean"), item)
    assert not unticked.clear and unticked.value is False                   # CF5: v2 cannot clear a boolean


# --- what the properties cannot show -------------------------------------------------------------------

def test_v2_types_v1_did_not_know_read_as_text():
    assert to_v1(DEFINITION_SHAPE, definition("link", name="Site"), Context())["type"] == "Text"
    assert value_to_v1("link", "https://example.com") == {"text": "https://example.com"}
    assert value_to_v1("text", "") is None and value_to_v1("number", None) is None
    assert value_to_v1("number", 12.5) == {"number": "12.5"} and value_to_v1("number", "1E+3") == {"number": "1000"}


DEFINITIONS = [definition("text", 1, "NI Number", tag=STAFF), definition("text", 2, "NI Number"),
               definition("date", 3, "Start", tag=STAFF), definition("date", 4, "Start", tag={"id": 9, "name": "Old"}),
               definition("number", 5, "employees"), definition("number", 6, "Employees")]


@pytest.mark.parametrize("label, tag, found", [
    ("NI Number", None, 2),             # several: the one without a datatag
    ("NI Number", "staff", 1),          # the tag in any letter case
    ("ni number", "Staff", 1),
    ("Employees", None, 6),             # the exact label first
    ("employees", None, 5),
    (" Start ", "Old", 4),
])
def test_labels_and_tags_name_one_definition(label, tag, found):
    assert find_definition(DEFINITIONS, label, tag, "party", "party_fields")["id"] == found


@pytest.mark.parametrize("label, tag, error, named", [
    ("Shoe Size", None, UnknownName, "Shoe Size"),
    ("Start", None, InvalidField, "send its tag"),
    ("EMPLOYEES", None, InvalidField, "names 2 fields"),
    ("NI Number", "Customer", InvalidField, "Customer"),
])
def test_labels_that_name_no_field_or_several(label, tag, error, named):
    with pytest.raises(error) as raised:
        find_definition(DEFINITIONS, label, tag, "party", "party_fields")
    assert named in raised.value.message


@pytest.mark.parametrize("item, element, named", [
    ({"label": "Employees", "date": "2020-01-01"}, "date", "Number field"),
    ({"label": "Employees", "text": "12 apples"}, "text", "not a number"),
    ({"label": "Start", "tag": "Staff", "text": "2020-01-01"}, "text", "send its value in date"),
    ({"label": "Start", "tag": "Staff", "date": "2020-01-01T09:00:00Z"}, "the date of custom field 'Start'",
     "is a calendar day"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_the_field(item, element, named):
    with pytest.raises(InvalidField) as raised:
        plan_changes([item], DEFINITIONS, "party", "party_fields")
    assert raised.value.field == element and named in raised.value.message


def test_the_put_body_clears_by_value_id_and_attaches_datatags():
    items = [{"label": "NI Number", "tag": "Staff", "text": "AB"}, {"label": "Employees", "number": ""},
             {"label": "employees", "number": "3"}]
    changes = plan_changes(items, DEFINITIONS, "party", "party_fields")
    assert v2_body(changes, {6: 60}) == {
        "fields": [{"definition": {"id": 1}, "value": "AB"}, {"id": 60, "_delete": True},
                   {"definition": {"id": 5}, "value": "3"}],
        "tags": [{"id": 2}]}
    assert v2_body(changes[1:2], {}) == {}                         # nothing stored: nothing to clear
