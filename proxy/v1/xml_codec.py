"""v1 XML documents <-> the neutral form (``documents.py``), with hardened parsing (decision D1).

Decoding checks run in this order, each failing with a :class:`~.documents.DocumentError`:

1. size over ``max_bytes`` -> 413, before anything else is looked at;
2. empty or whitespace-only body -> 400 (a byte-order mark and whitespace before the XML
   declaration are dropped first);
3. character encoding -> the body becomes UTF-8 bytes. The encoding is, first match wins: a
   UTF-16/32 byte-order mark, the ``charset`` from ``Content-Type`` (RFC 7303), the XML
   declaration's ``encoding=``, else UTF-8. UTF-8 and US-ASCII are read as they are;
   ISO-8859-1/-15, windows-1252 and UTF-16/32 are transcoded first. A declaration of UTF-16 on
   bytes that are not UTF-16 (what .NET's XmlSerializer writes) is read as UTF-8. Other
   encodings -> 415; bytes that do not decode, or a NUL byte -> 400 naming the offset;
4. ``<!DOCTYPE`` anywhere -> 400 before the parser runs (no XXE, no entity expansion);
5. parse with one module-level hardened parser; malformed XML -> 400 with libxml2's reason;
6. nesting deeper than ``MAX_DEPTH`` -> 400 (checked only for documents that fail 7-8);
7. the root must be one the caller accepts -> else 400;
8. ``xsi:nil="true"`` empties an element (D2), then XSD validation -> else 400 naming the
   element(s).

Values are the text with surrounding XML whitespace stripped (clients pretty-print); CDATA is
text; an empty element is ``""``. Encoding writes ``<?xml version="1.0" encoding="UTF-8"?>`` and
the document as text, with lxml's exact escaping (D4): ``None`` and ``""`` values are left out,
an empty ``dict`` is written as an empty element (``<contacts/>``).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from lxml import etree

from .documents import (
    DEFAULT_MAX_BYTES, MAX_DEPTH, NEEDS_ESCAPE, BadDocument, UnsupportedMediaType, as_text,
    checked_body, escape_text,
)
from .schemas import STRUCTURE, XML_NAMES, Decl, Namer, validate

__all__ = ["PARSER", "XML_DECLARATION", "parse", "decode", "decode_list", "to_record",
           "encode", "encode_list", "encode_error"]

#: The one hardened parser every v1 XML body goes through.
PARSER = etree.XMLParser(
    resolve_entities=False,   # never substitute entities (there is no DTD to define any anyway)
    no_network=True,          # never fetch anything
    load_dtd=False,           # never load an external DTD
    dtd_validation=False,
    huge_tree=False,          # keep libxml2's limits (depth 256, 10 MB text nodes, ...)
    remove_pis=True,
    remove_comments=True,
    remove_blank_text=True,   # whitespace between elements is never a value
    collect_ids=False,        # no xml:id hash table, a little faster
    encoding="utf-8",         # the bytes handed over are always UTF-8 (see _to_utf8)
)

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'

_WS = " \t\r\n"
_NATIVE = frozenset({"utf-8", "ascii"})
_TRANSCODED = frozenset({"iso8859-1", "iso8859-15", "cp1252"})
_WIDE = frozenset({"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_DECLARED_ENCODING = re.compile(
    rb"<\?xml[ \t\r\n][^>]{0,200}?encoding[ \t\r\n]*=[ \t\r\n]*[\"']([A-Za-z][A-Za-z0-9._\-]{0,39})[\"']")
_DECLARATION = re.compile(r"<\?xml[^>]*\?>")
_TOO_DEEP = etree.XPath("boolean(/" + "*/" * MAX_DEPTH + "*)")
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


@lru_cache(maxsize=64)
def _codec_name(label: str | bytes) -> str:
    """Python's name for an encoding label (from Content-Type or the XML declaration)."""
    if isinstance(label, bytes):
        label = label.decode("ascii", "replace")
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        name = ""
    if name not in _NATIVE and name not in _TRANSCODED and name not in _WIDE:
        raise UnsupportedMediaType(
            f"unsupported character encoding {label!r}: send UTF-8 (ISO-8859-1, windows-1252 and "
            "UTF-16 with a byte-order mark are also read)")
    return name


def _wide_codec(body: bytes, name: str) -> str | None:
    """The codec for a UTF-16/32 body without a byte-order mark, or None when the bytes are not
    UTF-16/32 at all (then the label lies, as .NET's declaration does, and UTF-8 is read)."""
    if name.startswith("utf-32"):
        return {b"<\x00\x00\x00": "utf-32-le", b"\x00\x00\x00<": "utf-32-be"}.get(body[:4])
    return {b"<\x00": "utf-16-le", b"\x00<": "utf-16-be"}.get(body[:2])


def _decoded(body: bytes, name: str, skipped: int) -> str:
    try:
        return body.decode(name)
    except UnicodeDecodeError as exc:
        raise BadDocument(f"the body is not valid {name} (byte 0x{body[exc.start]:02X} "
                          f"at offset {exc.start + skipped})", reason="encoding") from None


def _to_utf8(body: bytes, charset: str | None) -> bytes:
    """The body as UTF-8 bytes without BOM or foreign encoding declaration (steps 2-4)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            if name == "utf-8-sig":
                return _checked(body[3:], charset, 3)
            text = _DECLARATION.sub("", _decoded(body, name, 0).lstrip(_WS), count=1)
            return _checked(text.encode("utf-8"), "utf-8", len(bom))
    return _checked(body, charset, 0)


def _checked(body: bytes, charset: str | None, skipped: int) -> bytes:
    if not body or body.isspace():
        raise BadDocument("the request body is empty", reason="empty")
    if body[0] in b" \t\r\n":             # tolerated before the XML declaration
        stripped = body.lstrip(b" \t\r\n")
        skipped += len(body) - len(stripped)
        body = stripped
    label: str | bytes | None = charset
    if label is None and body.startswith(b"<?xml"):
        declared = _DECLARED_ENCODING.match(body)
        if declared is not None:
            label = declared.group(1)
    name = "utf-8" if label is None else _codec_name(label)
    if name in _WIDE:
        wide = _wide_codec(body, name)
        name = "utf-8" if wide is None else wide
        if wide is not None:
            text = _DECLARATION.sub("", _decoded(body, wide, skipped).lstrip(_WS), count=1)
            body, name = text.encode("utf-8"), "utf-8"
    if name in _TRANSCODED:
        text = _decoded(body, name, skipped)
        # The declaration still names the old encoding: drop it, the parser reads UTF-8.
        body = (_DECLARATION.sub("", text, count=1) if text.startswith("<?xml") else text).encode("utf-8")
    elif not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadDocument(
                f"the body is not valid UTF-8 (byte 0x{body[exc.start]:02X} at offset {exc.start + skipped}); "
                "send UTF-8 or name the encoding in the XML declaration", reason="encoding") from None
    if b"\x00" in body:
        raise BadDocument("the body contains a NUL byte, which XML does not allow", reason="encoding")
    if b"<!DOCTYPE" in body:
        raise BadDocument("DOCTYPE declarations are not allowed in v1 documents (no DTDs, no entities)",
                          reason="doctype")
    return body  # PARSER reads UTF-8 whatever a declaration left in place says


def _syntax_message(exc: Exception) -> str:
    reason = getattr(exc, "msg", None) or str(exc)
    if "Excessive depth" in reason:
        return f"the document is nested too deeply (more than {MAX_DEPTH} levels)"
    if "Document is empty" in reason or "Start tag expected" in reason:
        return f"the body is not an XML document: {reason}"
    return f"malformed XML: {reason}"


def _check_depth(root: etree._Element) -> None:
    # Every valid v1 document is at most 5 levels deep, so only a document that fails
    # validation can be too deep: checking here keeps the XPath off the hot path.
    if _TOO_DEEP(root):
        raise BadDocument(f"the document is nested too deeply (more than {MAX_DEPTH} levels)", reason="too_deep")


def _clear_nils(root: etree._Element) -> None:
    """``xsi:nil="true"`` means "no value": the element is read as empty (D2)."""
    for element in root.iter():
        nil = element.attrib.pop(_XSI_NIL, None)
        if nil is None:
            continue
        if nil.strip() not in ("true", "1", "false", "0"):
            raise BadDocument(f"xsi:nil on <{element.tag}> must be true or false, got {nil!r}")
        if nil.strip() in ("true", "1"):
            element.text = None
            for child in list(element):
                element.remove(child)
    etree.cleanup_namespaces(root)


def parse(body: bytes, kinds: tuple[str, ...], *, charset: str | None = None,
          max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Steps 1-8: the validated root element of a document whose root is one of ``kinds``."""
    body = checked_body(body, max_bytes)
    data = _to_utf8(body, charset)
    try:
        root = etree.fromstring(data, PARSER)
    except (etree.LxmlError, ValueError) as exc:
        raise BadDocument(_syntax_message(exc), reason="malformed") from None
    if b"nil" in data:
        _clear_nils(root)
    validate(root, kinds, XML_NAMES, before_explaining=_check_depth)
    return root


# -- validated element -> neutral form ----------------------------------------------------------

def to_record(element: etree._Element, decl: Decl) -> dict[str, Any]:
    """The neutral record of a validated element (see documents.py)."""
    out: dict[str, Any] = {}
    if element.attrib:
        out.update(("@" + name, value.strip(_WS)) for name, value in element.attrib.items())
    children, repeatable = decl.children, decl.repeatable
    for child in element:
        tag = child.tag
        child_decl = children[tag]
        if child_decl.leaf_type is not None:
            text = child.text
            value: Any = (text if child_decl.keeps_space else text.strip(_WS)) if text else ""
        else:
            value = to_record(child, child_decl)
        if tag in repeatable:
            out.setdefault(tag, []).append(value)
        else:
            out[tag] = value
    return out


def decode(body: bytes, kinds: tuple[str, ...], *, charset: str | None = None,
           max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, dict[str, Any]]:
    """A v1 XML document with one of ``kinds`` as root -> (root name, neutral record)."""
    root = parse(body, kinds, charset=charset, max_bytes=max_bytes)
    return root.tag, to_record(root, STRUCTURE.roots[root.tag])


def decode_list(body: bytes, kinds: tuple[str, ...], *, charset: str | None = None,
                max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, list[tuple[str, Any]]]:
    """A v1 list document -> (root name, its items as (element name, record or text), in order)."""
    root = parse(body, kinds, charset=charset, max_bytes=max_bytes)
    return root.tag, list_items(root.tag, root.get("size"), _children_of(root), XML_NAMES)


def _children_of(root: etree._Element) -> list[tuple[str, Any]]:
    decl = STRUCTURE.roots[root.tag]
    items = []
    for child in root:
        child_decl = decl.children[child.tag]
        if child_decl.is_leaf:
            value = child.text or ""
            value = value if child_decl.keeps_space else value.strip(_WS)
        else:
            value = to_record(child, child_decl)
        items.append((child.tag, value))
    return items


def list_items(root: str, size: str | None, items: list[tuple[str, Any]], names: Namer) -> list[tuple[str, Any]]:
    """The items of a list document, after checking its ``size`` says how many there are."""
    if size is not None and int(size) != len(items):
        raise BadDocument(f"{names.attr(root, 'size')} says {size} but there are {len(items)} entries")
    return items


# -- encoding ----------------------------------------------------------------------------------
#
# Written as text, not lxml elements: building ~1,200 elements for a 100-task list took ~3 ms,
# the string version a fraction of that (D4). tests/v1 hold it byte-for-byte to lxml's output.

def _attributes(record: Mapping[str, Any]) -> str:
    return "".join(f' {key[1:]}="{escape_attribute(str(value))}"' for key, value in record.items()
                   if key[:1] == "@" and value is not None)


def escape_attribute(text: str) -> str:
    return escape_text(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


_unsafe = NEEDS_ESCAPE.search


def _record_xml(tag: str, record: Mapping[str, Any]) -> str:
    # One pass, one f-string per element: the hot loop of every answer (100 records a page).
    parts: list[str] = []
    attributes = False
    for key, value in record.items():
        kind = type(value)
        if kind is str:
            if key[0] == "@":
                attributes = True
                continue
            if _unsafe(value) is not None:
                value = escape_text(value)
            if value:
                parts.append(f"<{key}>{value}</{key}>")
        elif value is None:
            continue
        elif key[0] == "@":
            attributes = True
        elif kind is dict:
            parts.append(_record_xml(key, value))
        elif kind is list:
            parts.extend([_value_xml(key, item) for item in value])
        else:
            text = escape_text(as_text(key, value) or "")
            if text:
                parts.append(f"<{key}>{text}</{key}>")
    head = tag + _attributes(record) if attributes else tag
    inner = "".join(parts)
    return f"<{head}>{inner}</{tag}>" if inner else f"<{head}/>"


def _value_xml(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return _record_xml(key, value)
    if isinstance(value, list):
        return "".join(_value_xml(key, item) for item in value)
    text = escape_text(as_text(key, value) or "")
    return f"<{key}>{text}</{key}>" if text else ""


def encode(root: str, record: Mapping[str, Any]) -> bytes:
    """A neutral record -> the ``<root>`` document's bytes."""
    return XML_DECLARATION + _record_xml(root, record).encode("utf-8")


def encode_list(root: str, items: Iterable[tuple[str, Any]]) -> bytes:
    """(element name, record or text) items -> ``<root size="N">…</root>``, in the order given."""
    parts = [_value_xml(tag, value) for tag, value in items]
    inner = "".join(parts)
    body = f'<{root} size="{len(parts)}">{inner}</{root}>' if inner else f'<{root} size="{len(parts)}"/>'
    return XML_DECLARATION + body.encode("utf-8")


def encode_error(message: str) -> bytes:
    """An error message -> ``<error><message>...</message></error>`` (never an empty message)."""
    text = escape_text(as_text("message", message) or "") or "error"
    return XML_DECLARATION + f"<error><message>{text}</message></error>".encode("utf-8")
