"""v1's JSON flavour <-> the neutral form (``documents.py``).

v1's JSON was an XML-to-JSON mapping: ``{"task": {"id": "100", ...}}`` with every value a string;
attributes as ``"@size"``; an element that repeats is an array, except that ONE element came out
as a bare object (or string), and an empty list as ``{"tasks": {"@size": "0"}}``; a list that
mixes element names groups them (``{"parties": {"@size": "3", "person": [...],
"organisation": {...}}}``). The encoders do the same; ``always_list=True`` always writes arrays.

Decoding obeys the XSDs without building XML (decision D3): the JSON is walked against
``schemas.STRUCTURE`` and every leaf checked with ``schemas.SIMPLE_TYPES``, the same rules lxml
applies to XML bodies, with the same messages (fields named ``"task"`` instead of ``<task>``):

* size over ``max_bytes`` -> 413; empty -> 400; a UTF-8 BOM is dropped; invalid UTF-8, not
  JSON (``NaN`` and trailing data included), nesting too deep -> 400;
* the document is an object with exactly one key, the root (errors: ``{"message": ...}``);
* leaves are strings; integers are read in decimal; ``null`` means absent; booleans,
  fractions, arrays (where the element does not repeat) and objects are 400 naming the field,
  except a fraction where the XSD wants a ``Decimal`` (an opportunity's ``value``: the
  ``capsule_crm`` gem sends a float), read as the shortest decimal text of that number;
* unknown keys and keys given twice -> 400 naming them; a character XML cannot carry -> 400.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import orjson

from .documents import (
    DEFAULT_MAX_BYTES, NEEDS_ESCAPE, BadDocument, as_text, checked_body, first_non_xml_char, xml_safe,
)
from .schemas import (ANY_TEXT_TYPES, FREE_TEXT_TYPES, JSON_NAMES, SIMPLE_TYPES, STRUCTURE, Decl,
                      content_problems, expected_roots, join_messages, type_message)
from .xml_codec import list_items

__all__ = ["decode", "decode_list", "encode", "encode_list", "encode_error"]

_BOM = b"\xef\xbb\xbf"
_WS = " \t\r\n"
_BOOLEAN_TYPES = frozenset({"Boolean", "Flag"})
_DECIMAL_TYPES = frozenset({"Decimal"})


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
        raise BadDocument(f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                          reason="malformed") from None
    except RecursionError:
        raise BadDocument("the JSON document is nested too deeply", reason="too_deep") from None
    except ValueError as exc:  # NaN/Infinity, integers with thousands of digits
        raise BadDocument(f"malformed JSON: {exc}", reason="malformed") from None


class _Walk:
    """One document's walk: the neutral record, and every problem found on the way."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def scalar(self, key: str, value: object, keep_space: bool = False) -> str | None:
        """A leaf's text; None for null (absent) or a value that is no scalar (a problem)."""
        kind = type(value)
        if kind is str:
            text = value if keep_space else value.strip(_WS)
        elif kind is int:
            text = str(value)
        elif value is None:
            return None
        else:
            self.problems.append(f'"{key}" must be a string, got {_what(value)}')
            return None
        if NEEDS_ESCAPE.search(text) is not None:
            bad = first_non_xml_char(text)
            if bad is not None:
                self.problems.append(f'"{key}" contains the character U+{ord(bad):04X}, '
                                     "which v1 documents cannot carry")
                return None
        return text

    def leaf(self, key: str, value: object, type_name: str, subject: str | None = None) -> str | None:
        if type(value) is str and type_name in ANY_TEXT_TYPES:    # most leaves: free text
            if NEEDS_ESCAPE.search(value) is None:
                return value
            return self.scalar(key, value, type_name in FREE_TEXT_TYPES)
        if type(value) is bool and type_name in _BOOLEAN_TYPES:
            value = "true" if value else "false"   # GF sends "@delete": true; the words are v1's
        elif type(value) is float and type_name in _DECIMAL_TYPES:
            # repr: the shortest text that reads back as this number, i.e. what the client wrote.
            value = format(Decimal(repr(value)), "f")
        text = self.scalar(key, value, type_name in FREE_TEXT_TYPES)
        if text is not None and not SIMPLE_TYPES[type_name](text):
            subject = subject or JSON_NAMES.el(key)
            self.problems.append(type_message(subject, type_name, text) or f"{subject} is not valid")
            return None
        return text

    def record(self, tag: str, obj: _Object, decl: Decl) -> dict[str, Any]:
        out: dict[str, Any] = {}
        children, repeatable = decl.children, decl.repeatable
        stray = False                         # a key unknown or repeated: explained below
        seen: set[str] = set()                # a key given twice is refused even if one was null
        for key, value in obj:
            if key[:1] == "@":
                name = key[1:]
                if name not in decl.attributes:
                    stray = True
                    continue
                if key in out:
                    self.problems.append(f'"{key}" appears twice in "{tag}"')
                    continue
                text = self.leaf(key, value, decl.attributes[name], JSON_NAMES.attr(tag, name))
                if text is not None:
                    out[key] = text
                continue
            child = children.get(key)
            if child is None or (key in seen and key not in repeatable):
                stray = True
                continue
            seen.add(key)
            if key in repeatable:
                for item in (value if type(value) is list else (value,)):
                    converted = self._child(key, item, child)
                    if converted is not None:
                        out.setdefault(key, []).append(converted)
            else:
                converted = self._child(key, value, child)
                if converted is not None:
                    out[key] = converted
        missing = [name for name in decl.required if name not in out]
        if missing:
            self.problems.append(f'"{tag}" must contain {", ".join(JSON_NAMES.el(n) for n in missing)}')
        if stray:
            self._stray_keys(tag, obj, decl)
        return out

    def _stray_keys(self, tag: str, obj: _Object, decl: Decl) -> None:
        keys = [key for key, _ in obj]
        self.problems.extend(content_problems(tag, decl, [k for k in keys if k[:1] != "@"], JSON_NAMES))
        unknown = [k for k in keys if k[:1] == "@" and k[1:] not in decl.attributes]
        if unknown:
            word = "fields" if len(unknown) > 1 else "field"
            self.problems.append(f"unknown {word} {', '.join(json.dumps(k) for k in unknown)} in \"{tag}\"")

    def _child(self, key: str, item: object, child: Decl) -> Any:
        if child.leaf_type is not None:
            return self.leaf(key, item, child.leaf_type)
        if item is None:
            return None
        if not isinstance(item, _Object):
            self.problems.append(f'"{key}" must be an object, got {_what(item)}')
            return None
        return self.record(key, item, child)


def _document(body: bytes, kinds: tuple[str, ...], max_bytes: int) -> tuple[str, _Object, Decl]:
    data = _load(body, max_bytes)
    if not isinstance(data, _Object):
        raise BadDocument(f"expected a JSON object, got {_what(data)}")
    if kinds == ("error",):                                # {"message": "..."}, no wrapper
        return "error", data, STRUCTURE.roots["error"]
    keys = [key for key, _ in data]
    if len(keys) != 1 or keys[0] not in kinds:
        wanted = " or ".join(f'{{"{kind}": {{...}}}}' for kind in kinds)
        known = [k for k in keys if k in kinds]
        if not known:
            got = ", ".join(json.dumps(k) for k in keys) if keys else "an empty object"
            raise BadDocument(f"expected a {wanted} document, got {got}")
        if len(keys) != len(set(keys)):
            raise BadDocument(f'"{known[0]}" appears {keys.count(known[0])} times in the document')
        extra = [json.dumps(k) for k in keys if k not in kinds]
        raise BadDocument(f'unknown {"fields" if len(extra) > 1 else "field"} {", ".join(extra) or "root"} '
                          f'beside "{known[0]}"')
    root, value = data[0]
    if not isinstance(value, _Object):
        raise BadDocument(f'"{root}" must be an object, got {_what(value)}')
    return root, value, STRUCTURE.roots[root]


def decode(body: bytes, kinds: tuple[str, ...], *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, dict[str, Any]]:
    """A v1 JSON document with one of ``kinds`` as root -> (root name, neutral record)."""
    root, obj, decl = _document(body, kinds, max_bytes)
    walk = _Walk()
    record = walk.record(root, obj, decl)
    if walk.problems:
        raise BadDocument(join_messages(walk.problems), reason="schema")
    return root, record


def decode_list(body: bytes, kinds: tuple[str, ...], *,
                max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, list[tuple[str, Any]]]:
    """A v1 JSON list document -> (root name, items as (element name, record or text)).

    The JSON form groups items by element name, so items of different names come out grouped."""
    root, record = decode(body, kinds, max_bytes=max_bytes)
    items = [(key, item) for key, value in record.items() if key[:1] != "@"
             for item in (value if isinstance(value, list) else [value])]
    return root, list_items(root, record.get("@size"), items, JSON_NAMES)


# -- encoding ----------------------------------------------------------------------------------

def _clean(record: Mapping[str, Any], always_list: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    texts: list[str] = []
    for key, value in record.items():
        kind = type(value)
        if kind is str:
            if value:
                out[key] = value
                texts.append(value)
        elif value is None:
            continue
        elif kind is dict or kind is list:
            converted = _value(value, always_list)
            if converted is not None:
                out[key] = converted
        else:
            text = as_text(key, value)
            if text:
                out[key] = text
    # One search over all the texts decides whether any needs cleaning (the usual answer: no).
    if texts and first_non_xml_char("".join(texts)) is not None:
        for key, value in list(out.items()):
            if type(value) is str:
                cleaned = xml_safe(value)
                if cleaned:
                    out[key] = cleaned
                else:
                    del out[key]
    return out


def _value(value: Any, always_list: bool) -> Any:
    if isinstance(value, dict):
        return _clean(value, always_list)
    if isinstance(value, list):
        items = [converted for item in value if (converted := _value(item, always_list)) not in (None, "")]
        if not items:
            return [] if always_list else None
        return items[0] if len(items) == 1 and not always_list else items
    text = xml_safe(as_text("value", value) or "")
    return text or None


def encode(root: str, record: Mapping[str, Any], *, always_list: bool = False) -> bytes:
    """A neutral record -> ``{"root": {...}}``."""
    return orjson.dumps({root: _clean(record, always_list)})


def encode_list(root: str, items: Iterable[tuple[str, Any]], *, always_list: bool = False,
                item: str | None = None) -> bytes:
    """(element name, record or text) items -> ``{"root": {"@size": "N", "name": [...] | {...}}}``.

    With ``always_list``, ``item`` names the array an empty list still gets (``"task": []``)."""
    groups: dict[str, list[Any]] = {item: []} if always_list and item else {}
    count = 0
    for tag, value in items:
        count += 1
        converted = _value(value, always_list)
        groups.setdefault(tag, []).append(converted if converted is not None else {})
    body: dict[str, Any] = {"@size": str(count)}
    for tag, values in groups.items():
        body[tag] = values[0] if len(values) == 1 and not always_list else values
    return orjson.dumps({root: body})


def encode_error(message: str) -> bytes:
    """An error message -> ``{"message": "..."}``."""
    return orjson.dumps({"message": xml_safe(as_text("message", message) or "") or "error"})
