"""Custom fields of a party, an opportunity or a case: v1 ``<customField>`` (named by label, and
tag for a datatag's field) <-> a v2 field value (by definition id) (decisions CF1-CF7).

Reading joins each v2 value to its definition (a cached look-up per kind of record) for its
label, tag and type. Writing resolves each label to a definition and turns the v1 value element
into v2's value; everything here is pure, the HTTP layer (proxy/http/subrecords.py) fetches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..translate import v2_data
from ..translate.dates import calendar_day_to_v1, calendar_day_to_v2
from ..translate.errors import InvalidField, UpstreamDataError
from ..translate.fields import Context, Field, Rule, Shape, UnknownName, blank, ident, nested, nested_text, text
from .base import PARENT_PATTERN, PARENTS, Resource, V2, route

#: v2 definition types -> v1's words. Any other v2 type reads as Text (CF6).
TYPES = {"text": "Text", "number": "Number", "date": "Date", "boolean": "Boolean", "list": "List"}
#: The v1 element each type's value is written in.
ELEMENT_OF = {"text": "text", "list": "text", "number": "number", "date": "date", "boolean": "boolean"}
VALUE_ELEMENTS = ("text", "date", "boolean", "number")
#: As the XSD's Decimal: what a v1 number may look like (also in <text> for a Number field, CF3).
_DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?", re.ASCII)


def lookup_name(kind: str) -> str:
    """The look-up that holds one kind of record's definitions (proxy/resources/lookups.py)."""
    return f"{kind}_fields"


def _kind(definition: Mapping[str, Any]) -> str | None:
    return v2_data.text(definition, "type")


def _tag_name(definition: Mapping[str, Any]) -> str | None:
    tag = v2_data.record(definition, "tag")
    return v2_data.text(tag, "name") if tag else None


# --- reading ---------------------------------------------------------------------------------------

def value_to_v1(kind: str | None, value: Any) -> dict[str, str] | None:
    """A v2 value of a field of this type -> ``{element: text}``, or None where v1 showed nothing:
    no value, or a boolean that is not ticked (CF1)."""
    if value is None or value == "":
        return None
    if kind == "boolean":
        if value is True:
            return {"boolean": "true"}
        if value is False:
            return None
        raise UpstreamDataError(f"v2 boolean field value should be true or false, got {value!r:.40}")
    if kind == "number":
        return {"number": v2_data.number({"value": value}, "value") or ""}
    if kind == "date":
        return {"date": calendar_day_to_v1(value, "field value")}
    if isinstance(value, str):
        return {"text": value}
    if isinstance(value, bool):                      # a type v1 did not know: its value as text
        return {"text": "true" if value else "false"}
    if isinstance(value, (int, float)):
        return {"text": v2_data.number({"value": value}, "value") or ""}
    raise UpstreamDataError(f"v2 field value should be text, a number or a boolean, got {type(value).__name__}")


def read_value(v2: Mapping[str, Any], ctx: Context) -> dict[str, str]:
    definition = v2_data.record(v2, "definition") or {}
    return value_to_v1(_kind(definition), v2.get("value")) or {}


#: Read from a v2 value whose ``definition`` is the whole definition (joined by the HTTP layer).
CUSTOM_FIELD_SHAPE = Shape("customField", (
    Field("id", read=ident(), source="fields[].id (the value's id)"),
    Field("tag", read=nested("definition", _tag_name), source="definition.tag.name (a datatag's fields)"),
    Field("label", read=nested_text("definition", "name"), source="definition.name"),
    Rule(VALUE_ELEMENTS, read=read_value, source="fields[].value",
         note="by the definition's type: text (and list), date (midnight UTC), boolean (only true), number"),
))


def shown(v2_value: Mapping[str, Any]) -> bool:
    """Whether v1 listed this value: only fields with a value, booleans only when true (CF1)."""
    definition = v2_data.record(v2_value, "definition") or {}
    return value_to_v1(_kind(definition), v2_value.get("value")) is not None


def _read_type(v2: Mapping[str, Any], ctx: Context) -> str | None:
    return TYPES.get(_kind(v2) or "", "Text")


def _read_options(v2: Mapping[str, Any], ctx: Context) -> str | None:
    # v1 wrote a list's options ;-separated; v2 has no regular expression for a text field.
    options = v2.get("options")
    if not isinstance(options, list):
        return None
    return ";".join(option for option in options if isinstance(option, str)) or None


DEFINITION_SHAPE = Shape("customFieldDefinition", (
    Field("id", read=ident(), source="id"),
    Field("tag", read=lambda v2, ctx: _tag_name(v2), source="tag.name (a datatag)"),
    Field("label", read=text("name"), source="name"),
    Field("type", read=_read_type, source="type", note="text: Text, number: Number, date: Date, "
                                                      "boolean: Boolean, list: List; others: Text"),
    Field("options", read=_read_options, source="options[]", note="a List's options, ;-separated"),
))


# --- writing ---------------------------------------------------------------------------------------

def _where(index: int, item: Mapping[str, Any]) -> str:
    label = item.get("label")
    return f"customField {index}" + (f" ({label.strip()!r})" if isinstance(label, str) and label.strip() else "")


def check_items(items: Sequence[Mapping[str, Any]]) -> None:
    """What can be checked before any look-up: a label, and at most one value element."""
    for index, item in enumerate(items, 1):
        label = item.get("label")
        if not isinstance(label, str) or blank(label):
            raise InvalidField("label", f"{_where(index, item)} has no label: custom fields are named by "
                                        "label (and tag, for a datatag's field)")
        given = [element for element in VALUE_ELEMENTS if element in item]
        if len(given) > 1:
            raise InvalidField(given[1], f"{_where(index, item)} has both {given[0]} and {given[1]}: "
                                         "give one value")


def _matching(definitions: Sequence[Mapping[str, Any]], label: str) -> list[Mapping[str, Any]]:
    """The definitions of that label: exactly as written first, else in any letter case (T4)."""
    exact = [d for d in definitions if v2_data.text(d, "name") == label]
    if exact:
        return exact
    folded = label.casefold()
    return [d for d in definitions if (v2_data.text(d, "name") or "").strip().casefold() == folded]


def find_definition(definitions: Sequence[Mapping[str, Any]], label: str, tag: str | None, kind: str,
                    lookup: str) -> Mapping[str, Any]:
    """The definition a v1 customField names; an unknown label is an UnknownName (a 400 after one
    fresh read of the definitions), and a label that names several a 400 asking for the tag (CF2)."""
    label = label.strip()
    listing = f"GET /api/{kind}/customfield/definitions"
    found = _matching(definitions, label)
    if not found:
        raise UnknownName("label", f"unknown custom field label {label!r}: no {PARENTS[kind].noun} custom "
                                   f"field has that label (see {listing})", lookup)
    if tag is not None and not blank(tag):
        wanted = tag.strip().casefold()
        tagged = [d for d in found if (_tag_name(d) or "").strip().casefold() == wanted]
        if not tagged:
            tags = sorted({_tag_name(d) or "(no tag)" for d in found})
            raise InvalidField("tag", f"custom field {label!r} has no tag {tag.strip()!r} (its tag: "
                                      f"{', '.join(tags)}; see {listing})")
        found = tagged
    elif len(found) > 1:
        found = [d for d in found if _tag_name(d) is None] or found
    if len(found) > 1:
        tags = sorted(_tag_name(d) or "(no tag)" for d in found)
        raise InvalidField("label", f"custom field label {label!r} names {len(found)} fields (tags: "
                                    f"{', '.join(tags)}): send its tag too")
    return found[0]


@dataclass(frozen=True)
class Change:
    """One field's change: ``value`` to set, or ``clear`` (v2 needs the stored value's id)."""

    definition: Mapping[str, Any]
    value: Any = None
    clear: bool = False

    @property
    def label(self) -> str:
        return v2_data.text(self.definition, "name") or ""

    @property
    def definition_id(self) -> int:
        return v2_data.id_number(self.definition) or 0


def _number(label: str, element: str, raw: str) -> str:
    value = raw.strip()
    if not _DECIMAL.fullmatch(value):
        raise InvalidField(element, f"custom field {label!r} is a Number field: {value!r} is not a number "
                                    "such as 1234.50")
    return format(Decimal(value), "f")    # exact decimal text, never an exponent, as v2 answers (CF4)


def _option(definition: Mapping[str, Any], label: str, raw: str) -> str:
    options = [o for o in definition.get("options") or () if isinstance(o, str)]
    if raw in options:
        return raw
    folded = [o for o in options if o.casefold() == raw.strip().casefold()]
    if len(folded) == 1:
        return folded[0]
    raise InvalidField("text", f"custom field {label!r} is a List field: {raw.strip()!r} is not one of "
                               f"{', '.join(options) or '(no options)'}")


def value_to_v2(definition: Mapping[str, Any], item: Mapping[str, Any]) -> Change:
    """A v1 customField -> the change to its v2 field. An empty value (or none) clears it; a
    boolean is cleared by unticking it, since v2 cannot clear a boolean (CF5). A value in the
    wrong element for the definition's type is a 400 naming the field (CF3)."""
    kind = _kind(definition) or "text"
    label = v2_data.text(definition, "name") or ""
    given = [element for element in VALUE_ELEMENTS if element in item]
    raw = item[given[0]] if given else ""
    if blank(raw):
        return Change(definition, value=False) if kind == "boolean" else Change(definition, clear=True)
    element = given[0]
    expected = ELEMENT_OF.get(kind, "text")
    if element != expected and not (kind == "number" and element == "text"):
        raise InvalidField(element, f"custom field {label!r} is a {TYPES.get(kind, 'Text')} field: send its "
                                    f"value in {expected}, not in {element}")
    if kind == "number":
        return Change(definition, value=_number(label, element, raw))
    if kind == "date":
        return Change(definition, value=calendar_day_to_v2(raw, f"the date of custom field {label!r}"))
    if kind == "boolean":
        return Change(definition, value=raw.strip() == "true")
    if kind == "list":
        return Change(definition, value=_option(definition, label, raw))
    return Change(definition, value=raw)              # free text, sent as written


def plan_changes(items: Sequence[Mapping[str, Any]], definitions: Sequence[Mapping[str, Any]], kind: str,
                 lookup: str) -> list[Change]:
    """Every item resolved and converted, or the first problem; nothing is written unless all
    of them can be (CONTRACT: an unknown label writes nothing)."""
    changes: list[Change] = []
    seen: dict[int, str] = {}
    for index, item in enumerate(items, 1):
        definition = find_definition(definitions, item["label"], item.get("tag"), kind, lookup)
        change = value_to_v2(definition, item)
        if change.definition_id in seen:
            raise InvalidField("label", f"custom field {change.label!r} is given twice ({_where(index, item)})")
        seen[change.definition_id] = change.label
        changes.append(change)
    return changes


def needs_stored_values(changes: Sequence[Change]) -> bool:
    return any(change.clear for change in changes)


def v2_body(changes: Sequence[Change], stored: Mapping[int, int] | None) -> dict[str, Any]:
    """The record's PUT: ``fields`` (a value by definition id; a clear by the stored value's id,
    skipped when there is none), and ``tags`` for the datatags of fields being set, since Capsule
    shows a datatag's fields only on records that carry the tag (CF7)."""
    fields: list[dict[str, Any]] = []
    tags: dict[int, dict[str, Any]] = {}
    for change in changes:
        if change.clear:
            value_id = (stored or {}).get(change.definition_id)
            if value_id is not None:
                fields.append(v2_data.removal(value_id))
            continue
        fields.append({"definition": {"id": change.definition_id}, "value": change.value})
        tag = v2_data.record(change.definition, "tag")
        if tag and tag.get("dataTag") is True and change.value is not False and v2_data.id_number(tag):
            tags[v2_data.id_number(tag) or 0] = {"id": v2_data.id_number(tag)}
    body: dict[str, Any] = {"fields": fields} if fields else {}
    if tags:
        body["tags"] = list(tags.values())
    return body


def stored_values(record: Mapping[str, Any]) -> dict[int, int]:
    """definition id -> value id, from a record read with embed=fields."""
    found: dict[int, int] = {}
    for value in v2_data.records(record.get("fields") or [], "fields"):
        definition = v2_data.record(value, "definition") or {}
        definition_id, value_id = v2_data.id_number(definition), v2_data.id_number(value)
        if definition_id is not None and value_id is not None:
            found[definition_id] = value_id
    return found


def join(values: Sequence[Mapping[str, Any]], definitions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each v2 value with its whole definition in place of v2's ``{id, name}``."""
    by_id = {d.get("id"): d for d in definitions}
    joined = []
    for value in values:
        short = v2_data.record(value, "definition") or {}
        joined.append({**value, "definition": by_id.get(short.get("id"), short)})
    return joined


def unknown_definitions(values: Sequence[Mapping[str, Any]], definitions: Sequence[Mapping[str, Any]]) -> bool:
    known = {d.get("id") for d in definitions}
    return any((v2_data.record(value, "definition") or {}).get("id") not in known for value in values)


_FORMS = ("customfields", "customfield")      # v1's documented path, and the older singular one

# What `explain` and docs/migrating.md show these routes with: a text and a list field defined
# for the record's kind (`{kind}`: the path's), a value of the text one on the record the path
# names, and a document that sets it.
_EXAMPLE_DEFINITIONS = [{"name": "Example field", "type": "text"},
                        {"name": "Example list", "type": "list", "options": ["Gold", "Silver"]}]
_EXAMPLE_FIELDS = {lookup_name("{kind}"): _EXAMPLE_DEFINITIONS}
_EXAMPLES: dict[str, dict[str, Any]] = {
    "GET": {"example": {"fields": [{"definition": "Example field", "value": "Example value"}]}},
    "PUT": {"example_body": {"customFields": {"customField": [{"label": "Example field", "text": "New value"}]}}},
}
_EXAMPLES["POST"] = _EXAMPLES["PUT"]

CUSTOM_FIELDS = Resource(
    name="customField", noun="custom field", shapes=(CUSTOM_FIELD_SHAPE,), list_root="customFields",
    v2=V2("fields", "field"),
    routes=tuple(
        route(method, f"/api/{PARENT_PATTERN}/{{id}}/{path}", op, doc=doc, example_lookups=_EXAMPLE_FIELDS,
              **_EXAMPLES[method])
        for path in _FORMS
        for method, op, doc in (
            ("GET", "custom_fields", "the record with its values (embed=fields): the v1 answer is each value "
                                     "with its definition's label"),
            ("PUT", "write_custom_fields", "set or clear values by label: one PUT of the record"),
            ("POST", "write_custom_fields", "as PUT: set or clear values by label, one PUT of the record"),
        )),
    doc="Custom field values on parties, opportunities and cases, by label.",
)

CUSTOM_FIELD_DEFINITIONS = Resource(
    name="customFieldDefinition", noun="custom field definition", shapes=(DEFINITION_SHAPE,),
    list_root="customFieldDefinitions", v2=V2("fields/definitions", "definition"),
    routes=tuple(
        route("GET", f"/api/{kind}/customfield/definitions", "reference", lookup=lookup_name(kind),
              item="customFieldDefinition", example_lookups={lookup_name(kind): _EXAMPLE_DEFINITIONS})
        for kind in PARENTS),
    doc="The custom fields each kind of record may have.",
)
