"""v1's JSON flavour <-> the neutral form (see ``documents.py``).

v1 answered JSON when asked (``Accept: application/json``) and read JSON request bodies
(``Content-Type: application/json``). Its shapes were those of an XML-to-JSON mapping:

* one task: ``{"task": {"id": "100", "description": "Meet", ...}}``, every value a string;
* a list: ``{"tasks": {"@size": "2", "task": [{...}, {...}]}}``. A ONE-element list came out
  as a bare object, ``{"tasks": {"@size": "1", "task": {...}}}``, and an empty one as
  ``{"tasks": {"@size": "0"}}``. The encoders do the same by default; ``always_list=True``
  makes them always write an array (``"task": []`` for an empty list, too);
* categories: ``{"taskCategories": {"taskCategory": ["Call", "Email"]}}`` (same list rule;
  empty: ``{"taskCategories": {}}``);
* users: ``{"users": {"user": [{...}]}}`` (same list rule; empty: ``{"users": {}}``);
* errors: ``{"message": "..."}``.

Decoding applies the same rules as XML bodies, by building the lxml element the XML would
have produced and validating it against the same XSD, so both formats accept and refuse the
same documents, and give the same messages (fields named ``"task"`` instead of ``<task>``):

* size over ``max_bytes`` -> 413; empty body -> 400; a UTF-8 BOM is dropped; invalid UTF-8
  -> 400; not JSON (including ``NaN``/``Infinity``, trailing data) -> 400; nesting too deep
  for the parser -> 400;
* the document must be an object with exactly the one key of its kind (``"task"``);
* values must be strings. JSON integers are accepted and written in decimal (``"id": 100``
  -> ``"100"``); ``null`` means the field is absent (the Ruby gem capsule_crm sent
  ``"category": null``); booleans, fractions, arrays and objects are refused with a message
  naming the field;
* unknown keys -> 400 naming them all; a key given twice -> 400 (``"description" appears
  twice in "task"``), duplicates are detected rather than silently last-wins;
* text values are stripped of surrounding XML whitespace, like XML values; a character XML
  cannot carry (e.g. ``\\u0001``) -> 400 naming the field.

Encoding writes compact UTF-8 JSON with orjson; every value is a string; ``None`` and
``""`` values are left out; characters XML cannot carry are removed as in XML output, so a
record reads the same in both formats.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from lxml import etree

from .documents import (
    DEFAULT_MAX_BYTES, TASK_FIELDS, USER_FIELDS,
    NEEDS_ESCAPE, BadDocument, as_text, checked_body, escape_text, first_non_xml_char, xml_safe,
)
from .schemas import JSON_NAMES, STRUCTURE, validate
from .xml_codec import PARSER, record, records, texts

__all__ = [
    "decode_task", "decode_tasks", "decode_users", "decode_categories", "decode_error",
    "encode_task", "encode_tasks", "encode_users", "encode_categories", "encode_error",
]

_BOM = b"\xef\xbb\xbf"
_WS = " \t\r\n"


class _Object(list):
    """A JSON object as its (key, value) pairs in order, duplicates kept."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_Object, parse_constant=_reject_constant)


def _what(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, _Object):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, float):
        return "a fractional number"
    if isinstance(value, int):
        return "a number"
    return "a string"


def _load(body: bytes, max_bytes: int) -> Any:
    body = checked_body(body, max_bytes)
    skipped = 0
    if body.startswith(_BOM):
        body, skipped = body[3:], 3
    if not body or body.isspace():
        raise BadDocument("the request body is empty", reason="empty")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadDocument(f"the body is not valid UTF-8 (byte 0x{body[exc.start]:02X} "
                          f"at offset {exc.start + skipped})", reason="encoding") from None
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise BadDocument(f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", reason="malformed") from None
    except RecursionError:
        raise BadDocument("the JSON document is nested too deeply", reason="too_deep") from None
    except ValueError as exc:  # NaN/Infinity, integers with thousands of digits
        raise BadDocument(f"malformed JSON: {exc}", reason="malformed") from None


def _scalar(key: str, value: object) -> str | None:
    """The text of a leaf value, or None for null (absent)."""
    kind = type(value)
    if kind is str:
        text = value.strip(_WS)
    elif kind is int:
        text = str(value)
    elif value is None:
        return None
    else:
        raise BadDocument(f'"{key}" must be a string, got {_what(value)}')
    bad = first_non_xml_char(text)
    if bad is not None:
        raise BadDocument(f'"{key}" contains the character U+{ord(bad):04X}, which v1 documents cannot carry')
    return text


class _Shape:
    """What the XSDs allow inside one element, arranged for quick lookups."""

    __slots__ = ("allowed", "attributes", "repeatable", "complex")

    def __init__(self, tag: str):
        self.allowed = frozenset(STRUCTURE.children.get(tag, ()))
        self.attributes = frozenset(STRUCTURE.attributes.get(tag, {}))
        self.repeatable = frozenset(c for p, c in STRUCTURE.repeatable if p == tag)
        self.complex = frozenset(c for c in self.allowed if c in STRUCTURE.children)


_SHAPES = {tag: _Shape(tag) for tag in STRUCTURE.children}


def _escape_attribute(text: str) -> str:
    return (escape_text(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;"))


def _xml(tag: str, obj: _Object, out: list[str]) -> None:
    """Append to ``out`` the XML text the members of a JSON object stand for.

    Building text and parsing it once with the hardened parser is about twice as fast as
    creating the lxml elements one by one, and yields exactly the tree an XML body would."""
    shape = _SHAPES[tag]
    head = len(out)
    out.append("")                                         # the start tag, filled in below
    attributes: dict[str, str] = {}
    unknown: list[str] = []
    for key, value in obj:
        if key[:1] == "@":
            name = key[1:]
            if name not in shape.attributes:
                unknown.append(key)
                continue
            if name in attributes:
                raise BadDocument(f'"{key}" appears twice in "{tag}"')
            text = _scalar(key, value)
            if text is not None:
                attributes[name] = text
            continue
        if key not in shape.allowed:
            unknown.append(key)
            continue
        items = value if type(value) is list and key in shape.repeatable else (value,)
        if key in shape.complex:                           # e.g. "task" inside "tasks"
            for item in items:
                if item is None:
                    continue
                if not isinstance(item, _Object):
                    raise BadDocument(f'"{key}" must be an object, got {_what(item)}')
                _xml(key, item, out)
        else:                                              # a leaf, e.g. "description"
            for item in items:
                kind = type(item)
                if kind is str:
                    text = item.strip(_WS)
                elif kind is int:
                    text = str(item)
                elif item is None:
                    continue
                else:
                    raise BadDocument(f'"{key}" must be a string, got {_what(item)}')
                if NEEDS_ESCAPE.search(text) is not None:       # rare: check, then escape
                    text = escape_text(_scalar(key, text))
                out.append(f"<{key}>{text}</{key}>")
    if unknown:
        word = "fields" if len(unknown) > 1 else "field"
        raise BadDocument(f"unknown {word} {', '.join(json.dumps(k) for k in unknown)} in \"{tag}\"")
    attrs = "".join(f' {name}="{_escape_attribute(text)}"' for name, text in attributes.items())
    out[head] = f"<{tag}{attrs}>"
    out.append(f"</{tag}>")


def _element(body: bytes, kind: str, max_bytes: int) -> etree._Element:
    """Parse, map to the element the XML would give, validate: the root element."""
    data = _load(body, max_bytes)
    if not isinstance(data, _Object):
        raise BadDocument(f"expected a JSON object, got {_what(data)}")
    out: list[str] = []
    if kind == "error":                                    # {"message": "..."}, no wrapper
        _xml(kind, data, out)
    else:
        keys = [key for key, _ in data]
        if keys != [kind]:
            if kind not in keys:
                got = ", ".join(json.dumps(k) for k in keys) if keys else "an empty object"
                raise BadDocument(f'expected a {{"{kind}": {{...}}}} document, got {got}')
            if keys.count(kind) > 1:
                raise BadDocument(f'"{kind}" appears {keys.count(kind)} times in the document')
            extra = [json.dumps(k) for k in keys if k != kind]
            raise BadDocument(f'unknown {"fields" if len(extra) > 1 else "field"} {", ".join(extra)} '
                              f'beside "{kind}"')
        value = data[0][1]
        if not isinstance(value, _Object):
            raise BadDocument(f'"{kind}" must be an object, got {_what(value)}')
        _xml(kind, value, out)
    try:
        root = etree.fromstring("".join(out).encode("utf-8"), PARSER)
    except (etree.LxmlError, ValueError) as exc:        # not expected: names and text are checked
        raise BadDocument(f"cannot read the document: {exc}") from None
    validate(root, kind, JSON_NAMES)
    return root


# -- decoding --------------------------------------------------------------------------------

def decode_task(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, str]:
    """A v1 JSON ``{"task": {...}}`` request body -> neutral task dict (DocumentError on failure)."""
    return record(_element(body, "task", max_bytes))


def decode_tasks(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[dict[str, str]]:
    """``{"tasks": {"@size": "N", "task": [...] | {...}}}`` -> list of neutral task dicts."""
    return records(_element(body, "tasks", max_bytes), JSON_NAMES)


def decode_users(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[dict[str, str]]:
    """``{"users": {"user": [...] | {...}}}`` -> list of neutral user dicts."""
    return records(_element(body, "users", max_bytes), JSON_NAMES)


def decode_categories(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[str]:
    """``{"taskCategories": {"taskCategory": [...] | "..."}}`` -> list of names."""
    return texts(_element(body, "taskCategories", max_bytes))


def decode_error(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """``{"message": "..."}`` -> the message."""
    return texts(_element(body, "error", max_bytes))[0]


# -- encoding --------------------------------------------------------------------------------

_TASK_KEYS = frozenset(TASK_FIELDS)
_USER_KEYS = frozenset(USER_FIELDS)


def _clean(record_: Mapping[str, object], allowed: frozenset[str], tag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in record_.items():
        if key not in allowed:
            raise ValueError(f"{key!r} is not a field of {tag!r} in v1")
        if type(value) is not str:
            value = as_text(key, value)
        if value:
            out[key] = value
    if first_non_xml_char("".join(out.values())) is not None:
        out = {k: c for k, v in out.items() if (c := xml_safe(v))}
    return out


def _listed(tag: str, items: list[Any], always_list: bool) -> dict[str, Any]:
    if len(items) == 1 and not always_list:
        return {tag: items[0]}
    if items or always_list:
        return {tag: items}
    return {}


def encode_task(task: Mapping[str, object]) -> bytes:
    """Neutral task dict -> ``{"task": {...}}``."""
    return orjson.dumps({"task": _clean(task, _TASK_KEYS, "task")})


def encode_tasks(tasks: Iterable[Mapping[str, object]], *, always_list: bool = False) -> bytes:
    """Neutral task dicts -> ``{"tasks": {"@size": "N", "task": ...}}`` (see module docstring)."""
    items = [_clean(task, _TASK_KEYS, "task") for task in tasks]
    return orjson.dumps({"tasks": {"@size": str(len(items)), **_listed("task", items, always_list)}})


def encode_users(users: Iterable[Mapping[str, object]], *, always_list: bool = False) -> bytes:
    """Neutral user dicts -> ``{"users": {"user": ...}}``."""
    items = [_clean(user, _USER_KEYS, "user") for user in users]
    return orjson.dumps({"users": _listed("user", items, always_list)})


def encode_categories(names: Iterable[str], *, always_list: bool = False) -> bytes:
    """Category names -> ``{"taskCategories": {"taskCategory": ...}}`` (empty names left out)."""
    items = [text for name in names if (text := xml_safe(as_text("taskCategory", name) or ""))]
    return orjson.dumps({"taskCategories": _listed("taskCategory", items, always_list)})


def encode_error(message: str) -> bytes:
    """An error message -> ``{"message": "..."}``."""
    return orjson.dumps({"message": xml_safe(as_text("message", message) or "") or "error"})
