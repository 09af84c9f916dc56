"""The v1 document layer's front door: pick XML or JSON from the HTTP headers (decision P2),
then decode or encode with ``xml_codec`` / ``json_codec``. Pure functions: no I/O, no network.

Formats (v1 rules: "requests are treated as XML unless overridden")

* Request bodies (:func:`request_format`, from ``Content-Type``):
  ``application/json``, ``text/json`` and ``*/*+json`` -> JSON (charset must be UTF-8, or
  absent). ``application/xml``, ``text/xml``, ``*/*+xml``, and also a missing/empty header,
  ``text/plain``, ``application/octet-stream``, ``application/x-www-form-urlencoded`` and
  ``*/*`` (what curl ``-d`` and many HTTP libraries send by default) -> XML, with the
  header's ``charset`` handed to the XML decoder. Anything else (``multipart/form-data``,
  ``text/html``, ...) -> 415.
* Responses (:func:`response_format`, from ``Accept``): JSON when the client accepts
  ``application/json`` (or ``text/json``, ``*/*+json``) with a higher preference than any
  XML type; XML otherwise, including for ``*/*``, no header, or only unsupported types
  (v1 answered XML by default; it never answered 406).

Errors: every decode function raises only :class:`~.documents.DocumentError` for bad input,
with ``.status`` = 400 (bad document), 413 (body over ``max_bytes``) or 415 (content type or
character encoding not supported) and ``.message``; answer it with
``encode_error(exc.message, fmt)`` and ``exc.status``. Encoders raise ``ValueError`` /
``TypeError`` only for programming errors (a key that is not a v1 element, a value that is
not str/int/None).

Thread safety: compiled schemas keep their error log on the object, so decode from one
thread at a time (the event loop). The parser and the schemas are created once at import.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from . import json_codec, xml_codec
from .documents import DEFAULT_MAX_BYTES, UnsupportedMediaType

__all__ = [
    "XML", "JSON", "CONTENT_TYPES", "request_format", "response_format", "content_type",
    "decode", "decode_list", "encode", "encode_list", "encode_error",
]

XML = "xml"
JSON = "json"
#: Content-Type header value for responses in each format.
CONTENT_TYPES = {XML: "application/xml; charset=utf-8", JSON: "application/json; charset=utf-8"}

_JSON_TYPES = frozenset({"application/json", "text/json"})
_XML_TYPES = frozenset({"application/xml", "text/xml"})
# Types sent by default by curl -d and many HTTP libraries: v1 read them as XML.
_DEFAULT_TYPES = frozenset({"", "*/*", "text/plain", "application/octet-stream",
                            "application/x-www-form-urlencoded"})
_UTF8_LABELS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


def _media_type(value: str) -> tuple[str, dict[str, str]]:
    mime, *params = value.split(";")
    parsed = {}
    for param in params:
        key, _, val = param.partition("=")
        parsed[key.strip().lower()] = val.strip().strip('"')
    return mime.strip().lower(), parsed


def _is_json(mime: str) -> bool:
    return mime in _JSON_TYPES or mime.endswith("+json")


def _is_xml(mime: str) -> bool:
    return mime in _XML_TYPES or mime.endswith("+xml")


def request_format(content_type: str | None) -> tuple[str, str | None]:
    """``(XML or JSON, charset or None)`` for a request body with this ``Content-Type``.

    Raises :class:`~.documents.UnsupportedMediaType` (415) for other types, and for JSON
    declared in a charset other than UTF-8.
    """
    mime, params = _media_type(content_type or "")
    charset = params.get("charset") or None
    if _is_json(mime):
        if charset is not None and charset.lower() not in _UTF8_LABELS:
            raise UnsupportedMediaType(f"JSON bodies must be UTF-8, not {charset!r}")
        return JSON, charset
    if _is_xml(mime) or mime in _DEFAULT_TYPES:
        return XML, charset
    raise UnsupportedMediaType(
        f"unsupported content type {mime!r}: send application/xml (v1's default) or application/json")


@functools.lru_cache(maxsize=256)  # clients send the same few Accept headers over and over
def response_format(accept: str | None) -> str:
    """XML or JSON for a response, from the request's ``Accept`` header (see module doc)."""
    if not accept:
        return XML
    best_json = best_xml = 0.0
    for item in accept.split(","):
        mime, params = _media_type(item)
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 0.0
        if _is_json(mime):
            best_json = max(best_json, q)
        elif _is_xml(mime):
            best_xml = max(best_xml, q)
    return JSON if best_json > 0 and best_json > best_xml else XML


def content_type(fmt: str) -> str:
    """The Content-Type header value for a response in ``fmt``."""
    return CONTENT_TYPES[fmt]


def decode(body: bytes, content_type: str | None, kinds: tuple[str, ...], *,
           max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, dict[str, Any]]:
    """A v1 request body (XML or JSON, by ``Content-Type``) whose root is one of ``kinds``
    -> (root name, neutral record). Raises :class:`~.documents.DocumentError` (400, 413, 415)
    and nothing else for any body."""
    fmt, charset = request_format(content_type)
    if fmt == JSON:
        return json_codec.decode(body, kinds, max_bytes=max_bytes)
    return xml_codec.decode(body, kinds, charset=charset, max_bytes=max_bytes)


def decode_list(body: bytes, content_type: str | None, kinds: tuple[str, ...], *,
                max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, list[tuple[str, Any]]]:
    """A v1 list document -> (root name, (element name, record or text) items)."""
    fmt, charset = request_format(content_type)
    if fmt == JSON:
        return json_codec.decode_list(body, kinds, max_bytes=max_bytes)
    return xml_codec.decode_list(body, kinds, charset=charset, max_bytes=max_bytes)


def encode(root: str, record: Mapping[str, Any], fmt: str = XML, *, always_list: bool = False) -> bytes:
    """A neutral record -> the ``<root>`` document, or ``{"root": {...}}``."""
    if fmt == JSON:
        return json_codec.encode(root, record, always_list=always_list)
    return xml_codec.encode(root, record)


def encode_list(root: str, items: Iterable[tuple[str, Any]], fmt: str = XML, *,
                always_list: bool = False, item: str | None = None) -> bytes:
    """(element name, record or text) items -> ``<root size="N">`` or ``{"root": {"@size": ...}}``."""
    if fmt == JSON:
        return json_codec.encode_list(root, items, always_list=always_list, item=item)
    return xml_codec.encode_list(root, items)


def encode_error(message: str, fmt: str = XML) -> bytes:
    """An error message -> ``<error><message>…</message></error>`` or ``{"message": "…"}``."""
    return json_codec.encode_error(message) if fmt == JSON else xml_codec.encode_error(message)
