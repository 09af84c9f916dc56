"""v1 XML documents <-> the neutral form (see ``documents.py``), with hardened parsing.

Decoding (request bodies; the other kinds are decoded for tests and tools)
--------------------------------------------------------------------------
Checks run in this order, each failing with a :class:`~.documents.DocumentError`:

1. size: more than ``max_bytes`` bytes -> 413, before anything else is looked at;
2. empty or whitespace-only body -> 400 (a leading UTF-8 BOM is dropped first, and so is
   whitespace before the XML declaration, which libxml2 would otherwise refuse);
3. character encoding -> the body is turned into UTF-8 bytes. The encoding is, first match
   wins: the ``charset`` the HTTP layer passes from ``Content-Type`` (RFC 7303: it beats the
   XML declaration), the ``encoding=`` of the XML declaration, else UTF-8. UTF-8 and US-ASCII
   are read as they are; ISO-8859-1, ISO-8859-15 and windows-1252 are transcoded to UTF-8 in
   Python first (old PHP and Java clients send Latin-1); any other encoding, UTF-16 and
   UTF-32 included, -> 415. Bytes that do not decode in the chosen encoding -> 400
   (naming the offset). A NUL byte -> 400 (XML forbids it; it also stops libxml2 from
   guessing UTF-16/32 from the first bytes);
4. ``<!DOCTYPE`` anywhere in the bytes -> 400, before the parser runs. This refuses external
   entities (XXE), billion laughs and quadratic blowup alike: nothing is ever expanded or
   fetched. (A literal ``<!DOCTYPE`` inside CDATA or a comment is refused too; escaped text,
   ``&lt;!DOCTYPE``, is fine.)
5. parse with one module-level hardened ``lxml.etree.XMLParser`` (no entity resolution, no
   network, no DTD loading or validation, no huge trees, comments and processing
   instructions dropped, input always read as UTF-8). Malformed XML -> 400 with libxml2's
   reason, line and column. libxml2 itself stops at 256 levels of nesting;
6. nesting deeper than ``MAX_DEPTH`` (8) levels -> 400 "nested too deeply". (No valid v1
   document is deeper than 3 levels, so this XPath check runs only for a document that
   the next two steps refuse, before their message is built: a deep document always gets
   this message, and valid documents do not pay for the check);
7. the root element must be the kind's root (``<task>`` for task bodies) -> else 400;
8. validation against ``schemas/<kind>.xsd`` -> else 400 with one message naming the
   element(s): ``unknown element <colour> in <task>``, ``<description> appears twice in
   <task>``, ``<partyId> must be a positive integer, got 'abc'``, ...

Values: the text of each element with surrounding XML whitespace (space, tab, CR, LF)
stripped, because real clients pretty-print; inner whitespace and line breaks are kept.
CDATA sections read as their text. An empty element (``<detail/>``) becomes ``""``, which is
valid only for text elements (the translation layer decides what an empty value means). A
``<dueDate>`` given as a plain date (``2012-02-24``, as the Ruby gem capsule_crm sent it) is
rewritten to v1's canonical ``2012-02-24T00:00:00Z``. Children keep document order.

Encoding (response bodies)
--------------------------
``<?xml version="1.0" encoding="UTF-8"?>`` followed by the document, UTF-8, no whitespace
between elements (as v1 wrote it), children in the order of the neutral dict. Values that
are ``None`` or ``""`` are left out entirely: no empty elements are ever written. ``int``
values are written in decimal. Characters XML 1.0 cannot carry (C0 controls other than tab,
LF, CR; U+FFFE, U+FFFF; lone surrogates) are silently removed, so upstream data can never
produce a broken document. ``<``, ``&``, ``>`` are escaped by lxml (quotes need no escaping in
text). A key that is not a v1 element of that document is a programming error: ``ValueError``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from lxml import etree

from .documents import (
    DEFAULT_MAX_BYTES, MAX_DEPTH, TASK_FIELDS, USER_FIELDS,
    NEEDS_ESCAPE, BadDocument, UnsupportedMediaType, as_text, checked_body, escape_text,
)
from .schemas import XML_NAMES, Namer, validate

__all__ = [
    "PARSER", "XML_DECLARATION",
    "parse", "decode_task", "decode_tasks", "decode_users", "decode_categories", "decode_error",
    "encode_task", "encode_tasks", "encode_users", "encode_categories", "encode_error",
    "record", "records", "texts",
]

#: The one hardened parser every v1 XML body goes through.
PARSER = etree.XMLParser(
    resolve_entities=False,   # never substitute entities (there is no DTD to define any anyway)
    no_network=True,          # never fetch anything
    load_dtd=False,           # never load an external DTD
    dtd_validation=False,
    huge_tree=False,          # keep libxml2's limits (depth 256, 10 MB text nodes, ...)
    remove_pis=True,
    remove_comments=True,
    remove_blank_text=True,   # drop whitespace-only text between elements (faster; values are
                              # stripped anyway, and libxml2 keeps the text of leaf elements)
    collect_ids=False,        # no xml:id hash table, a little faster
    encoding="utf-8",         # the bytes handed over are always UTF-8 (see _to_utf8)
)

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'

_BOM = b"\xef\xbb\xbf"
_WS = " \t\r\n"
# Encodings read natively (ASCII is a subset of UTF-8) and those transcoded to UTF-8 first.
_NATIVE = frozenset({"utf-8", "ascii"})
_TRANSCODED = frozenset({"iso8859-1", "iso8859-15", "cp1252"})
_DECLARED_ENCODING = re.compile(
    rb"<\?xml[ \t\r\n][^>]{0,200}?encoding[ \t\r\n]*=[ \t\r\n]*[\"']([A-Za-z][A-Za-z0-9._\-]{0,39})[\"']")
_DECLARATION = re.compile(r"<\?xml[^>]*\?>")
_TOO_DEEP = etree.XPath("boolean(/" + "*/" * MAX_DEPTH + "*)")


@lru_cache(maxsize=64)
def _codec_name(label: str | bytes) -> str:
    """Python's name for an encoding label (from Content-Type or the XML declaration)."""
    if isinstance(label, bytes):
        label = label.decode("ascii", "replace")
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        name = ""
    if name not in _NATIVE and name not in _TRANSCODED:
        raise UnsupportedMediaType(
            f"unsupported character encoding {label!r}: send UTF-8 (ISO-8859-1 and windows-1252 are also read)")
    return name


def _to_utf8(body: bytes, charset: str | None) -> bytes:
    """The body as UTF-8 bytes without BOM or foreign encoding declaration (steps 2-4)."""
    skipped = 0
    if body.startswith(_BOM):
        body, skipped = body[3:], 3
    elif body.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnsupportedMediaType("UTF-16 and UTF-32 bodies are not supported: send UTF-8")
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
    if name in _TRANSCODED:
        try:
            text = body.decode(name)
        except UnicodeDecodeError as exc:
            raise BadDocument(f"the body is not valid {name} (byte 0x{body[exc.start]:02X} "
                              f"at offset {exc.start + skipped})", reason="encoding") from None
        # The declaration still names the old encoding: drop it, the parser reads UTF-8.
        body = _DECLARATION.sub("", text, count=1).encode("utf-8") if text.startswith("<?xml") else text.encode("utf-8")
    elif not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadDocument(
                f"the body is not valid UTF-8 (byte 0x{body[exc.start]:02X} at offset {exc.start + skipped}); "
                "send UTF-8 or name the encoding in the XML declaration") from None
    if b"\x00" in body:
        raise BadDocument("the body contains a NUL byte, which XML does not allow", reason="encoding")
    if b"<!DOCTYPE" in body:
        raise BadDocument("DOCTYPE declarations are not allowed in v1 documents (no DTDs, no entities)", reason="doctype")
    return body


def _syntax_message(exc: Exception) -> str:
    reason = getattr(exc, "msg", None) or str(exc)
    if "Excessive depth" in reason:
        return f"the document is nested too deeply (more than {MAX_DEPTH} levels)"
    if "Document is empty" in reason or "Start tag expected" in reason:
        return f"the body is not an XML document: {reason}"
    return f"malformed XML: {reason}"


def parse(body: bytes, kind: str, *, charset: str | None = None,
          max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Steps 1-8 of the module docstring: the validated root element of a ``kind`` document.

    ``kind`` is one of ``documents.KINDS``. Raises only :class:`~.documents.DocumentError`
    (and ``TypeError`` if ``body`` is not bytes).
    """
    body = checked_body(body, max_bytes)
    data = _to_utf8(body, charset)
    try:
        root = etree.fromstring(data, PARSER)
    except (etree.LxmlError, ValueError) as exc:
        raise BadDocument(_syntax_message(exc), reason="malformed") from None
    validate(root, kind, XML_NAMES, before_explaining=_check_depth)
    return root


def _check_depth(root: etree._Element) -> None:
    # Every valid v1 document is at most 3 levels deep, so only a document that fails
    # validation can be too deep: checking here keeps the XPath off the hot path while a
    # too-deep document still gets this message rather than a schema message.
    if _TOO_DEEP(root):
        raise BadDocument(f"the document is nested too deeply (more than {MAX_DEPTH} levels)", reason="too_deep")


# -- validated element -> neutral form (shared with json_codec) -----------------------------

def record(element: etree._Element) -> dict[str, str]:
    """The neutral dict of a validated ``<task>`` (or ``<user>``) element."""
    out = {}
    for child in element:
        text = child.text
        out[child.tag] = text.strip(_WS) if text else ""
    due = out.get("dueDate")
    if due is not None and len(due) == 10:          # a plain date; the XSD checked the form
        out["dueDate"] = due + "T00:00:00Z"
    return out


def records(element: etree._Element, names: Namer = XML_NAMES) -> list[dict[str, str]]:
    """The neutral list of a validated ``<tasks>`` or ``<users>`` element (``size`` checked)."""
    items = [record(child) for child in element]
    size = element.get("size")
    if size is not None and int(size) != len(items):
        raise BadDocument(f"{names.attr(element.tag, 'size')} says {size} but there are {len(items)} entries")
    return items


def texts(element: etree._Element) -> list[str]:
    """The stripped texts of a validated element's children (category names, a message)."""
    return [(child.text or "").strip(_WS) for child in element]


# -- decoding --------------------------------------------------------------------------------

def decode_task(body: bytes, *, charset: str | None = None,
                max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, str]:
    """A v1 ``<task>`` request body -> neutral task dict. Raises DocumentError (400/413/415)."""
    return record(parse(body, "task", charset=charset, max_bytes=max_bytes))


def decode_tasks(body: bytes, *, charset: str | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> list[dict[str, str]]:
    """A ``<tasks size="N">`` document -> list of neutral task dicts."""
    return records(parse(body, "tasks", charset=charset, max_bytes=max_bytes))


def decode_users(body: bytes, *, charset: str | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> list[dict[str, str]]:
    """A ``<users>`` document -> list of neutral user dicts."""
    return records(parse(body, "users", charset=charset, max_bytes=max_bytes))


def decode_categories(body: bytes, *, charset: str | None = None,
                      max_bytes: int = DEFAULT_MAX_BYTES) -> list[str]:
    """A ``<taskCategories>`` document -> list of category names."""
    return texts(parse(body, "taskCategories", charset=charset, max_bytes=max_bytes))


def decode_error(body: bytes, *, charset: str | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """An ``<error>`` document -> its message."""
    return texts(parse(body, "error", charset=charset, max_bytes=max_bytes))[0]


# -- encoding --------------------------------------------------------------------------------
#
# Responses are written as text, not through lxml elements: building ~1,200 lxml elements
# for a 100-task list took ~3 ms here, the string version a fraction of that. The escaping
# is exactly lxml's for text content (& < > and CR as &#13;, everything else as UTF-8);
# tests/v1 check byte-for-byte equality with an lxml-built reference and validate every
# output against the XSDs.

_TASK_KEYS = frozenset(TASK_FIELDS)
_USER_KEYS = frozenset(USER_FIELDS)
def _record_xml(tag: str, record: Mapping[str, object], allowed: frozenset[str]) -> str:
    keys: list[str] = []
    values: list[str] = []
    for key, value in record.items():
        if key not in allowed:
            raise ValueError(f"{key!r} is not a child of <{tag}> in v1")
        if type(value) is not str:
            value = as_text(key, value)
        if value:
            keys.append(key)
            values.append(value)
    if NEEDS_ESCAPE.search("".join(values)) is not None:
        values = [escape_text(v) for v in values]
    inner = "".join([f"<{k}>{v}</{k}>" for k, v in zip(keys, values) if v])
    return f"<{tag}>{inner}</{tag}>" if inner else f"<{tag}/>"


def _document(root: str, inner: str, attributes: str = "") -> bytes:
    body = f"<{root}{attributes}>{inner}</{root}>" if inner else f"<{root}{attributes}/>"
    return XML_DECLARATION + body.encode("utf-8")


def encode_task(task: Mapping[str, object]) -> bytes:
    """Neutral task dict -> ``<task>`` document bytes."""
    return XML_DECLARATION + _record_xml("task", task, _TASK_KEYS).encode("utf-8")


def encode_tasks(tasks: Iterable[Mapping[str, object]]) -> bytes:
    """List of neutral task dicts -> ``<tasks size="N">`` document bytes."""
    parts = [_record_xml("task", task, _TASK_KEYS) for task in tasks]
    return _document("tasks", "".join(parts), f' size="{len(parts)}"')


def encode_users(users: Iterable[Mapping[str, object]]) -> bytes:
    """List of neutral user dicts (keys from USER_FIELDS) -> ``<users>`` document bytes."""
    return _document("users", "".join([_record_xml("user", user, _USER_KEYS) for user in users]))


def encode_categories(names: Iterable[str]) -> bytes:
    """Category names -> ``<taskCategories>`` document bytes (empty names are left out)."""
    parts = []
    for name in names:
        text = escape_text(as_text("taskCategory", name) or "")
        if text:
            parts.append(f"<taskCategory>{text}</taskCategory>")
    return _document("taskCategories", "".join(parts))


def encode_error(message: str) -> bytes:
    """An error message -> ``<error><message>...</message></error>`` document bytes.
    (An empty message is written as "error": ``<message>`` is never left empty.)"""
    text = escape_text(as_text("message", message) or "") or "error"
    return _document("error", f"<message>{text}</message>")
